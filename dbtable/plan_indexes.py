"""Plan the table's indexes from the catalog to ``spec.indexes`` (pure; called by plan.py).

For each index of the spec, by name:
- the operator's own, valid, same definition: nothing to do;
- absent, but an index of the operator's with the same definition exists under a name the spec
  no longer wants (a column or the table was renamed, so the generated name changed; or the
  user named it now): renamed, not rebuilt;
- absent: built concurrently; a user-named one under a temporary ``dbt_ix_build_`` name, marked,
  then renamed, so no crash leaves an unmarked index under the user's name;
- INVALID (a failed build): dropped concurrently, then built again;
- valid with another definition: the new one is built under the temporary name while the old
  keeps serving, then the old is dropped and the new takes the name (a generated name changes
  with the definition, so there the new one is simply built before the old is dropped);
- held by an index the operator did not make, or by another relation: refused (Conflict),
  nothing touched.
Indexes of the operator's that the spec no longer has are dropped concurrently; anyone else's
are reported in the status and never touched. A unique index is refused while values repeat.
"""
from __future__ import annotations

from collections.abc import Mapping

from dbtable.index_model import (BUILD_INFIX, INDEX_MARKER, INDEX_PREFIX, ActualIndex,
                                 DesiredIndex, build_name)
from dbtable.index_operations import (BuildReplacement, CreateIndex, CreateIndexWithTable,
                                      DropFailedIndex, DropIndex, MarkIndex, PlaceIndex,
                                      RenameIndex)
from dbtable.model import ActualTable, DesiredTable
from dbtable.operations import Facts, Operation, Refusal, RefusalReason


def plan_new_table_indexes(desired: DesiredTable, facts: Facts
                           ) -> tuple[list[Operation], list[Refusal]]:
    """The indexes of a table created in this transaction: plain CREATE INDEX (the table is
    empty and seen by no one), each user-named one marked in the same transaction."""
    taken = dict(facts.index_names_taken)
    ops: list[Operation] = []
    refusals = [_taken(w, taken[w.name]) for w in desired.indexes if w.name in taken]
    for w in desired.indexes:
        ops.append(CreateIndexWithTable(desired.name, w.name, w.columns, w.method, w.unique))
        if w.named:
            ops.append(MarkIndex(desired.name, w.name))
    return ops, refusals


def plan_indexes(table: str, desired: DesiredTable, actual: ActualTable,
                 renamed: Mapping[str, str], facts: Facts
                 ) -> tuple[list[Operation], list[Operation], list[Refusal]]:
    """(in the first transaction, after it one statement at a time, refusals)."""
    ours = {i.name: i for i in actual.indexes if i.managed}
    others = {i.name: i for i in actual.indexes if not i.managed}
    taken = dict(facts.index_names_taken)
    renames = dict(renamed)
    wanted = {w.name for w in desired.indexes}
    builds = {build_name(table, w.name) for w in desired.indexes if w.named}
    claimed: set[str] = set()
    now: list[Operation] = []
    later: list[Operation] = []
    refusals: list[Refusal] = []
    for w in desired.indexes:
        if w.name in others:
            refusals.append(_hand_made(w, actual.schema))
            continue
        if w.name in taken:
            refusals.append(_taken(w, taken[w.name]))
            continue
        current = ours.get(w.name)
        if current is None:
            spare = next((i for i in ours.values() if i.valid and i.name not in wanted
                          and i.name not in builds and i.name not in claimed
                          and i.same_definition(w, renames)), None)
            if spare is not None:
                claimed.add(spare.name)
                if w.named and not spare.marked:
                    now.append(MarkIndex(table, spare.name))
                now.append(RenameIndex(table, spare.name, w.name))
                continue
        elif current.valid and current.same_definition(w, renames):
            continue
        repeats = facts.index_duplicates_in(w.name)
        if w.unique and repeats:
            refusals.append(Refusal(
                RefusalReason.DUPLICATES_PRESENT, w.field,
                f"unique index {w.name} {w.describe()} cannot be built on table {table}: "
                f"{repeats} row(s) repeat a value of those columns; make them differ, or "
                "drop unique"))
            continue
        if current is not None and not current.valid:
            later.append(DropFailedIndex(table, current.name))
            current = None
        if w.named:
            later += _build_named(table, w, current, ours.get(build_name(table, w.name)),
                                  renames)
        else:
            if current is not None:  # someone changed ours behind its generated name
                later.append(DropIndex(table, current.name))
            later.append(CreateIndex(table, w.name, w.columns, w.method, w.unique))
    for index in sorted(ours.values(), key=lambda i: i.name):
        if index.name in wanted or index.name in builds or index.name in claimed:
            continue
        failed = not index.valid or index.name.startswith(INDEX_PREFIX + BUILD_INFIX)
        later.append((DropFailedIndex if failed else DropIndex)(table, index.name))
    return now, later, refusals


def _build_named(table: str, w: DesiredIndex, current: ActualIndex | None,
                 build: ActualIndex | None, renames: dict[str, str]) -> list[Operation]:
    """Build under the temporary name (or resume a build), mark it, drop what holds the
    name, and rename: each step found again in the catalog after a crash."""
    steps: list[Operation] = []
    temp = build_name(table, w.name)
    if build is not None and not (build.valid and build.same_definition(w, renames)):
        steps.append(DropFailedIndex(table, temp))
        build = None
    if build is None:
        kind = BuildReplacement if current is not None else CreateIndex
        extra = {"replaces": current.name} if current is not None else {}
        steps.append(kind(table, temp, w.columns, w.method, w.unique, **extra))
    if build is None or not build.marked:
        steps.append(MarkIndex(table, temp))
    if current is not None:
        steps.append(DropIndex(table, current.name))
    steps.append(PlaceIndex(table, temp, w.name))
    return steps


def index_counts(desired: DesiredTable, actual: ActualTable,
                 renamed: Mapping[str, str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The unique indexes that may have to be built, with their columns as the catalog names
    them now: the rows they would refuse are counted before the build. None whose column is
    still to be added (all NULL: nothing repeats)."""
    back = {new: old for old, new in renamed.items()}
    existing = {c.name for c in actual.columns}
    ours = {i.name: i for i in actual.indexes if i.managed}
    counts = []
    for w in desired.indexes:
        current = ours.get(w.name)
        if not w.unique or (current is not None and current.valid
                            and current.same_definition(w, dict(renamed))):
            continue
        columns = tuple(back.get(c, c) for c in w.columns)
        if all(c in existing for c in columns):
            counts.append((w.name, columns))
    return tuple(counts)


def _taken(w: DesiredIndex, holder: str) -> Refusal:
    return Refusal(RefusalReason.CONFLICT, f"{w.field}.name",
                   f"the name {w.name} is taken by {holder} (index names share the schema "
                   "with tables); choose another name")


def _hand_made(w: DesiredIndex, schema: str) -> Refusal:
    quoted = ".".join('"' + p.replace('"', '""') + '"' for p in (schema, w.name))
    return Refusal(RefusalReason.CONFLICT, f"{w.field}.name",
                   f"the table already has an index {w.name} that the operator did not make; "
                   "it is never taken over unasked (the operator would drop it once the spec "
                   "no longer lists it). Choose another name, drop or rename it by hand, or "
                   f"hand it over with: COMMENT ON INDEX {quoted} IS '{INDEX_MARKER}'; (an "
                   "index with another definition is then rebuilt)")
