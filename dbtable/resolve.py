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
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg2
from psycopg2 import sql

from dbtable.batch import send
from dbtable.defaults import normalize_catalog_default
from dbtable.model import ActualTable, DesiredColumn, DesiredTable, TypeIdentity
from dbtable.types import ColumnType

# The types %(types)s as one JSON array, in order, one [oid, schema, name] per type: its oid
# (NULL: no such type) and its typmod_in function (schema, name), which only user-defined
# types with modifiers need. One value of the query a reconcile reads everything with
# (dbtable/catalog_snapshot.py); a drift sweep selects it alone (_answers).
LOOKUP_JSON = """(SELECT coalesce(json_agg(json_build_array(t.oid::bigint, pn.nspname, p.proname)
                                   ORDER BY d.position), '[]')
  FROM unnest(%(types)s::text[]) WITH ORDINALITY AS d(name, position)
  LEFT JOIN LATERAL (SELECT y.oid, y.typmodin FROM pg_type y
                      WHERE y.oid = to_regtype(d.name) OFFSET 0) t ON true
  LEFT JOIN pg_proc p ON p.oid = t.typmodin
  LEFT JOIN pg_namespace pn ON pn.oid = p.pronamespace)"""
_SAVEPOINT = sql.SQL("SAVEPOINT dbt_typmod")


def resolve_types(cur: Any, desired: DesiredTable,
                  found: Sequence[Sequence[Any]] | None = None) -> DesiredTable:
    """``desired`` with each column's ``resolved`` (or ``unresolved``) filled in by the server.
    ``found``: LOOKUP_JSON's rows for ``type_names(desired)``, already read with other things."""
    (resolved,) = resolve_tables(cur, [desired], found)
    return resolved


def type_names(desired: DesiredTable) -> list[str]:
    """What LOOKUP_JSON looks up for ``desired``: each distinct type once, in column order."""
    return [t.lookup for t in _distinct([desired])]


def resolve_tables(cur: Any, tables: Sequence[DesiredTable],
                   found: Sequence[Sequence[Any]] | None = None) -> list[DesiredTable]:
    """Resolve the types of many tables at once (a drift sweep): one lookup query for all
    distinct types, plus one typmod_in call per distinct user-defined type with modifiers."""
    answers = _answers(cur, _distinct(tables), found)
    # DesiredColumn(...) rather than dataclasses.replace, which costs more per column.
    return [dataclasses.replace(table, columns=tuple(
        DesiredColumn(column.name, column.type, options=column.options,
                      **answers[column.type])
        for column in table.columns)) for table in tables]


def resolve_defaults(cur: Any, desired: DesiredTable,
                     table: ActualTable | None = None) -> DesiredTable:
    """Each constant default as the column's type prints it (``'2024-01-01'`` on a timestamp
    column is ``2024-01-01 00:00:00``), or why the type refuses it; and the same of the
    table's current default of that column, so the planner compares values, not spellings.
    Values are parameters and the type the grammar's own SQL; nothing is stored. Columns whose
    type did not resolve are left to that refusal."""
    current = {c.name: c for c in table.columns} if table is not None else {}
    wanted: list[tuple[int, DesiredColumn, str, str | None]] = []
    for position, column in enumerate(desired.columns):
        default = column.options.default
        text = default.as_text() if default is not None else None
        if text is None or column.resolved is None:
            continue
        found = next((current[n] for n in (column.name, *column.options.previous_names)
                      if n in current), None)
        now = normalize_catalog_default(found.default) if found is not None else None
        wanted.append((position, column, text, now))
    if not wanted:
        return desired
    answers = _all_at_once(cur, [(column, value) for _, column, text, now in wanted
                                 for value in (text, now) if value is not None])
    columns = list(desired.columns)
    for position, column, text, now in wanted:
        if answers is not None:
            value, error = next(answers), None
            current_text = next(answers) if now is not None else None
        else:  # one of them is refused: cast one by one, to say which and why
            cast = sql.SQL("SELECT CAST(%s AS {})::text").format(column.type.sql())
            value, error = _guarded(cur, cast, (text,))
            current_text = _guarded(cur, cast, (now,))[0] if now is not None else None
        options = dataclasses.replace(column.options, default_text=value, default_error=error,
                                      current_text=current_text)
        columns[position] = dataclasses.replace(column, options=options)
    return dataclasses.replace(desired, columns=tuple(columns))


def _all_at_once(cur: Any, casts: list[tuple[DesiredColumn, str]]) -> Iterator[Any] | None:
    """Every value cast to its column's type in one round trip (the usual case: none is
    refused); None when the server refuses any, and then nothing of it stays."""
    query = sql.SQL("SELECT {}").format(sql.SQL(", ").join(
        sql.SQL("CAST(%s AS {})::text").format(column.type.sql()) for column, _ in casts))
    try:
        send(cur, _SAVEPOINT.as_string(cur), (query, [value for _, value in casts]))
        row = cur.fetchone()
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        raise
    except psycopg2.Error:
        cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT dbt_typmod"))
        return None
    # The savepoint is left to the end of the transaction, which releases it: a RELEASE now
    # would be a round trip of its own, and nothing after it depends on it.
    return iter(row)


def _guarded(cur: Any, query: sql.Composable, params: tuple[Any, ...]
             ) -> tuple[Any, None] | tuple[None, str]:
    """Run a one-value query in a savepoint: the server's refusal is returned, the
    transaction goes on; losing the connection or a timeout is not caught."""
    cur.execute(_SAVEPOINT)
    try:
        cur.execute(query, params)
        (value,) = cur.fetchone()
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        raise
    except psycopg2.Error as e:
        cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT dbt_typmod"))
        return None, (e.diag.message_primary or str(e)).strip()
    cur.execute(sql.SQL("RELEASE SAVEPOINT dbt_typmod"))
    return value, None


def _distinct(tables: Sequence[DesiredTable]) -> list[ColumnType]:
    return list(dict.fromkeys(c.type for table in tables for c in table.columns))


def _answers(cur: Any, types: list[ColumnType], found: Sequence[Sequence[Any]] | None
             ) -> dict[ColumnType, dict[str, Any]]:
    """For each type, the DesiredColumn fields it resolves to: ``resolved`` or ``unresolved``."""
    if not types:
        return {}
    if found is None:
        cur.execute("SELECT " + LOOKUP_JSON, {"types": [t.lookup for t in types]})
        (found,) = cur.fetchone()
    return {t: _answer(cur, t, *row) for t, row in zip(types, found, strict=True)}


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
    return _guarded(cur, sql.SQL("SELECT {}(%s::cstring[])").format(function),
                    (list(modifiers),))
