"""The drift sweep (an edge: it reads the catalog and patches resources).

One asyncio task for the whole operator, instead of a timer per resource. Every
``DBT_DRIFT_INTERVAL_S`` (with jitter) it takes the resources from the operator's index, reads
all managed tables in one bulk read, and compares purely (``dbtable.drift``). It changes
nothing itself: a resource found out of step gets the annotation ``DRIFT_ANNOTATION``, whose
change runs the ``drift`` handler in that resource's own Kopf worker, serialized with its
reconcile and cleanup handlers, on the latest body. When nothing drifted it writes nothing.

Every ``DBT_CONFLICT_RECHECK_S`` it also re-checks, more cheaply, only the resources refused as
a Conflict: when the name they want frees up they converge within seconds, not one interval.
"""
from __future__ import annotations

import asyncio
import datetime
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf
import psycopg2
from kopf._cogs.clients import patching  # Kopf has no public API client; pinned 1.45

from dbtable.catalog import read_blocker, read_managed_tables, read_owned_table, read_table
from dbtable.database import DatabaseSettings
from dbtable.drift import (CatalogSnapshot, Finding, Subject, Waits, find_swaps, judge_all,
                           parse_subject)
from dbtable.errors import InvalidSpec
from dbtable.failures import first_line
from dbtable.model import DesiredTable, Owner
from dbtable.plan import Plan, parking_name, plan_park
from dbtable.reconcile import execute_locked
from dbtable.resolve import resolve_tables

# Changing this annotation is what hands a resource to its drift handler.
DRIFT_ANNOTATION = "drift.kopf.demo/checked"
RESOURCE = kopf.Resource(group="kopf.demo", version="v1", plural="databasetables",
                         kind="DatabaseTable", namespaced=True)
# The annotation's value starts with this when the resource should step aside in a swap.
PARK = "park"
# A sweep compares this many resources at a time (see check).
CHUNK = 1000
# Handlers whose unfinished record means the resource is not settled.
WATCHED_HANDLERS = ("reconcile",)


@dataclass(frozen=True)
class SweepSettings:
    interval: float = 300.0  # a full sweep every this many seconds (± jitter)
    conflict_recheck: float = 5.0  # resources in Conflict are re-checked this often
    jitter: float = 0.1  # each wait is interval × (1 ± jitter); the first is 0.5 to 1 interval

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "SweepSettings":
        return cls(interval=float(env.get("DBT_DRIFT_INTERVAL_S", "300")),
                   conflict_recheck=float(env.get("DBT_CONFLICT_RECHECK_S", "5")))


@dataclass
class SpecCache:
    """Parsed specs by (uid, generation), for the resources re-checked every few seconds
    (those in Conflict): each such spec is parsed once per generation, not once per re-check.

    A full sweep parses every spec it compares, and afterwards keeps only the entries of
    resources in Conflict: a parsed spec is about ten times the size of its compact JSON, and
    keeping one per resource between sweeps (every 300 s) cost about 23 MB at 10,000."""

    parsed: dict[str, tuple[int | None, Any]] = field(default_factory=dict)

    def __call__(self, subject: Subject) -> DesiredTable:
        hit = self.parsed.get(subject.uid)
        if hit is not None and hit[0] == subject.generation:
            if isinstance(hit[1], Exception):
                raise hit[1]
            return hit[1]
        try:
            value: Any = parse_subject(subject)
        except Exception as e:
            self.parsed[subject.uid] = (subject.generation, e)
            raise
        self.parsed[subject.uid] = (subject.generation, value)
        return value

    def forget_except(self, uids: set[str]) -> None:
        for uid in set(self.parsed) - uids:
            del self.parsed[uid]


def reconcile_pending(body: kopf.Body, memo: kopf.Memo) -> bool:
    """Whether Kopf holds an unfinished record of the reconcile handler (running, retrying)."""
    storage = memo.get("progress_storage") if hasattr(memo, "get") else None
    if storage is None:
        return True  # unknown: do not judge
    for handler in WATCHED_HANDLERS:
        record = storage.fetch(key=handler, body=body)
        if record is not None and not (record.get("success") or record.get("failure")):
            return True
    return False


def check(pool: Any, schema: str, subjects: list[Subject], cache: SpecCache,
          chunk: int = CHUNK) -> list[Finding]:
    """Read the catalog and compare, ``chunk`` resources at a time (runs in a worker thread,
    not on the event loop): what a sweep holds at once (parsed specs, their tables) is
    bounded by the chunk, not by the number of resources (at 10,000, about 65 MB at once
    left the operator's heap that much larger after every sweep). One snapshot for all
    chunks (REPEATABLE READ), so a swap of names is seen the same from both sides."""
    findings: list[Finding] = []
    waits: Waits = {}
    with pool.connection() as conn:
        with conn, conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            for start in range(0, len(subjects), chunk):
                found, waiting = _check_chunk(cur, schema, subjects[start:start + chunk], cache)
                findings += found
                waits.update(waiting)
    return findings + find_swaps(waits)


def _check_chunk(cur: Any, schema: str, subjects: list[Subject],
                 cache: SpecCache) -> tuple[list[Finding], Waits]:
    """Each resource against its own tables (by its marker) and the holder of the name it
    wants: all a judgement reads (dbtable/drift.py)."""
    desired = _parsed(subjects, cache)
    names = {table.name for table in desired.values()}
    owners = {(s.namespace, s.name) for s in subjects}
    tables, blockers = read_managed_tables(cur, schema, names, owners)
    resolved = resolve_all(cur, desired)
    return judge_all(subjects, CatalogSnapshot(tables, blockers),
                     lambda subject: _resolved(resolved, subject))


