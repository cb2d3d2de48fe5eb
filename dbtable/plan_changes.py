"""Plan the changes that take an existing table (owned, or being adopted) to the spec (pure;
called by dbtable/plan.py).

Apart from plan.py, which decides whose table it is (create, adopt, reclaim, refuse a
conflict), because this is the other concern: comparing one table's columns, keys, options,
uniques and indexes with the spec, in a fixed order (renames first, keys dropped before the
columns under them, widenings with the brief changes), delegating each kind to its own
plan_*.py module. A refusal anywhere means a plan with no operations.
"""
from __future__ import annotations

import dataclasses

from dbtable.model import ActualColumn, ActualTable, DesiredColumn, DesiredTable
from dbtable.operations import (AddPrimaryKey, DropPrimaryKey, Facts, Operation, Plan, Refusal,
                                RefusalReason, RenameTable)
from dbtable.plan_columns import DropColumn, plan_added_column, plan_options, plan_renames, plan_uniques
from dbtable.plan_foreign_keys import plan_foreign_keys
from dbtable.plan_indexes import plan_indexes
from dbtable.plan_type_changes import plan_type_change


def plan_changes(desired: DesiredTable, actual: ActualTable, facts: Facts) -> Plan:
    renames, refusals = plan_renames(desired, actual)
    wanted_columns = {c.name: c for c in desired.columns}
    current = {renames.new_name(c.name): c for c in actual.columns}
    dropped: list[str] = []
    retypes: list[Operation] = []
    # A previous name still present after the renames: its rename was refused above.
    claimed = {old for c in desired.columns for old in c.options.previous_names}
    for name, column in current.items():
        wanted = wanted_columns.get(name)
        if wanted is None:
            if name in desired.drop_columns:
                dropped.append(name)
                continue
            if name in claimed:
                continue
            refusals.append(Refusal(
                RefusalReason.COLUMN_REMOVED, "spec.columns",
                f"column {column.name} ({column.type}) exists in table {actual.name} but is "
                "missing from the spec; add it back, or to drop it and its data list it in "
                "spec.dropColumns"))
        elif not _same_type(wanted, column):
            retype, refusal = plan_type_change(actual.name, wanted, column,
                                               desired.allow_table_rewrite, facts)
            retypes.extend([retype] if retype is not None else [])
            refusals.extend([refusal] if refusal is not None else [])
    if refusals:
        return Plan(refusals=tuple(refusals))

    operations: list[Operation] = []
    table = actual.name
    if actual.name != desired.name:
        operations.append(RenameTable(actual.name, desired.name))
        table = desired.name
    operations.extend(renames.operations(table, dict(actual.checks)))
    keys = plan_foreign_keys(table, desired, actual, renames.new_name, facts)
    refusals.extend(keys.refusals)
    # Before any column goes: dropping a column also drops the keys on it.
    operations.extend(keys.drops)
    key_changes = tuple(renames.new_name(c) for c in actual.primary_key) != desired.primary_key
    if key_changes and actual.primary_key_constraint is not None:
        operations.append(DropPrimaryKey(table, actual.primary_key_constraint,
                                         tuple(renames.new_name(c) for c in actual.primary_key)))
    operations.extend(DropColumn(table, name) for name in dropped)
    # Widenings join the brief changes; a rewrite (its own transaction) takes the rest along.
    operations.extend(_with_table(op, table) for op in retypes)
    for column in desired.columns:
        if column.name not in current:
            added, refused = plan_added_column(table, column, facts,
                                               column.name in desired.primary_key)
            operations.extend(added)
            refusals.extend(refused)
    if key_changes:
        operations.append(AddPrimaryKey(table, desired.primary_key))
    now, later, refused = plan_options(table, desired, current,
                                       renames.checks(dict(actual.checks)), facts)
    refusals.extend(refused)
    unique_now, unique_later, refused = plan_uniques(table, desired, actual,
                                                     dict(renames.pairs), facts)
    refusals.extend(refused)
    index_now, index_later, refused = plan_indexes(table, desired, actual,
                                                   dict(renames.pairs), facts)
    refusals.extend(refused)
    if refusals:
        return Plan(refusals=tuple(refusals))
    return Plan(operations=tuple(operations + now + unique_now + index_now + later
                                 + unique_later + index_later) + keys.adds + keys.validations)


def _same_type(wanted: DesiredColumn, actual: ActualColumn) -> bool:
    """Whether the column already has the spec's type, as the server resolved both.

    The oid says which type (``_int4`` is ``integer[]``; ``a.mood`` is not ``b.mood``). Modifiers:
    a user-defined type's typmod came from its own typmod_in; a built-in's are in format_type's
    text, which the grammar's canonical form spells exactly (held to the server in the tests).
    Offline (the plan command has no server), the grammar's spelling is all there is.
    """
    if wanted.resolved is None or actual.identity is None:
        return wanted.type.matches(actual.type)
    if wanted.resolved.oid != actual.identity.oid:
        return False
    if wanted.type.user_defined:
        return wanted.resolved.typmod == actual.identity.typmod
    return wanted.type.canonical == actual.type


def _with_table(operation: Operation, table: str) -> Operation:
    """The operation on the table's name after a rename in the same plan."""
    return dataclasses.replace(operation, table=table)
