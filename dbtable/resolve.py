"""Ask PostgreSQL what each desired column type means (an edge: it takes a cursor).

The grammar (dbtable/types.py) decides what text may reach SQL at all; what a name that got
through means is the server's business: ``_int4`` is ``integer[]``, and ``mood`` is whichever
``mood`` the search_path finds first. So before planning, every column's type is looked up
with ``to_regtype(%s)`` in one query, its text passed as a parameter, never spliced into SQL,
and the planner compares the oid (and, for a user-defined type's modifiers, the typmod) with
the catalog's ``atttypid`` / ``atttypmod``. A type the server does not know, or modifiers its
typmod_in refuses, are reported on the column without running any DDL.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import psycopg2
from psycopg2 import sql

from dbtable.model import DesiredColumn, DesiredTable, TypeIdentity
from dbtable.types import ColumnType

# One row per column, in order: the type's oid (NULL: no such type) and its typmod_in function
# (schema, name), which only user-defined types with modifiers need.
_LOOKUP = """
SELECT t.oid, pn.nspname, p.proname
  FROM unnest(%s::text[]) WITH ORDINALITY AS d(name, position)
  LEFT JOIN pg_type t ON t.oid = to_regtype(d.name)
  LEFT JOIN pg_proc p ON p.oid = t.typmodin
  LEFT JOIN pg_namespace pn ON pn.oid = p.pronamespace
 ORDER BY d.position
"""
_SAVEPOINT = sql.SQL("SAVEPOINT dbt_typmod")


def resolve_types(cur: Any, desired: DesiredTable) -> DesiredTable:
    """``desired`` with each column's ``resolved`` (or ``unresolved``) filled in by the server."""
    (resolved,) = resolve_tables(cur, [desired])
    return resolved


def resolve_tables(cur: Any, tables: Sequence[DesiredTable]) -> list[DesiredTable]:
    """Resolve the types of many tables at once (a drift sweep): one lookup query for all
    distinct types, plus one typmod_in call per distinct user-defined type with modifiers."""
    distinct = list(dict.fromkeys(c.type for table in tables for c in table.columns))
    answers = _answers(cur, distinct)
    # DesiredColumn(...) rather than dataclasses.replace, which costs more per column.
    return [dataclasses.replace(table, columns=tuple(
        DesiredColumn(column.name, column.type, **answers[column.type])
        for column in table.columns)) for table in tables]


def _answers(cur: Any, types: list[ColumnType]) -> dict[ColumnType, dict[str, Any]]:
    """For each type, the DesiredColumn fields it resolves to: ``resolved`` or ``unresolved``."""
    if not types:
        return {}
    cur.execute(_LOOKUP, ([t.lookup for t in types],))
    return {t: _answer(cur, t, *row) for t, row in zip(types, cur.fetchall())}


def _answer(cur: Any, column_type: ColumnType, oid: int | None, typmodin_schema: str | None,
            typmodin_name: str | None) -> dict[str, Any]:
    if oid is None:
        return {"unresolved": f"type {column_type.lookup} does not exist (or is not visible on "
                              "the operator's search_path); create it first, or fix the name"}
    if not column_type.typmod_input:
        return {"resolved": TypeIdentity(oid)}
    if typmodin_name is None:
        return {"unresolved": f"type {column_type.lookup} takes no modifiers, the spec gives "
                              f"({', '.join(column_type.typmod_input)})"}
    typmod, error = _typmod(cur, sql.Identifier(typmodin_schema, typmodin_name),
                            column_type.typmod_input)
    if error is not None:
        return {"unresolved": f"PostgreSQL refuses its modifiers: {error}"}
    return {"resolved": TypeIdentity(oid, typmod)}


def _typmod(cur: Any, function: sql.Identifier, modifiers: tuple[str, ...]
            ) -> tuple[int, None] | tuple[None, str]:
    """Call the type's typmod_in as the parser would for ``type(modifiers)``.

    The function's name comes from pg_type, not from the spec; the modifiers are a parameter.
    A refusal (bad modifiers) is the function's own error, caught in a savepoint so the
    transaction goes on; losing the connection or a timeout is not caught.
    """
    cur.execute(_SAVEPOINT)
    try:
        cur.execute(sql.SQL("SELECT {}(%s::cstring[])").format(function), (list(modifiers),))
        (typmod,) = cur.fetchone()
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        raise
    except psycopg2.Error as e:
        cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT dbt_typmod"))
        return None, (e.diag.message_primary or str(e)).strip()
    cur.execute(sql.SQL("RELEASE SAVEPOINT dbt_typmod"))
    return typmod, None
