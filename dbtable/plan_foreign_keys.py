"""Plan the table's foreign keys (pure; called by dbtable/plan.py).

From actual to desired, compared by name after this plan's column and table renames:
- a key of the spec that is missing is added NOT VALID (with the marker that makes it ours),
  then validated in a transaction of its own; on a table created in the same transaction it is
  added valid at once (no rows);
- one of ours whose definition changed is dropped and added again under its name in one
  transaction (new rows stay checked), then validated;
- one of ours left NOT VALID by a run that stopped is validated;
- one of ours that already is a key of the spec under another name (a generated name moved by
  a rename of its column or of the table it references, in this plan or before) is renamed in
  place (``RENAME CONSTRAINT``), never dropped and revalidated; the new name held by another
  constraint of the table is refused (Conflict);
- one of ours no longer in the spec is dropped; a key without our marker is never dropped. A
  hand-made key whose name and definition the spec repeats is marked ours; one with the spec's
  name and another definition is refused.
Refused before anything is applied: a referenced table, column or unique key that does not
exist (retried: another resource may create it), orphan rows (with their count), types
PostgreSQL cannot compare, and a name held by another constraint of the table (its primary
key, a check or unique constraint: constraint names are unique per table).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from psycopg2.errors import DatatypeMismatch

from dbtable.fk_model import ActualForeignKey, DesiredForeignKey, ReferencedTable
from dbtable.fk_operations import (AddForeignKey, AddValidForeignKey, DropForeignKey,
                                   MarkForeignKey, RenameForeignKey, ValidateForeignKey)
from dbtable.model import ActualTable, DesiredTable
from dbtable.operations import Facts, Operation, Refusal, RefusalReason

Rename = Callable[[str], str]
NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1; names here are ASCII (the identifier rule)
_CONSTRAINT_KINDS = {"p": "the primary key", "u": "the unique constraint",
                     "c": "the check constraint", "x": "the exclusion constraint",
                     "t": "the constraint trigger", "n": "the not-null constraint"}


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
    # The table's primary key is made first, named as PostgreSQL names it (table_pkey, the
    # table's name cut to fit 63 bytes).
    pkey = ((desired.name[:NAME_BYTES - len("_pkey")] + "_pkey", "p"),)
    refusals = [r for key in desired.foreign_keys
                for r in _name_taken(key, desired.name, pkey)
                or _reference_problems(key, desired, None, facts)]
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
    moved = moved_keys(desired, actual, new_name)
    adds: list[Operation] = []
    validations: list[Operation] = []
    refusals: list[Refusal] = []
    for key in desired.foreign_keys:
        current = found.get(key.name)
        taken = _name_taken(key, actual.name, actual.constraints) if current is None else []
        if taken:
            refusals.extend(taken)
            continue
        same = current is not None and same_definition(key, current, desired, actual, new_name)
        if key.name in moved:  # ours already, under the name a rename moved: renamed in place
            current, same = moved[key.name], True
            refusal = _rename_target_taken(key, current, table, actual)
            if refusal is not None:
                refusals.append(refusal)
                continue
            adds.append(RenameForeignKey(table, current.name, key.name))
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
                problem = _orphans(key, table, facts, not_valid=True)
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
    kept = {key.name for key in desired.foreign_keys} | {fk.name for fk in moved.values()}
    drops = tuple(DropForeignKey(table, fk.name) for fk in actual.foreign_keys
                  if fk.managed and fk.name not in kept)
    return ForeignKeyPlan(drops, tuple(adds), tuple(validations), tuple(refusals))


def moved_keys(desired: DesiredTable, actual: ActualTable, new_name: Rename
               ) -> dict[str, ActualForeignKey]:
    """The spec's keys missing under their name that a key of ours already is under another
    (its definition the same once renames are seen through): a generated name holds the key's
    columns and referenced table, so a rename of either moves it. Only a name the spec does
    not want any more is taken, each once."""
    names = {fk.name for fk in actual.foreign_keys}
    wanted = {key.name for key in desired.foreign_keys}
    spare = [fk for fk in actual.foreign_keys if fk.managed and fk.name not in wanted]
    moved: dict[str, ActualForeignKey] = {}
    for key in (k for k in desired.foreign_keys if k.name not in names):
        match = next((fk for fk in spare if fk not in moved.values()
                      and same_definition(key, fk, desired, actual, new_name)), None)
        if match is not None:
            moved[key.name] = match
    return moved


def _rename_target_taken(key: DesiredForeignKey, fk: ActualForeignKey, table: str,
                         actual: ActualTable) -> Refusal | None:
    """A Conflict when another constraint of the table (names are unique per table) holds the
    name ``fk`` is to be renamed to: PostgreSQL would refuse the rename, and the operator never
    renames or drops what it did not make. A foreign key of that name is never moved onto
    (``moved_keys``): it is handled as the spec's key itself."""
    held = [("check constraint", n) for n, _ in actual.checks] \
        + [("unique constraint", n) for n, _ in actual.uniques] \
        + [("primary key", actual.primary_key_constraint or "")]
    holder = _holder(key.name, actual.constraints) or next(
        (f"the {kind} {n}" for kind, n in held if n == key.name), None)
    if holder is None:
        return None
    return Refusal(
        RefusalReason.CONFLICT, f"{key.field}.name",
        f"foreign key {fk.name} of table {table} is to be renamed {key.name}, and that name is "
        f"taken by {holder}; the operator never changes or drops what it did not make: give "
        "this key another name, or rename or drop that one by hand")


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
    found.update(moved_keys(desired, actual, new_name))  # renamed in place, as they are
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


