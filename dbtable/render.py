"""Render planned operations as SQL, one small renderer per operation.

``sql.SQL`` holds only constant text written here; every name goes through ``sql.Identifier``,
the marker through ``sql.Literal``, and column types through ``ColumnType.sql()``, which the
type grammar rebuilds from whitelisted keywords. No user text is ever formatted into SQL.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import singledispatch

from psycopg2 import sql
from psycopg2.extensions import adapt

from dbtable.operations import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey,
                                DropTable, MarkOwned, Operation, RenameTable, Unmark)


def render(operations: Iterable[Operation], schema: str) -> list[sql.Composed]:
    """One statement per operation, in order."""
    return [_render(op, schema) for op in operations]


def _table(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def _names(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


@singledispatch
def _render(op: object, schema: str) -> sql.Composed:
    raise TypeError(f"no renderer for {type(op).__name__}")


@_render.register
def _(op: CreateTable, schema: str) -> sql.Composed:
    columns = [sql.SQL("{} {}").format(sql.Identifier(c.name), c.type.sql()) for c in op.columns]
    columns.append(sql.SQL("PRIMARY KEY ({})").format(_names(op.primary_key)))
    return sql.SQL("CREATE TABLE {} ({})").format(_table(schema, op.table),
                                                  sql.SQL(", ").join(columns))


@_render.register
def _(op: RenameTable, schema: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} RENAME TO {}").format(_table(schema, op.table),
                                                         sql.Identifier(op.new_name))


@_render.register
def _(op: AddColumn, schema: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
        _table(schema, op.table), sql.Identifier(op.column.name), op.column.type.sql())


@_render.register
def _(op: DropPrimaryKey, schema: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(_table(schema, op.table),
                                                               sql.Identifier(op.constraint))


@_render.register
def _(op: AddPrimaryKey, schema: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(_table(schema, op.table),
                                                                 _names(op.columns))


@_render.register
def _(op: MarkOwned, schema: str) -> sql.Composed:
    # Also ReclaimTable and MarkRetained: the whole comment, the users' lines first.
    return sql.SQL("COMMENT ON TABLE {} IS {}").format(_table(schema, op.table),
                                                        sql.Literal(op.comment()))


@_render.register
def _(op: Unmark, schema: str) -> sql.Composed:
    if op.keep:  # what the table's users wrote stays
        return sql.SQL("COMMENT ON TABLE {} IS {}").format(_table(schema, op.table),
                                                            sql.Literal(op.keep))
    return sql.SQL("COMMENT ON TABLE {} IS NULL").format(_table(schema, op.table))


@_render.register
def _(op: DropTable, schema: str) -> sql.Composed:
    # No CASCADE: a view or foreign key that depends on the table makes the drop fail
    # loudly instead of silently taking other objects with it.
    return sql.SQL("DROP TABLE {}").format(_table(schema, op.table))


def to_text(statement: sql.Composable) -> str:
    """SQL text without a connection (for the offline plan command and for tests).

    psycopg2 needs a connection to quote identifiers; the rule for a double-quoted identifier
    is fixed (double any embedded quote), and literals go through psycopg2's own adapter. The
    integration tests check that this equals ``statement.as_string(connection)``.
    """
    if isinstance(statement, sql.Composed):
        return "".join(to_text(part) for part in statement)
    if isinstance(statement, sql.SQL):
        return statement.string
    if isinstance(statement, sql.Identifier):
        return ".".join('"' + s.replace('"', '""') + '"' for s in statement.strings)
    if isinstance(statement, sql.Literal):
        if isinstance(statement.wrapped, str) and "\0" not in statement.wrapped:
            # Quoted as under standard_conforming_strings (on since PostgreSQL 9.1, and what
            # as_string gives on such a server). psycopg2's adapter has no connection here, so
            # it follows libpq's process-wide guess, which doubles backslashes until this
            # process has connected somewhere: the offline plan printed a different marker.
            return "'" + statement.wrapped.replace("'", "''") + "'"
        quoted = adapt(statement.wrapped)
        if hasattr(quoted, "encoding"):
            quoted.encoding = "utf8"
        return quoted.getquoted().decode("utf-8")
    raise TypeError(f"cannot render {type(statement).__name__} without a connection")
