"""SQL for the foreign-key operations (registered with dbtable/render.py's dispatcher).

Names through ``sql.Identifier``, the marker through ``sql.Literal``, the ON DELETE / ON UPDATE
words from FkAction's constant table: no user text is formatted into SQL.
"""
from __future__ import annotations

from psycopg2 import sql

from dbtable.fk_model import FK_MARKER, FkAction
from dbtable.fk_operations import (AddForeignKey, DropForeignKey, MarkForeignKey,
                                   RenameForeignKey, ValidateForeignKey)
from dbtable.render import _names, _render, _table, alter_table


def _action(event: str, action: FkAction) -> sql.Composable:
    return sql.SQL(f" ON {event} {action.keyword}")


@_render.register
def _(op: AddForeignKey, schema: str) -> sql.Composed:
    # Also AddValidForeignKey (a table created in the same transaction: nothing to validate).
    key = op.key
    return alter_table(schema, op.table,
                       "ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}){}{}{}", key.name,
                       _names(key.columns), _table(schema, key.ref_table), _names(key.ref_columns),
                       _action("DELETE", key.on_delete), _action("UPDATE", key.on_update),
                       sql.SQL(" NOT VALID" if op.not_valid else ""))


@_render.register
def _(op: MarkForeignKey, schema: str) -> sql.Composed:
    return sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
        sql.Identifier(op.name), _table(schema, op.table), sql.Literal(FK_MARKER))


@_render.register
def _(op: ValidateForeignKey, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "VALIDATE CONSTRAINT {}", op.name)


@_render.register
def _(op: DropForeignKey, schema: str) -> sql.Composed:
    # Never CASCADE: nothing else depends on a foreign key constraint of this table.
    return alter_table(schema, op.table, "DROP CONSTRAINT {}", op.name)


@_render.register
def _(op: RenameForeignKey, schema: str) -> sql.Composed:
    return alter_table(schema, op.table, "RENAME CONSTRAINT {} TO {}", op.name, op.new_name)
