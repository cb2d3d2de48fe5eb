"""Read a table's indexes, and what holds the names the spec gives its indexes (an edge).

Indexes that back a constraint (the primary key, unique and exclusion constraints, the
operator's ``dbt_uq_`` ones on the way to becoming a constraint) are left out: the status
shows constraints apart, and the index planner never touches them.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dbtable.index_model import ActualIndex

# One row per index; keys are column names, or the expression's text (and then `expressions`
# is true, as it is when the index INCLUDEs other columns).
_INDEXES = r"""
SELECT x.indrelid, i.relname, am.amname, x.indisunique, x.indisvalid,
       obj_description(i.oid, 'pg_class'),
       ARRAY(SELECT CASE WHEN k.n = 0 THEN pg_get_indexdef(x.indexrelid, k.p::int, true)
                         ELSE a.attname::text END
               FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(n, p)
               LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n
              WHERE k.p <= x.indnkeyatts ORDER BY k.p),
       0 = ANY(x.indkey::int2[]) OR x.indnatts <> x.indnkeyatts, x.indpred IS NOT NULL
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_am am ON am.oid = i.relam
 WHERE x.indrelid IN (SELECT unnest(%(oids)s::oid[]))
   AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                    WHERE con.conindid = x.indexrelid AND con.conrelid = x.indrelid
                      AND con.contype IN ('p', 'u', 'x'))
   AND i.relname NOT LIKE 'dbt\_uq\_%%'
 ORDER BY x.indrelid, i.relname
"""
_HOLDERS = """
SELECT c.relname, c.relkind::text, t.relname
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_index x ON x.indexrelid = c.oid
  LEFT JOIN pg_class t ON t.oid = x.indrelid
 WHERE n.nspname = %(schema)s AND c.relname IN (SELECT unnest(%(names)s::text[]))
"""
_KINDS = {"r": "table", "p": "table", "i": "index", "I": "index", "S": "sequence",
          "v": "view", "m": "materialized view", "c": "composite type",
          "f": "foreign table", "t": "TOAST table"}


def read_indexes(cur: Any, oids: Iterable[int]) -> dict[int, tuple[ActualIndex, ...]]:
    """The indexes of each table (by oid), in name order; one query for any number."""
    found: dict[int, list[ActualIndex]] = {}
    cur.execute(_INDEXES, {"oids": list(oids)})
    for table, name, method, unique, valid, comment, keys, expressions, partial \
            in cur.fetchall():
        found.setdefault(table, []).append(ActualIndex(
            name=name, columns=tuple(keys), method=method, unique=unique, valid=valid,
            comment=comment, expressions=expressions, partial=partial))
    return {oid: tuple(indexes) for oid, indexes in found.items()}


def read_name_holders(cur: Any, schema: str, names: Iterable[str], table: str | None,
                      own: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(name, what holds it) for each of ``names`` held by anything but one of ``own``, the
    indexes of ``table`` the planner already knows about."""
    wanted = sorted(set(names))
    if not wanted:
        return ()
    mine = set(own)
    cur.execute(_HOLDERS, {"schema": schema, "names": wanted})
    held = []
    for name, kind, indexed in cur.fetchall():
        if indexed is not None and indexed == table and name in mine:
            continue
        what = _KINDS.get(kind, "relation")
        held.append((name, f"the {what} {name}" + (f" of table {indexed}" if indexed else "")))
    return tuple(sorted(held))
