"""Read a table's indexes, and what holds the names the spec gives its indexes (an edge).

Indexes that back a constraint (the primary key, unique and exclusion constraints, the
operator's ``dbt_uq_`` ones on the way to becoming a constraint) are left out: the status
shows constraints apart, and the index planner never touches them.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dbtable.index_model import ActualIndex

# One index as a row (or a JSON array); keys are column names, or the expression's text (and
# then `expressions` is true, as it is when the index INCLUDEs other columns).
_INDEX_FIELDS = r"""i.relname, am.amname, x.indisunique, x.indisvalid,
       obj_description(i.oid, 'pg_class'),
       ARRAY(SELECT CASE WHEN k.n = 0 THEN pg_get_indexdef(x.indexrelid, k.p::int, true)
                         ELSE a.attname::text END
               FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(n, p)
               LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n
              WHERE k.p <= x.indnkeyatts ORDER BY k.p),
       0 = ANY(x.indkey::int2[]) OR x.indnatts <> x.indnkeyatts, x.indpred IS NOT NULL"""
_INDEX_SOURCE = r"""pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_am am ON am.oid = i.relam
 WHERE NOT EXISTS (SELECT 1 FROM pg_constraint con
                    WHERE con.conindid = x.indexrelid AND con.conrelid = x.indrelid
                      AND con.contype IN ('p', 'u', 'x'))
   AND i.relname NOT LIKE 'dbt\_uq\_%%'"""
_INDEXES = ("SELECT x.indrelid, " + _INDEX_FIELDS + "\n  FROM " + _INDEX_SOURCE
            + "\n   AND x.indrelid IN (SELECT unnest(%(oids)s::oid[]))"
            "\n ORDER BY x.indrelid, i.relname")
# The indexes of the table {oid} as one JSON array, in name order: one more value of a query
# that reads the whole table at once (dbtable/catalog_details.py).
INDEXES_JSON = ("(SELECT coalesce(json_agg(json_build_array(" + _INDEX_FIELDS
                + ") ORDER BY i.relname), '[]')\n  FROM " + _INDEX_SOURCE
                + "\n   AND x.indrelid = {oid})")
# Each wanted name looked up by pg_class's index on (relname, relnamespace): the name cast to
# the catalog's type (compared as text, no index serves it), and OFFSET 0 keeps the lookup per
# name. The cast cuts a name longer than 63 bytes short, so a row may name a relation called
# by its first 63 bytes; name_holders (and fk_catalog's referenced_found) keep only rows named
# exactly as wanted. A join of the list against pg_class read every relation of the database
# once per reconcile (issue 10: 0.22 ms with 500 tables, growing with every table, index and
# TOAST table).
# The wanted names, each once, as the catalog's type (here and in fk_catalog.py's _REFERENCED):
WANTED_NAMES = "(SELECT DISTINCT unnest(%(names)s::text[])::name AS wanted) w"
_HOLDERS = """
SELECT h.name, h.kind, h.indexed
  FROM """ + WANTED_NAMES + """
  CROSS JOIN LATERAL (
    SELECT c.relname AS name, c.relkind::text AS kind, t.relname AS indexed
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_index x ON x.indexrelid = c.oid
      LEFT JOIN pg_class t ON t.oid = x.indrelid
     WHERE n.nspname = %(schema)s AND c.relname = w.wanted OFFSET 0) h
"""
# The same rows as one JSON array, for the names %(holder_names)s (one more value of the query
# a reconcile reads everything with: dbtable/catalog_snapshot.py).
HOLDERS_JSON = ("(SELECT coalesce(json_agg(json_build_array(h.name, h.kind, h.indexed)), '[]')"
                " FROM (" + _HOLDERS.replace("%(names)s", "%(holder_names)s") + ") h)")
_KINDS = {"r": "table", "p": "table", "i": "index", "I": "index", "S": "sequence",
          "v": "view", "m": "materialized view", "c": "composite type",
          "f": "foreign table", "t": "TOAST table"}


def read_indexes(cur: Any, oids: Iterable[int]) -> dict[int, tuple[ActualIndex, ...]]:
    """The indexes of each table (by oid), in name order; one query for any number."""
    found: dict[int, list[list[Any]]] = {}
    cur.execute(_INDEXES, {"oids": list(oids)})
    for table, *row in cur.fetchall():
        found.setdefault(table, []).append(row)
    return {oid: parse_indexes(rows) for oid, rows in found.items()}


def parse_indexes(rows: Iterable[list[Any]]) -> tuple[ActualIndex, ...]:
    """Rows of the index fields (or INDEXES_JSON's arrays) as values."""
    return tuple(ActualIndex(name=name, columns=tuple(keys), method=method, unique=unique,
                             valid=valid, comment=comment, expressions=expressions,
                             partial=partial)
                 for name, method, unique, valid, comment, keys, expressions, partial in rows)


def read_name_holders(cur: Any, schema: str, names: Iterable[str], table: str | None,
                      own: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(name, what holds it) for each of ``names`` held by anything but one of ``own``, the
    indexes of ``table`` the planner already knows about."""
    wanted = sorted(set(names))
    if not wanted:
        return ()
    cur.execute(_HOLDERS, {"schema": schema, "names": wanted})
    return name_holders(cur.fetchall(), wanted, table, own)


def name_holders(rows: Iterable[list[Any]], names: Iterable[str], table: str | None,
                 own: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The rows of _HOLDERS (or HOLDERS_JSON's arrays, read for more names at once) as
    read_name_holders returns them, for ``names`` only."""
    wanted, mine = set(names), set(own)
    held = []
    for name, kind, indexed in rows:
        if name not in wanted or (indexed is not None and indexed == table and name in mine):
            continue
        what = _KINDS.get(kind, "relation")
        held.append((name, f"the {what} {name}" + (f" of table {indexed}" if indexed else "")))
    return tuple(sorted(held))