def _holder(name: str, constraints: tuple[tuple[str, str], ...]) -> str | None:
    """What holds ``name`` among the table's other constraints (by contype), if anything."""
    kind = dict(constraints).get(name)
    return None if kind is None else f"{_CONSTRAINT_KINDS.get(kind, 'the constraint')} {name}"


def _name_taken(key: DesiredForeignKey, table: str, constraints: tuple[tuple[str, str], ...]
                ) -> list[Refusal]:
    """A Conflict when a name the spec gives a new key is held by another constraint of the
    table: PostgreSQL would refuse the ADD (42710) after the plan's other steps ran."""
    holder = _holder(key.name, constraints)
    if holder is None:
        return []
    return [Refusal(
        RefusalReason.CONFLICT, f"{key.field}.name",
        f"the name {key.name} is taken by {holder} of table {table} (a table's "
        "constraints each have a name of their own); give this foreign key another name, or "
        "leave name out to have one generated")]


def _own_keys(desired: DesiredTable, actual: ActualTable | None) -> ReferencedTable:
    """A key on the table itself: its columns and keys as the spec will have them (a unique
    column of the spec is built before the key is added)."""
    keys = [desired.primary_key] + [(c.name,) for c in desired.columns if c.options.unique]
    if actual is not None:
        keys += [columns for _, columns in actual.uniques]
    return ReferencedTable(desired.name, tuple(c.name for c in desired.columns), tuple(keys))


def _orphans(key: DesiredForeignKey, table: str, facts: Facts, not_valid: bool = False
             ) -> list[Refusal]:
    """``not_valid``: the key is in the table unvalidated (a run stopped, or a row was
    committed between the orphan count and ADD ... NOT VALID): the message says so."""
    count = facts.orphans_in(key.name)
    if not count:
        return []
    state = (f"foreign key {key.name} exists but is not validated (NOT VALID): new and changed "
             "rows are checked, rows already there are not; " if not_valid else
             f"foreign key {key.name}: ")
    return [Refusal(
        RefusalReason.ORPHANS_PRESENT, f"{key.field}.columns",
        f"{state}{count} row(s) of table {table} have "
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
