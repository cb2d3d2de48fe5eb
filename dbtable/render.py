"""Render planned operations as SQL, one small renderer per operation.

``sql.SQL`` holds only constant text written here; every name goes through ``sql.Identifier``,
the marker through ``sql.Literal``, and column types through ``ColumnType.sql()``, which the
type grammar rebuilds from whitelisted keywords. No user text is ever formatted into SQL.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import singledispatch
from typing import LiteralString

from psycopg2 import sql
from psycopg2.extensions import adapt

from dbtable.column_operations import (AddNotNullCheck, DropColumn, DropDefault, DropNotNull,
                                       DropNotNullCheck, RenameColumn, RenameNotNullCheck,
                                       SetDefault, SetNotNull, ValidateNotNullCheck)
from dbtable.defaults import ColumnDefault
from dbtable.model import DesiredColumn
from dbtable.operations import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey,
                                DropTable, MarkOwned, Operation, RenameTable, Unmark)
from dbtable.type_operations import WidenColumnType
from dbtable.unique_operations import (AddUniqueWithTable, AttachUniqueConstraint,
                                       CreateUniqueIndex, DropUniqueConstraint, DropUniqueIndex,
                                       RenameUniqueConstraint)


def render(operations: Iterable[Operation], schema: str) -> list[sql.Composed]:
    """One statement per operation, in order."""
    return [_render(op, schema) for op in operations]


def _table(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def alter_table(schema: str, table: str, action: LiteralString, *parts: str | sql.Composable
                ) -> sql.Composed:
    """``ALTER TABLE schema.table action``. ``action`` is constant SQL written in this package
    (a literal, as its type says), with a ``{}`` for each of ``parts``: a name (a str, always
    quoted as an Identifier) or SQL composed the same way."""
    return sql.SQL("ALTER TABLE {} " + action).format(
        _table(schema, table), *(sql.Identifier(p) if isinstance(p, str) else p for p in parts))


def _names(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


@singledispatch
def _render(op: object, schema: str) -> sql.Composed:
    raise TypeError(f"no renderer for {type(op).__name__}")


def _column(column: DesiredColumn, not_null: bool, default: ColumnDefault | None
            ) -> sql.Composed:
    """``name type [NOT NULL] [DEFAULT value]``; the default from its own grammar's SQL."""
    parts = [sql.Identifier(column.name), column.type.sql()]
    if not_null:
        parts.append(sql.SQL("NOT NULL"))
    if default is not None and not default.is_null:
        parts.extend((sql.SQL("DEFAULT"), default.sql()))
    return sql.SQL(" ").join(parts)


@_render.register
def _(op: CreateTable, schema: str) -> sql.Composed:
    columns = [_column(c, c.options.nullable is False, c.options.default) for c in op.columns]
    columns.append(sql.SQL("PRIMARY KEY ({})").format(_names(op.primary_key)))
    return sql.SQL("CREATE TABLE {} ({})").format(_table(schema, op.table),
                                                  sql.SQL(", ").join(columns))


@_render.register
def _(op: RenameTable, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "RENAME TO {}", op.new_name)


@_render.register
def _(op: AddColumn, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "ADD COLUMN {}",
                       _column(op.column, op.not_null, op.default))


def _alter_column(schema: str, table: str, column: str, action: sql.Composable) -> sql.Composed:
    return alter_table(schema, table, "ALTER COLUMN {} {}", column, action)


@_render.register
def _(op: RenameColumn, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "RENAME COLUMN {} TO {}", op.old_name, op.new_name)


@_render.register
def _(op: DropColumn, schema: str) -> sql.Composed:
    # No CASCADE: a view that uses the column makes the drop fail instead of vanishing too.
    return alter_table(schema, op.table, "DROP COLUMN {}", op.column)


@_render.register
def _(op: SetDefault, schema: str) -> sql.Composed:
    return _alter_column(schema, op.table, op.column,
                         sql.SQL("SET DEFAULT {}").format(op.default.sql()))


@_render.register
def _(op: DropDefault, schema: str) -> sql.Composed:
    return _alter_column(schema, op.table, op.column, sql.SQL("DROP DEFAULT"))


@_render.register
def _(op: DropNotNull, schema: str) -> sql.Composed:
    return _alter_column(schema, op.table, op.column, sql.SQL("DROP NOT NULL"))


@_render.register
def _(op: SetNotNull, schema: str) -> sql.Composed:
    return _alter_column(schema, op.table, op.column, sql.SQL("SET NOT NULL"))


@_render.register
def _(op: AddNotNullCheck, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID",
                       op.constraint, op.column)


@_render.register
def _(op: ValidateNotNullCheck, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "VALIDATE CONSTRAINT {}", op.constraint)


@_render.register
def _(op: DropNotNullCheck, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "DROP CONSTRAINT {}", op.constraint)


@_render.register
def _(op: DropPrimaryKey, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "DROP CONSTRAINT {}", op.constraint)


@_render.register
def _(op: AddPrimaryKey, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "ADD PRIMARY KEY ({})", _names(op.columns))


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


@_render.register
def _(op: CreateUniqueIndex, schema: str) -> sql.Composed:
    # IF NOT EXISTS: another replica may have built it between our plan and this statement.
    return sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({})").format(
        sql.Identifier(op.name), _table(schema, op.table), sql.Identifier(op.column))


@_render.register
def _(op: AttachUniqueConstraint, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "ADD CONSTRAINT {} UNIQUE USING INDEX {}",
                       op.name, op.index_name)


@_render.register
def _(op: AddUniqueWithTable, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "ADD CONSTRAINT {} UNIQUE ({})", op.name, op.column)


@_render.register
def _(op: RenameUniqueConstraint, schema: str) -> sql.Composed:
    # RENAME CONSTRAINT renames the constraint's index with it.
    return alter_table(schema, op.table, "RENAME CONSTRAINT {} TO {}", op.name, op.new_name)


@_render.register
def _(op: DropUniqueConstraint, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "DROP CONSTRAINT {}", op.name)


def drop_index(schema: str, name: str) -> sql.Composed:
    return sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, name))


@_render.register
def _(op: DropUniqueIndex, schema: str) -> sql.Composed:
    return drop_index(schema, op.name)


@_render.register
def _(op: RenameNotNullCheck, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "RENAME CONSTRAINT {} TO {}", op.old_name, op.new_name)


@_render.register
def _(op: WidenColumnType, schema: str) -> sql.Composed:
    # Also RecheckColumnType and RewriteColumnType: one statement, what it costs differs. No
    # USING clause: every planned change has an assignment cast that keeps each value.
    return _alter_column(schema, op.table, op.column,
                         sql.SQL("TYPE {}").format(op.new_type.sql()))
# The foreign-key renderers register themselves with _render (kept in their own module).
from dbtable import fk_render  # noqa: E402,F401


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


import dbtable.render_indexes  # noqa: E402,F401  (registers the index operations' SQL)
