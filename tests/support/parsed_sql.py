"""Checks of SQL text by PostgreSQL's own parser (pglast: GPL, tests only): what a parsed
statement holds, node by node."""
from __future__ import annotations

from typing import Any

from pglast import ast

from dbtable.types import ColumnType


def strings(nodes: Any) -> tuple[str, ...]:
    return tuple(node.sval for node in nodes or ())


def assert_plain_column(column: Any, name: str, column_type: ColumnType) -> None:
    assert isinstance(column, ast.ColumnDef)
    assert column.colname == name
    assert column.constraints is None and column.collClause is None
    assert column.raw_default is None and column.cooked_default is None
    assert column.identity == "\x00" and column.generated == "\x00"
    assert not column.is_not_null
    type_name = column.typeName
    assert not type_name.setof and not type_name.pct_type
    assert bool(type_name.arrayBounds) == column_type.array
    if column_type.user_defined:
        assert strings(type_name.names) == tuple(
            p for p in (column_type.schema, column_type.name) if p is not None)
        # Modifiers reach the parser as constants and plain names, nothing else.
        assert tuple(typmod_values(type_name.typmods)) == column_type.modifiers


def typmod_values(typmods: Any) -> list[int | str]:
    values: list[int | str] = []
    for node in typmods or ():
        if isinstance(node, ast.A_Const):
            values.append(node.val.ival)
        else:
            assert isinstance(node, ast.ColumnRef), node
            (field,) = node.fields
            values.append(field.sval)
    return values