def _resolved(resolved: Mapping[str, DesiredTable], subject: Subject) -> DesiredTable:
    if subject.uid not in resolved:
        raise InvalidSpec([])  # not parseable: judge_all skips it
    return resolved[subject.uid]


def resolve_all(cur: Any, desired: Mapping[str, DesiredTable]) -> dict[str, DesiredTable]:
    """Every spec's column types as the server resolves them, like a reconcile does: one
    lookup for all distinct types (dbtable/resolve.py), bounded by the types, not the tables."""
    uids = list(desired)
    return dict(zip(uids, resolve_tables(cur, [desired[uid] for uid in uids])))


def park_table(conn: Any, settings: DatabaseSettings, desired: DesiredTable,
               owner: Owner) -> Plan:
    """Step aside in a swap of names (plan.plan_park), under this resource's lock and the
    lock of the name it moves to; the catalog is read again under those locks."""
    parking = parking_name(desired.name, owner)
    chosen: list[Plan] = []

    def decide(cur: Any) -> Any:
        owned = read_owned_table(cur, settings.schema, owner)
        taken = read_table(cur, settings.schema, parking) is not None \
            or read_blocker(cur, settings.schema, parking) is not None
        plan = plan_park(desired, owner, owned, read_table(cur, settings.schema, desired.name),
                         taken)
        chosen.append(plan)
        return plan.operations[0] if plan.operations else None

    execute_locked(conn, settings, owner, parking, decide)
    return chosen[0]


def _parsed(subjects: Iterable[Subject], cache: SpecCache) -> dict[str, DesiredTable]:
    """The settled subjects' specs, parsed; only those in Conflict through the cache, so a
    full sweep holds no more than a chunk's parsed specs at once."""
    parsed: dict[str, DesiredTable] = {}
    for subject in subjects:
        if subject.settled():
            try:
                parsed[subject.uid] = cache(subject) if subject.in_conflict() \
                    else parse_subject(subject)
            except InvalidSpec:
                pass
    return parsed


async def request_check(finding: Finding, settings: kopf.OperatorSettings,
                        logger: logging.Logger) -> None:
    """Hand the resource to its drift handler by changing the annotation it watches.

    The uid in the patch makes the API server refuse it for a re-created namesake.
    """
    subject = finding.subject
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    logger.info("Drift sweep: %s/%s needs a check: %s", subject.namespace, subject.name,
                finding.why)
    value = f"{PARK} {stamp}" if finding.park else stamp
    patch = kopf.Patch({"metadata": {"uid": subject.uid,
                                     "annotations": {DRIFT_ANNOTATION: value}}})
    try:
        await patching.patch_obj(settings=settings, resource=RESOURCE,
                                 namespace=subject.namespace, name=subject.name, patch=patch,
                                 logger=logger)
    except Exception as e:  # gone, re-created, API unavailable: the next sweep looks again
        logger.warning("Drift sweep could not hand %s/%s to its handler: %s",
                       subject.namespace, subject.name, e)


async def sweep_forever(index: kopf.Index[None, Subject], memo: kopf.Memo,
                        settings: kopf.OperatorSettings, logger: logging.Logger,
                        config: SweepSettings | None = None) -> None:
    """Full sweeps every interval (jittered), Conflict re-checks in between; never raises."""
    config = config or SweepSettings.from_env()
    cache = SpecCache()
    loop = asyncio.get_running_loop()
    next_full = loop.time() + config.interval * random.uniform(0.5, 1.0)
    while True:
        await asyncio.sleep(max(0.0, min(config.conflict_recheck, next_full - loop.time())))
        full = loop.time() >= next_full
        if full:
            next_full = loop.time() + config.interval * random.uniform(1 - config.jitter,
                                                                        1 + config.jitter)
        await sweep_once(index, memo, settings, logger, cache, only_conflicts=not full)


async def sweep_once(index: kopf.Index[None, Subject], memo: kopf.Memo,
                     settings: kopf.OperatorSettings, logger: logging.Logger, cache: SpecCache,
                     only_conflicts: bool) -> list[Finding]:
    subjects = [s for key in list(index) for s in index.get(key, ())]
    subjects = [s for s in subjects if s.settled() and (s.in_conflict() or not only_conflicts)]
    try:
        return await _compare(subjects, memo, settings, logger, cache, only_conflicts)
    finally:
        if not only_conflicts:  # between full sweeps, only the Conflict re-checks reuse these
            cache.forget_except({s.uid for s in subjects if s.in_conflict()})


async def _compare(subjects: list[Subject], memo: kopf.Memo, settings: kopf.OperatorSettings,
                   logger: logging.Logger, cache: SpecCache,
                   only_conflicts: bool) -> list[Finding]:
    if not subjects:
        return []
    started = time.perf_counter()
    try:
        findings = await asyncio.get_running_loop().run_in_executor(
            settings.execution.executor, check, memo.pool, memo.database.schema, subjects,
            cache)
    except Exception as e:  # the database is down, say: the next sweep looks again
        # A database error is expected now and then; anything else is a bug: show where.
        logger.warning("Drift sweep could not read the catalog: %s", first_line(e),
                       exc_info=not isinstance(e, psycopg2.Error))
        return []
    if not only_conflicts:  # one line per interval: what the sweep cost and found
        logger.info("Drift sweep: %d resources compared in %.3f s, %d to check.",
                    len(subjects), time.perf_counter() - started, len(findings))
    for finding in findings:
        await request_check(finding, settings, logger)
    return findings
