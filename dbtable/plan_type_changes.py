"""Plan a column's type change, or refuse it naming the field (pure; called by dbtable/plan.py).

A widening PostgreSQL makes without a rewrite or a scan is planned with the brief changes.
One that rewrites the table (lossless), or a widening that scans it to re-check a constraint
or rebuild an index on the column, blocks reads and writes for as long as the table is big:
planned only when the spec says ``allowTableRewrite: true``. Anything else is refused.
"""
from __future__ import annotations

from dbtable.model import ActualColumn, DesiredColumn
from dbtable.operations import Facts, Operation, Refusal, RefusalReason
from dbtable.type_changes import TypeChange, classify_catalog
from dbtable.type_operations import RecheckColumnType, RewriteColumnType, WidenColumnType


def plan_type_change(table: str, wanted: DesiredColumn, actual: ActualColumn, allowed: bool,
                     facts: Facts) -> tuple[Operation | None, Refusal | None]:
    """The operation that gives ``actual`` (named ``wanted.name`` after any rename) the spec's
    type, or why not. Only called when the types differ."""
    name, old, new = wanted.name, actual.type, wanted.type.canonical
    field = f"spec.columns.{name}"
    change = classify_catalog(old, actual.identity.oid if actual.identity else None,
                              wanted.type, wanted.resolved.oid if wanted.resolved else None)
    if change is TypeChange.REFUSED:
        return None, Refusal(
            RefusalReason.TYPE_CHANGED, field,
            f"column {name} is {old} in table {table}, the spec says {new}; that change could "
            "lose data or is not one the operator makes (it widens varchar, numeric, varbit "
            "and time precisions, and with spec.allowTableRewrite makes lossless changes such "
            f"as integer to bigint): set it back to {old}")
    rechecks = facts.rechecks_of(name)
    if change is TypeChange.WIDEN and not rechecks:
        return WidenColumnType(table, name, old, wanted.type), None
    if change is TypeChange.WIDEN:
        why = (f"PostgreSQL must scan the whole table to re-check {', '.join(rechecks)} on "
               "it, blocking reads and writes meanwhile")
        operation: Operation = RecheckColumnType(table, name, old, wanted.type)
    else:
        why = ("that rewrites the table and all its indexes, blocking reads and writes "
               "meanwhile")
        operation = RewriteColumnType(table, name, old, wanted.type)
    if allowed:
        return operation, None
    return None, Refusal(
        RefusalReason.TABLE_REWRITE, field,
        f"column {name} is {old} in table {table}, the spec says {new}: {why}; set "
        f"spec.allowTableRewrite: true to allow it, or set the type back to {old}")
