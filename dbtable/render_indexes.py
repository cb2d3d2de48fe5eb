"""SQL of the index operations (registered with dbtable.render's dispatcher).

The access method comes from a constant table keyed by the allow-list, never from the spec's
text; names go through ``sql.Identifier`` and the marker through ``sql.Literal``.
"""
from __future__ import annotations

from psycopg2 import sql

from dbtable.index_model import INDEX_MARKER, METHODS
from dbtable.index_operations import (CreateIndex, DropFailedIndex, DropIndex, MarkIndex,
                                      RenameIndex)
from dbtable.render import _names, _render, _table, drop_index

_METHODS = {method: sql.SQL(method) for method in METHODS}


@_render.register
def _(op: CreateIndex, schema: str) -> sql.Composed:
    # Also CreateIndexWithTable and BuildReplacement. No IF NOT EXISTS: a relation that took
    # the name since the plan must fail the build (and be planned around), not be taken for it.
    head = "CREATE UNIQUE INDEX" if op.unique else "CREATE INDEX"
    if op.concurrently:
        head += " CONCURRENTLY"
    return sql.SQL(head + " {} ON {} USING {} ({})").format(
        sql.Identifier(op.name), _table(schema, op.table), _METHODS[op.method],
        _names(op.columns))


@_render.register
def _(op: MarkIndex, schema: str) -> sql.Composed:
    return sql.SQL("COMMENT ON INDEX {} IS {}").format(sql.Identifier(schema, op.name),
                                                        sql.Literal(INDEX_MARKER))


@_render.register
def _(op: RenameIndex, schema: str) -> sql.Composed:
    return sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(schema, op.name),
                                                         sql.Identifier(op.new_name))


@_render.register
def _(op: DropIndex | DropFailedIndex, schema: str) -> sql.Composed:
    return drop_index(schema, op.name)


def duplicate_count(columns: tuple[str, ...]) -> sql.Composed:
    """Rows a unique index on ``columns`` would refuse: among the rows with no NULL in them
    (a unique index lets NULLs repeat), all rows minus the distinct values."""
    names = [sql.Identifier(c) for c in columns]
    filled = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(n) for n in names)
    key = sql.SQL("({})").format(sql.SQL(", ").join(names)) if len(names) > 1 else names[0]
    return sql.SQL("count(*) FILTER (WHERE {0}) - count(DISTINCT {1}) FILTER (WHERE {0})"
                   ).format(filled, key)
