"""Plan the table's foreign keys (pure; called by dbtable/plan.py).

From actual to desired, compared by name after this plan's column and table renames:
- a key of the spec that is missing is added NOT VALID (with the marker that makes it ours),
  then validated in a transaction of its own; on a table created in the same transaction it is
  added valid at once (no rows);
- one of ours whose definition changed is dropped and added again under its name in one
  transaction (new rows stay checked), then validated;
- one of ours left NOT VALID by a run that stopped is validated;
- one of ours no longer in the spec is dropped; a key without our marker is never dropped. A
  hand-made key whose name and definition the spec repeats is marked ours; one with the spec's
  name and another definition is refused.
Refused before anything is applied: a referenced table, column or unique key that does not
exist (retried: another resource may create it), orphan rows (with their count), and types
PostgreSQL cannot compare.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from psycopg2.errors import DatatypeMismatch

from dbtable.fk_model import ActualForeignKey, DesiredForeignKey, ReferencedTable
from dbtable.fk_operations import (AddForeignKey, AddValidForeignKey, DropForeignKey,
                                   MarkForeignKey, ValidateForeignKey)
from dbtable.model import ActualTable, DesiredTable
from dbtable.operations import Facts, Operation, Refusal, RefusalReason

Rename = Callable[[str], str]


@dataclass(frozen=True)
class ForeignKeyPlan:
    """Drops of removed keys (first, before columns change), additions and replacements
    (last, after any unique index they reference is built), validations (each its own
    transaction, after the additions committed), and refusals."""

    drops: tuple[Operation, ...] = ()
    adds: tuple[Operation, ...] = ()
    validations: tuple[Operation, ...] = ()
    refusals: tuple[Refusal, ...] = ()


def plan_new_table_keys(desired: DesiredTable, facts: Facts) -> ForeignKeyPlan:
    """The keys of a table created in the same transaction: added valid (it has no rows)."""
    refusals = [r for key in desired.foreign_keys
                for r in _reference_problems(key, desired, None, facts)]
    if refusals:
        return ForeignKeyPlan(refusals=tuple(refusals))
    adds: list[Operation] = []
    for key in desired.foreign_keys:
        adds += [AddValidForeignKey(desired.name, key), MarkForeignKey(desired.name, key.name)]
    return ForeignKeyPlan(adds=tuple(adds))


def plan_foreign_keys(table: str, desired: DesiredTable, actual: ActualTable,
                      new_name: Rename, facts: Facts) -> ForeignKeyPlan:
    """``table`` is the table's name once renamed; ``new_name`` maps its current column
    names to the spec's (previousNames)."""
    found = {fk.name: fk for fk in actual.foreign_keys}
    adds: list[Operation] = []
    validations: list[Operation] = []
    refusals: list[Refusal] = []
    for key in desired.foreign_keys:
        current = found.get(key.name)
        same = current is not None and same_definition(key, current, desired, actual, new_name)
        if current is not None and not current.managed and not same:
            refusals.append(Refusal(
                RefusalReason.CONFLICT, f"{key.field}.name",
                f"table {table} already has a foreign key {key.name} that the operator did "
                f"not create, and it is not {key.describe()}; the operator never changes or "
                "drops it: give this key another name, or drop that one by hand"))
            continue
        if same and current is not None:
            if not current.managed:  # the spec names a hand-made key as it is: ours now
                adds.append(MarkForeignKey(table, key.name))
            if not current.validated:  # left NOT VALID (a run stopped, or made so by hand)
                problem = _orphans(key, table, facts)
                refusals.extend(problem)
                if not problem:
                    validations.append(ValidateForeignKey(table, key.name))
            continue
        problems = _reference_problems(key, desired, actual, facts) or _orphans(key, table,
                                                                               facts)
        if problems:
            refusals.extend(problems)
            continue
        if current is not None:
            adds.append(DropForeignKey(table, key.name, why="its definition changed"))
        adds += [AddForeignKey(table, key), MarkForeignKey(table, key.name)]
        validations.append(ValidateForeignKey(table, key.name))
    wanted = {key.name for key in desired.foreign_keys}
    drops = tuple(DropForeignKey(table, fk.name) for fk in actual.foreign_keys
                  if fk.managed and fk.name not in wanted)
    return ForeignKeyPlan(drops, tuple(adds), tuple(validations), tuple(refusals))


def same_definition(key: DesiredForeignKey, fk: ActualForeignKey, desired: DesiredTable,
                    actual: ActualTable, new_name: Rename) -> bool:
    """Whether ``fk`` already is ``key``, seen through this plan's renames (a key on a column
    being renamed, or on the table itself being renamed, is not replaced for that)."""
    self_reference = fk.ref_schema == actual.schema and fk.ref_table == actual.name
    ref_table = desired.name if self_reference else fk.ref_table
    ref_columns = tuple(map(new_name, fk.ref_columns)) if self_reference else fk.ref_columns
    return (fk.ref_schema == actual.schema and ref_table == key.ref_table
            and tuple(map(new_name, fk.columns)) == key.columns
            and ref_columns == key.ref_columns
            and (fk.on_delete, fk.on_update) == (key.on_delete, key.on_update))


