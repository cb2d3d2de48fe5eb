"""Plan the operator's own unique constraints (``columnOptions.<c>.unique``; pure, called by
dbtable/plan.py).

Which constraint (or index on its way to one) is the operator's, and of which column, is read
from its name: every name the operator derives for a column of this table, now or before a
rename, or under the naming of earlier versions (dbtable/unique_operations.py). Anything else
is someone else's: reported in the status, never renamed or dropped. For each column the spec
wants unique:
- a constraint under the wanted name: nothing to do; under another of the operator's names:
  ``RENAME CONSTRAINT`` (its index follows), nothing rebuilt;
- a valid index without its constraint (a run stopped in between): attached, taking the name;
- else built concurrently, then attached; an INVALID index (a failed build) is dropped first;
- the wanted name held by anything else in the schema: refused (Conflict), nothing touched.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dbtable.model import ActualTable, DesiredTable
from dbtable.operations import Facts, Operation, Refusal, RefusalReason
from dbtable.unique_operations import (UNIQUE_PREFIX, AddUniqueWithTable,
                                       AttachUniqueConstraint, CreateUniqueIndex,
                                       DropUniqueConstraint, DropUniqueIndex,
                                       RenameUniqueConstraint, legacy_unique_name, unique_name)


@dataclass(frozen=True)
class Found:
    """The operator's own constraint and index-without-constraint of one column, if any."""

    constraints: tuple[str, ...] = ()
    index: tuple[str, bool] | None = None  # (name, valid)


def wanted_names(desired: DesiredTable) -> tuple[str, ...]:
    """The names the spec's unique columns get on the table it names (to see who holds them)."""
    return tuple(unique_name(desired.name, c.name) for c in desired.columns if c.options.unique)


def new_table_uniques(desired: DesiredTable, facts: Facts
                      ) -> tuple[list[Operation], list[Refusal]]:
    """The constraints of a table created in this transaction: added there, empty as it is."""
    ops: list[Operation] = []
    refusals: list[Refusal] = []
    for column in (c for c in desired.columns if c.options.unique):
        name = unique_name(desired.name, column.name)
        refusal = _taken(facts, name, column.name)
        if refusal is not None:
            refusals.append(refusal)
        ops.append(AddUniqueWithTable(desired.name, column.name, name))
    return ops, refusals


def found_uniques(actual: ActualTable, renamed: dict[str, str], table: str
                  ) -> dict[str, Found]:
    """The operator's own unique constraints and indexes, by the spec's column name;
    ``table`` is the table's name after the plan's rename."""
    owners = _owners(actual, renamed, table)
    indexes = dict(actual.unique_indexes)
    constraints = {name for name, _ in actual.uniques}
    found: dict[str, Found] = {}
    for name in sorted(constraints):
        column = owners.get(name)
        if column is not None:
            here = found.get(column, Found())
            found[column] = Found(here.constraints + (name,), here.index)
    for name in sorted(set(indexes) - constraints):
        column = owners.get(name)
        if column is not None and found.get(column, Found()).index is None:
            here = found.get(column, Found())
            found[column] = Found(here.constraints, (name, indexes[name]))
    return found


def unique_repeats(desired: DesiredTable, actual: ActualTable, renamed: dict[str, str]
                   ) -> tuple[str, ...]:
    """The wanted unique columns (by the catalog's name) whose values must be counted for
    repeats: those with neither a constraint nor a valid index of the operator's."""
    found = found_uniques(actual, renamed, desired.name)
    back = {new: old for old, new in renamed.items()}
    existing = {c.name for c in actual.columns}
    return tuple(back.get(c.name, c.name) for c in desired.columns
                 if c.options.unique and back.get(c.name, c.name) in existing
                 and not found.get(c.name, Found()).constraints
                 and not (found.get(c.name, Found()).index or ("", False))[1])


def plan_uniques(table: str, desired: DesiredTable, actual: ActualTable,
                 renamed: dict[str, str], facts: Facts
                 ) -> tuple[list[Operation], list[Operation], list[Refusal]]:
    """(in the first transaction, after it, refusals). ``table`` is the table's name after
    the plan's rename; ``renamed`` the plan's column renames (old -> new)."""
    found = found_uniques(actual, renamed, table)
    declared = {c.name for c in desired.columns}
    now: list[Operation] = []
    later: list[Operation] = []
    refusals: list[Refusal] = []
    for column in (c.name for c in desired.columns if c.options.unique):
        name = unique_name(table, column)
        have = found.pop(column, Found())
        if name in have.constraints:
            now.extend(DropUniqueConstraint(table, column, extra)
                       for extra in have.constraints if extra != name)
            continue
        refusal = _taken(facts, name, column)
        if refusal is not None:
            refusals.append(refusal)
            continue
        if have.constraints:
            now.append(RenameUniqueConstraint(table, column, have.constraints[0], name))
            now.extend(DropUniqueConstraint(table, column, extra)
                       for extra in have.constraints[1:])
            if have.index is not None:
                later.append(DropUniqueIndex(table, column, have.index[0]))
            continue
        if have.index is not None and have.index[1]:  # built, not attached: a run stopped
            index = have.index[0] if have.index[0] != name else ""
            now.append(AttachUniqueConstraint(table, column, name, index=index))
            continue
        repeats = facts.duplicates_in(column)
        if repeats:
            refusals.append(Refusal(
                RefusalReason.DUPLICATES_PRESENT, f"spec.columnOptions.{column}.unique",
                f"column {column} of table {table} repeats values in {repeats} row(s); "
                "it cannot be made unique until they differ"))
            continue
        if have.index is not None:  # INVALID: a concurrent build failed
            later.append(DropUniqueIndex(table, column, have.index[0]))
        later += [CreateUniqueIndex(table, column, name),
                  AttachUniqueConstraint(table, column, name)]
    # Not wanted any more. A column being dropped takes its constraint and index with it.
    for column, have in sorted(found.items()):
        if column in declared:
            now.extend(DropUniqueConstraint(table, column, n) for n in have.constraints)
            if have.index is not None:
                later.append(DropUniqueIndex(table, column, have.index[0]))
    return now, later, refusals


def _owners(actual: ActualTable, renamed: dict[str, str], table: str) -> dict[str, str]:
    """Every name the operator may have given a unique constraint of this table -> the
    column (by the spec's name): derived from the table's names (the catalog's, and the
    spec's: a table renamed by hand keeps its constraints' names) and the column's, before and
    after the plan's renames, and the old naming without the table."""
    owners: dict[str, str] = {}
    for column in (c.name for c in actual.columns):
        new = renamed.get(column, column)
        for name in (*_names_of(actual.name, column, new), *_names_of(table, column, new)):
            owners.setdefault(name, new)
    return {n: c for n, c in owners.items() if n.startswith(UNIQUE_PREFIX)}


def _names_of(table: str, column: str, new: str) -> Iterable[str]:
    yield unique_name(table, column)
    yield unique_name(table, new)
    yield legacy_unique_name(column)
    yield legacy_unique_name(new)


def _taken(facts: Facts, name: str, column: str) -> Refusal | None:
    holder = dict(facts.unique_names_taken).get(name)
    if holder is None:
        return None
    return Refusal(RefusalReason.CONFLICT, f"spec.columnOptions.{column}.unique",
                   f"the unique constraint of column {column} is named {name}, and that name "
                   f"is taken by {holder} (index and constraint names share the schema with "
                   "tables); the operator never drops or takes over what it did not make: "
                   "rename or drop it by hand")
