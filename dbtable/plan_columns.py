"""Plan the column changes of an existing table: renames, drops, additions, NOT NULL and
defaults (pure; called by dbtable/plan.py).

Order matters and is fixed: renames first (so the rest sees the spec's names), then the old
primary key goes (a dropped column may be in it), dropped and added columns, the new key, and
last the column options. Each refusal names the field and says how many rows are in the way.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dbtable.column_operations import (AddNotNullCheck, DropColumn, DropDefault, DropNotNull,
                                       DropNotNullCheck, RenameColumn, RenameNotNullCheck,
                                       SetDefault, SetNotNull, ValidateNotNullCheck,
                                       not_null_check_name)
from dbtable.defaults import FUNCTIONS, normalize_catalog_default
from dbtable.model import ActualColumn, ActualTable, DesiredColumn, DesiredTable
from dbtable.operations import AddColumn, Facts, Operation, Refusal, RefusalReason
from dbtable.plan_uniques import plan_uniques, unique_repeats  # noqa: F401


FUNCTION_SPELLINGS = frozenset(FUNCTIONS)


@dataclass(frozen=True)
class Renames:
    """Old name -> new name of the columns renamed through previousNames."""

    pairs: tuple[tuple[str, str], ...] = ()

    def new_name(self, old: str) -> str:
        return dict(self.pairs).get(old, old)

    def operations(self, table: str, checks: Mapping[str, bool]) -> list[Operation]:
        """RENAME COLUMN for each pair; the operator's NOT NULL check of a renamed column,
        left by a run that stopped half-way, is renamed with it (its name is derived from
        the column's: under the old name no later plan would find it)."""
        operations: list[Operation] = []
        for old, new in self.pairs:
            operations.append(RenameColumn(table, old, new))
            if not_null_check_name(old) in checks:
                operations.append(RenameNotNullCheck(table, old, new))
        return operations

    def checks(self, checks: Mapping[str, bool]) -> dict[str, bool]:
        """The table's checks by the names they have after ``operations``."""
        moved = {not_null_check_name(old): not_null_check_name(new) for old, new in self.pairs}
        return {moved.get(name, name): valid for name, valid in checks.items()}


def plan_renames(desired: DesiredTable, actual: ActualTable
                 ) -> tuple[Renames, list[Refusal]]:
    """Which columns to rename: a declared column that does not exist, one of whose
    previousNames does. Both names existing is refused: the data of neither is guessed at."""
    existing = {c.name for c in actual.columns}
    pairs: list[tuple[str, str]] = []
    refusals: list[Refusal] = []
    for column in desired.columns:
        olds = [old for old in column.options.previous_names if old in existing]
        if not olds:
            continue
        field = f"spec.columnOptions.{column.name}.previousNames"
        if column.name in existing:
            refusals.append(Refusal(
                RefusalReason.COLUMN_RENAME, field,
                f"table {actual.name} has both column {olds[0]} and column {column.name}; "
                f"renaming {olds[0]} to {column.name} would lose one of them: drop or rename "
                f"one by hand, or remove {olds[0]} from previousNames"))
        elif len(olds) > 1:
            refusals.append(Refusal(
                RefusalReason.COLUMN_RENAME, field,
                f"table {actual.name} has columns {' and '.join(olds)}, both previous names "
                f"of {column.name}; only one of them can become {column.name}"))
        else:
            pairs.append((olds[0], column.name))
    return Renames(tuple(pairs)), refusals


def needed_facts(desired: DesiredTable, actual: ActualTable
                 ) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
    """What the planner will ask of the rows: whether the table has any (a NOT NULL column
    without a constant default is being added), which existing columns (by their current
    name) must be counted for NULLs (they are to become NOT NULL), and which for repeated
    values (they are to become unique)."""
    renames, _ = plan_renames(desired, actual)
    current = {renames.new_name(c.name): c for c in actual.columns}
    need_rows = any(_needs_empty_table(c) for c in desired.columns if c.name not in current)
    count = tuple(current[c.name].name for c in desired.columns
                  if c.name in current and c.options.nullable is False
                  and not current[c.name].not_null and c.name not in desired.primary_key)
    repeats = unique_repeats(desired, actual, dict(renames.pairs))
    return need_rows, count, repeats


def _needs_empty_table(column: DesiredColumn) -> bool:
    default = column.options.default
    constant = default is not None and not default.is_null and not default.volatile
    return column.options.nullable is False and not constant


def plan_added_column(table: str, column: DesiredColumn, facts: Facts,
                      in_key: bool) -> tuple[list[Operation], list[Refusal]]:
    """ADD COLUMN with what can be added at once: a non-volatile default (no rewrite), and NOT
    NULL when that default fills every row or there are no rows. A volatile default on a table
    with rows is set after the column is added (existing rows keep NULL), never by a rewrite."""
    default = column.options.default
    if default is not None and default.is_null:
        default = None
    rows = facts.rows
    empty = rows == 0
    if default is not None and default.volatile and not empty:
        later: list[Operation] = [SetDefault(table, column.name, default)]
        default = None
    else:
        later = []
    not_null = column.options.nullable is False and not in_key
    if not_null and default is None and not empty:
        if rows is None:  # unknown (the drift sweep): the handler counts before applying
            return [AddColumn(table, column, not_null=True), *later], []
        return [], [Refusal(
            RefusalReason.ROWS_PRESENT, f"spec.columnOptions.{column.name}.nullable",
            f"column {column.name} cannot be added NOT NULL without a constant default: table "
            f"{table} has {rows} row(s) that would have no value; give it a default, or add "
            "it nullable, fill it, then set nullable: false")]
    return [AddColumn(table, column, not_null=not_null, default=default), *later], []


def plan_options(table: str, desired: DesiredTable, current: Mapping[str, ActualColumn],
                 checks: Mapping[str, bool], facts: Facts
                 ) -> tuple[list[Operation], list[Operation], list[Refusal]]:
    """Defaults and nullability of the existing columns: (in the first transaction, in
    transactions of their own after it, refusals). ``current`` maps the spec's names to the
    catalog's columns (after renames); ``checks`` the table's CHECK constraints (validated?)."""
    now: list[Operation] = []
    later: list[Operation] = []
    refusals: list[Refusal] = []
    for column in desired.columns:
        actual = current.get(column.name)
        if actual is None:
            continue
        now.extend(_default_change(table, column, actual))
        first, rest, refusal = _nullability_change(table, column, actual, checks, facts,
                                                   column.name in desired.primary_key)
        now.extend(first)
        later.extend(rest)
        refusals.extend(refusal)
    return now, later, refusals


def _default_change(table: str, column: DesiredColumn,
                    actual: ActualColumn) -> Iterable[Operation]:
    wanted = column.options.default
    if wanted is None:  # not stated: the column's default is left as it is
        return ()
    if wanted.is_null:
        return (DropDefault(table, column.name),) if actual.default is not None else ()
    if actual.default is None:
        return (SetDefault(table, column.name, wanted),)
    found = normalize_catalog_default(actual.default)
    if column.options.default_text is not None and column.options.current_text is not None:
        same = column.options.current_text == column.options.default_text  # as values
    elif column.options.default_text is not None:  # the server read the constant as the type
        same = found == column.options.default_text
    elif wanted.as_text() is None:  # a function: its spelling is what the catalog shows
        same = found == wanted.value
    else:
        # Offline (the drift sweep reads no values): only whether there is a constant. How a
        # type prints a constant ('2024-01-01' as 2024-01-01 00:00:00) needs the server; the
        # next reconcile compares the values.
        same = found is not None and found not in FUNCTION_SPELLINGS
    return () if same else (SetDefault(table, column.name, wanted),)


def _nullability_change(table: str, column: DesiredColumn, actual: ActualColumn,
                        checks: Mapping[str, bool], facts: Facts, in_key: bool
                        ) -> tuple[list[Operation], list[Operation], list[Refusal]]:
    check = not_null_check_name(column.name)
    has_check = check in checks
    wants_not_null = column.options.nullable is False and not in_key
    if not wants_not_null:
        first: list[Operation] = []
        if column.options.nullable is True and actual.not_null and not in_key:
            first.append(DropNotNull(table, column.name))
        if has_check:  # left by a run that stopped, or the user changed their mind
            first.append(DropNotNullCheck(table, column.name))
        return first, [], []
    if actual.not_null:
        return ([DropNotNullCheck(table, column.name)] if has_check else []), [], []
    nulls = facts.nulls_in(column.name)
    if nulls:
        return [], [], [Refusal(
            RefusalReason.NULLS_PRESENT, f"spec.columnOptions.{column.name}.nullable",
            f"column {column.name} of table {table} holds NULL in {nulls} row(s); it cannot "
            "be made NOT NULL until they have values (UPDATE them, then the operator "
            "retries)")]
    first = [] if has_check else [AddNotNullCheck(table, column.name)]
    rest: list[Operation] = []
    if not checks.get(check, False):
        rest.append(ValidateNotNullCheck(table, column.name))
    steps = [SetNotNull(table, column.name), DropNotNullCheck(table, column.name)]
    # Already valid: nothing scans, so the last steps can join the first transaction.
    return (first + steps, [], []) if not rest else (first, rest + steps, [])