def keys_to_count(desired: DesiredTable, actual: ActualTable, new_name: Rename
                  ) -> list[tuple[DesiredForeignKey, tuple[str, ...]]]:
    """The keys whose orphan rows must be counted before they are added or validated, each
    with its columns under their current names. A key on a column this plan adds is left out:
    the new column holds only NULLs, which reference nothing and need nothing."""
    found = {fk.name: fk for fk in actual.foreign_keys}
    current = {new_name(c.name): c.name for c in actual.columns}
    wanted: list[tuple[DesiredForeignKey, tuple[str, ...]]] = []
    for key in desired.foreign_keys:
        fk = found.get(key.name)
        settled = fk is not None and fk.validated and same_definition(key, fk, desired, actual,
                                                                      new_name)
        if settled or not all(c in current for c in key.columns):
            continue
        wanted.append((key, tuple(current[c] for c in key.columns)))
    return wanted


def referenced_tables(desired: DesiredTable) -> tuple[str, ...]:
    """The other tables the spec's keys reference (a key on the table itself reads the spec)."""
    return tuple(sorted({k.ref_table for k in desired.foreign_keys} - {desired.name}))


def _reference_problems(key: DesiredForeignKey, desired: DesiredTable,
                        actual: ActualTable | None, facts: Facts) -> list[Refusal]:
    incompatible = dict(facts.incompatible).get(key.name)
    if incompatible is not None:
        return [Refusal(RefusalReason.INVALID_SPEC, f"{key.field}.columns",
                        f"foreign key {key.name}: the types of ({', '.join(key.columns)}) and "
                        f"of {key.ref_table} ({', '.join(key.ref_columns)}) cannot be "
                        f"compared: {incompatible}; make the column types match")]
    if key.ref_table == desired.name:
        referenced: ReferencedTable | None = _own_keys(desired, actual)
    elif facts.references is None:
        return []  # not read (the drift sweep): the handler reads them before applying
    else:
        referenced = dict(facts.references).get(key.ref_table)
    if referenced is None:
        return [Refusal(
            RefusalReason.REFERENCED_TABLE_MISSING, f"{key.field}.references.table",
            f"foreign key {key.name} waits for table {key.ref_table}, which does not exist in "
            "the operator's schema; it is added once the table exists (another DatabaseTable "
            "may be creating it), until then nothing of this spec is applied")]
    missing = [c for c in key.ref_columns if c not in referenced.columns]
    if missing:
        return [Refusal(
            RefusalReason.REFERENCED_KEY_MISSING, f"{key.field}.references.columns",
            f"foreign key {key.name} waits for column {missing[0]} of table {key.ref_table}, "
            "which does not exist; it is added once the column exists")]
    if not referenced.has_key(key.ref_columns):
        return [Refusal(
            RefusalReason.REFERENCED_KEY_MISSING, f"{key.field}.references.columns",
            f"foreign key {key.name} waits for a primary key or unique constraint on exactly "
            f"({', '.join(key.ref_columns)}) of table {key.ref_table}: PostgreSQL references "
            "only such a key; it is added once one exists")]
    return []


def _own_keys(desired: DesiredTable, actual: ActualTable | None) -> ReferencedTable:
    """A key on the table itself: its columns and keys as the spec will have them (a unique
    column of the spec is built before the key is added)."""
    keys = [desired.primary_key] + [(c.name,) for c in desired.columns if c.options.unique]
    if actual is not None:
        keys += [columns for _, columns in actual.uniques]
    return ReferencedTable(desired.name, tuple(c.name for c in desired.columns), tuple(keys))


def _orphans(key: DesiredForeignKey, table: str, facts: Facts) -> list[Refusal]:
    count = facts.orphans_in(key.name)
    if not count:
        return []
    return [Refusal(
        RefusalReason.ORPHANS_PRESENT, f"{key.field}.columns",
        f"foreign key {key.name}: {count} row(s) of table {table} have "
        f"({', '.join(key.columns)}) set to a value that table {key.ref_table} does not have in "
        f"({', '.join(key.ref_columns)}); fix or delete those rows (or set the columns to "
        "NULL), then the operator retries")]


def refusal_for_error(error: BaseException, applied: tuple[Operation, ...]) -> Refusal | None:
    """PostgreSQL's datatype_mismatch (42804) on adding a key, as an InvalidSpec refusal that
    names the key's field; None for any other error (classified as a failure elsewhere)."""
    if not isinstance(error, DatatypeMismatch):  # psycopg2's class for SQLSTATE 42804
        return None
    adds = [op for op in applied if isinstance(op, AddForeignKey)]
    diag = getattr(error, "diag", None)
    text = ((diag.message_primary if diag is not None else None) or str(error)).strip()
    detail = (diag.message_detail if diag is not None else None) or ""
    named = [op for op in adds if f'"{op.name}"' in text] or adds
    if not named:
        return None
    key = named[0].key
    return Refusal(RefusalReason.INVALID_SPEC, f"{key.field}.columns",
                   f"foreign key {key.name}: PostgreSQL cannot link ({', '.join(key.columns)}) "
                   f"to {key.ref_table} ({', '.join(key.ref_columns)}): {text}"
                   + (f" ({detail.strip()})" if detail.strip() else "")
                   + "; make the column types match")
