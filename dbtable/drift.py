"""Drift detection for every managed table at once (pure: no database, no Kopf).

The sweep gives this module a snapshot of the resources (from the operator's index, which the
watch keeps current) and one bulk read of the catalog; it returns the resources whose table no
longer agrees with what their status says. Only those are handed to the per-resource handler,
which re-reads the catalog under the resource's lock and repairs or reports. A resource whose
handlers are still working (a spec change not yet handled, a retry pending, a deletion) is not
a subject: the sweep waits behind user changes instead of racing them.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dbtable.compact_spec import decode_spec, encode_spec
from dbtable.errors import InvalidSpec
from dbtable.model import ActualTable, DesiredTable, Owner
from dbtable.plan import Plan, plan_reconcile, plan_repair
from dbtable.spec import parse_spec

# Ready reasons written while Kopf is still retrying the reconcile: not the sweep's business.
# (A retry in progress also shows as Kopf's progress record: ``Subject.pending``.)
RETRYING_REASONS = frozenset({"DatabaseUnavailable", "LockTimeout",
                              # a foreign key waiting for its referenced table or key
                              "ReferencedTableMissing", "ReferencedKeyMissing"})
# A resource refused because its name is taken is re-checked often: the name may free up.
CONFLICT = "Conflict"
DRIFTED = "Drifted"


@dataclass(frozen=True, slots=True)
class ReadyCondition:
    status: str
    reason: str
    message: str  # kept only when the status is not True: the sweep compares refusals only
    generation: int | None


@dataclass(frozen=True, slots=True)
class Subject:
    """What the sweep needs to know about one DatabaseTable, as the watch last saw it.

    The operator holds one per resource for the resource's life, so it is kept small (issue
    10: 10,000 resources): slots, the spec as compact JSON (``spec`` decodes it), strings
    shared where many resources carry the same one (namespace, the condition's status and
    reason), and the Ready message only where the sweep reads it (a refusal)."""

    namespace: str
    name: str
    uid: str
    generation: int | None
    spec_json: bytes  # dbtable.compact_spec.encode_spec of the spec
    deleting: bool = False
    pending: bool = False  # Kopf holds an unfinished handler record (running or retrying)
    observed_generation: int | None = None
    ready: ReadyCondition | None = None

    @classmethod
    def of(cls, namespace: str, name: str, uid: str, generation: int | None,
           spec: Mapping[str, Any], **rest: Any) -> "Subject":
        """A subject made from a spec as a mapping."""
        return cls(namespace, name, uid, generation, encode_spec(spec), **rest)

    @property
    def spec(self) -> dict[str, Any]:
        """The spec, decoded afresh (a copy: changing it changes nothing kept)."""
        return decode_spec(self.spec_json)

    @property
    def owner(self) -> Owner:
        return Owner(self.namespace, self.name, self.uid)

    def settled(self, own_retry: bool = False) -> bool:
        """Handled for its current spec, with nothing pending: only then may drift be judged.

        ``own_retry``: the drift handler itself is being retried, so a lock timeout on the
        status is its own (a pending reconcile would show as ``pending``)."""
        return (not self.deleting and not self.pending and self.generation is not None
                and self.observed_generation == self.generation
                and self.ready is not None and self.ready.generation == self.generation
                and (own_retry or self.ready.reason not in RETRYING_REASONS))

    def in_conflict(self) -> bool:
        return self.ready is not None and self.ready.status == "False" \
            and self.ready.reason == CONFLICT

    def retried_in_full(self) -> bool:
        """Its reconcile failed for good (a Conflict, a statement timeout, ...): the sweep
        retries that reconcile, key change included. After Ready or a Drifted report it only
        repairs, and a key someone changed by hand is reported, never replaced."""
        return self.ready is not None and self.ready.status == "False" \
            and self.ready.reason != DRIFTED


def subject_from(body: Mapping[str, Any], pending: bool) -> Subject:
    """The index entry of one resource (``body`` is the object as the watch delivered it)."""
    meta, status = body.get("metadata", {}), body.get("status") or {}
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    return Subject(
        namespace=sys.intern(meta.get("namespace") or ""), name=meta.get("name") or "",
        uid=meta.get("uid") or "", generation=meta.get("generation"),
        spec_json=encode_spec(body.get("spec") or {}),
        deleting=bool(meta.get("deletionTimestamp")), pending=pending,
        observed_generation=status.get("observedGeneration"),
        ready=_ready_condition(ready) if ready else None)


def _ready_condition(ready: Mapping[str, Any]) -> ReadyCondition:
    status = sys.intern(str(ready.get("status")))
    return ReadyCondition(status, sys.intern(str(ready.get("reason"))),
                          str(ready.get("message") or "") if status != "True" else "",
                          ready.get("observedGeneration"))


@dataclass(frozen=True)
class CatalogSnapshot:
    """The managed tables and the tables holding any wanted name, read in one go."""

    tables: tuple[ActualTable, ...]
    blockers: Mapping[str, str] = field(default_factory=dict)  # name -> "an index x", ...


@dataclass(frozen=True)
class Finding:
    """A resource the handler must look at, and why (for the log). ``park``: it is in a swap
    of names with another resource and should step aside (see plan.plan_park)."""

    subject: Subject
    why: str
    park: bool = False


def refusal_message(plan: Plan) -> str:
    """The Ready message of a refused plan; the sweep compares it with the status."""
    return "Refused, nothing was applied: " + "; ".join(map(str, plan.refusals))


def expected_plan(subject: Subject, desired: DesiredTable, catalog: "_Lookup") -> Plan | str:
    """The plan the drift handler would make for ``subject``, or why it cannot be planned."""
    owned = catalog.by_owner.get((subject.namespace, subject.name), [])
    if len(owned) > 1:
        return "ambiguous"
    mine = owned[0] if owned else None
    occupant = blocker = None
    if mine is None or mine.name != desired.name:
        occupant = catalog.by_name.get(desired.name)
        if occupant is None:
            blocker = catalog.blockers.get(desired.name)
    plan = plan_reconcile(desired, subject.owner, mine, occupant, blocker)
    return plan if subject.retried_in_full() else plan_repair(plan)


def judge(subject: Subject, desired: DesiredTable, catalog: "_Lookup") -> str | None:
    """Why the handler must look at this resource, or None when its status is still true."""
    ready = subject.ready
    assert ready is not None  # settled() holds
    plan = expected_plan(subject, desired, catalog)
    if isinstance(plan, str):  # two tables carry its marker: the handler reports the Conflict
        return None if ready.reason == CONFLICT else "two tables carry its ownership marker"
    if plan.operations:
        names = "; ".join(op.describe() for op in plan.operations)
        return f"would apply: {names}"
    if plan.refused:
        message = refusal_message(plan)
        if ready.status == "False" and ready.message == message:
            return None
        return f"refused for a new reason: {message}"
    return None if ready.status == "True" else f"in sync again (was {ready.reason})"


class _Lookup:
    """The catalog snapshot indexed by owner (namespace, name: what a marker names) and by
    table name."""

    def __init__(self, catalog: CatalogSnapshot) -> None:
        self.by_owner: dict[tuple[str, str], list[ActualTable]] = {}
        self.by_name = {t.name: t for t in catalog.tables}
        self.blockers = catalog.blockers
        for table in catalog.tables:
            if table.owner is not None:
                key = (table.owner.namespace, table.owner.name)
                self.by_owner.setdefault(key, []).append(table)


Key = tuple[str, str]  # (namespace, name): what an ownership marker names
# A resource in Conflict waiting for the holder of the name it wants: (it, the holder).
Waits = dict[Key, tuple[Subject, Key]]


def find_drift(subjects: Iterable[Subject], catalog: CatalogSnapshot,
               parse: Callable[[Subject], DesiredTable] | None = None) -> list[Finding]:
    """The settled resources whose status no longer describes their table."""
    findings, waits = judge_all(subjects, catalog, parse)
    return findings + find_swaps(waits)


def judge_all(subjects: Iterable[Subject], catalog: CatalogSnapshot,
              parse: Callable[[Subject], DesiredTable] | None = None
              ) -> tuple[list[Finding], Waits]:
    """``find_drift`` for some of the resources (the catalog read for them): the findings,
    and who waits for whom, for ``find_swaps`` over all of them."""
    parse = parse or parse_subject
    lookup = _Lookup(catalog)
    findings: list[Finding] = []
    waits: Waits = {}
    for subject in subjects:
        if not subject.settled():
            continue
        try:
            desired = parse(subject)
        except InvalidSpec:
            continue  # already reported by the reconcile; nothing to compare against
        why = judge(subject, desired, lookup)
        if why is not None:
            findings.append(Finding(subject, why))
        elif subject.in_conflict():
            holder = _waits_for(subject, desired, lookup)
            if holder is not None:
                waits[(subject.namespace, subject.name)] = (subject, holder)
    return findings, waits


def _waits_for(subject: Subject, desired: DesiredTable, lookup: "_Lookup") -> Key | None:
    """Whose table holds the name this resource (with a table of its own) wants."""
    mine = lookup.by_owner.get((subject.namespace, subject.name), [])
    holder = lookup.by_name.get(desired.name)
    if len(mine) == 1 and mine[0].name != desired.name and holder is not None \
            and holder.owner is not None:
        return (holder.owner.namespace, holder.owner.name)
    return None


def find_swaps(waits: Mapping[Key, tuple[Subject, Key]]) -> list[Finding]:
    """Resources refused as a Conflict that wait on each other in a cycle (A wants B's name,
    B wants A's): nobody's name will ever free up, so one of each cycle steps aside."""
    waits_for = {key: holder for key, (_, holder) in waits.items()}
    parking: list[Finding] = []
    seen: set[Key] = set()
    for start in sorted(waits_for):
        path, key = [], start
        while key in waits_for and key not in path and key not in seen:
            path.append(key)
            key = waits_for[key]
        seen.update(path)
        if key in path:  # a cycle: the first of it (by namespace/name) steps aside
            cycle = path[path.index(key):]
            first = min(cycle)
            others = ", ".join(f"{ns}/{name}" for ns, name in cycle if (ns, name) != first)
            parking.append(Finding(waits[first][0], f"swapping names with {others}",
                                   park=True))
    return parking


def wanted_names(subjects: Iterable[Subject],
                 parse: Callable[[Subject], DesiredTable] | None = None) -> set[str]:
    """The table names the subjects' specs ask for (to read who holds them)."""
    parse = parse or parse_subject
    names: set[str] = set()
    for subject in subjects:
        try:
            names.add(parse(subject).name)
        except InvalidSpec:
            pass
    return names


def parse_subject(subject: Subject) -> DesiredTable:
    return parse_spec(subject.spec)

