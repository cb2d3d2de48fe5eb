"""Everything the planner knows of one table, read as one JSON value (an edge's SQL).

A reconcile used to read a table in six queries (its row, columns, primary key, constraints,
indexes, foreign keys), each a round trip taken in a handler thread. ``DETAILS_JSON`` is all
of them as one expression of the table's oid, so any query that finds tables can carry their
details along: ``dbtable/catalog.py`` reads a table in one round trip, and a reconcile reads it
with everything else it needs in one (``dbtable/catalog_snapshot.py``).
"""
from __future__ import annotations

from typing import Any

from dbtable.catalog_indexes import INDEXES_JSON, parse_indexes
from dbtable.fk_catalog import FOREIGN_KEYS_JSON, OTHER_CONSTRAINTS_JSON, parse_foreign_keys
from dbtable.model import ActualColumn, ActualTable, Owner, TypeIdentity

# [columns, primary key, the operator's NOT NULL checks, unique constraints, the operator's
# unique indexes, other indexes, foreign keys, other constraints] of the table {oid}. The
# checks and unique indexes are the operator's by their prefixes (dbtable/column_operations.py,
# unique_operations.py); every unique constraint is listed with its columns.
_COLUMNS_AND_KEY = r"""json_build_array(
  (SELECT coalesce(json_agg(json_build_array(
            a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid::bigint, a.atttypmod,
            a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum), '[]')
     FROM pg_attribute a
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = {oid} AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT json_build_array(pk.conname, ARRAY(
            SELECT a.attname FROM unnest(pk.conkey) WITH ORDINALITY AS k(n, p)
              JOIN pg_attribute a ON a.attrelid = pk.conrelid AND a.attnum = k.n
             ORDER BY k.p))
     FROM pg_constraint pk WHERE pk.conrelid = {oid} AND pk.contype = 'p'),
  """
_CHECKS_AND_UNIQUES = r"""(SELECT coalesce(json_agg(json_build_array(ck.conname, ck.convalidated)
                            ORDER BY ck.conname), '[]')
     FROM pg_constraint ck
    WHERE ck.conrelid = {oid} AND ck.contype = 'c' AND ck.conname LIKE 'dbt\_nn\_%%'),
  (SELECT coalesce(json_agg(json_build_array(uq.conname, ARRAY(
            SELECT a.attname FROM unnest(uq.conkey) WITH ORDINALITY AS k(n, p)
              JOIN pg_attribute a ON a.attrelid = uq.conrelid AND a.attnum = k.n
             ORDER BY k.p)) ORDER BY uq.conname), '[]')
     FROM pg_constraint uq WHERE uq.conrelid = {oid} AND uq.contype = 'u'),
  (SELECT coalesce(json_agg(json_build_array(ui.relname, ux.indisvalid)
                            ORDER BY ui.relname), '[]')
     FROM pg_index ux JOIN pg_class ui ON ui.oid = ux.indexrelid
    WHERE ux.indrelid = {oid} AND ui.relname LIKE 'dbt\_uq\_%%'),
  """
_EMPTY = "'[]'::json"

DETAILS_JSON = (_COLUMNS_AND_KEY + _CHECKS_AND_UNIQUES + INDEXES_JSON + ",\n  "
                + FOREIGN_KEYS_JSON + ",\n  " + OTHER_CONSTRAINTS_JSON + ")")
# The same for a table this transaction has just created from fresh_create.fresh_plan (a
# CREATE TABLE with its columns, NOT NULL and primary key, and its marker): the plan makes no
# NOT NULL check, unique constraint or index, index or foreign key, and no other session can
# see the table before the commit, let alone add one, so those five lists are known to be
# empty and are not looked up. Measured, issue 10 (backend CPU per create, blocks of 40
# creates alternated on one connection): leaving out the indexes and foreign keys, 4.09 ->
# 3.62 ms; the checks and unique constraints and indexes too, 2.54 -> 2.34 ms (320 each)
# and 2.19 -> 2.08 ms (480 each).
NEW_TABLE_DETAILS_JSON = (_COLUMNS_AND_KEY + ",\n  ".join([_EMPTY] * 5) + ",\n  "
                          + OTHER_CONSTRAINTS_JSON + ")")


def parse_details(schema: str, name: str, comment: str | None,
                  details: list[Any]) -> ActualTable:
    """A table as DETAILS_JSON describes it (psycopg2 has decoded the JSON)."""
    columns, key, checks, uniques, unique_indexes, indexes, foreign_keys, others = details
    return ActualTable(
        schema=schema, name=name,
        columns=tuple(ActualColumn(n, t, TypeIdentity(type_oid, typmod), not_null, default)
                      for n, t, type_oid, typmod, not_null, default in columns),
        primary_key=tuple(key[1]) if key else (),
        primary_key_constraint=key[0] if key else None,
        owner=Owner.from_marker(comment), comment=comment,
        checks=tuple((n, valid) for n, valid in checks),
        uniques=tuple((n, tuple(cols)) for n, cols in uniques),
        unique_indexes=tuple((n, valid) for n, valid in unique_indexes),
        indexes=parse_indexes(indexes),
        foreign_keys=parse_foreign_keys(foreign_keys),
        constraints=tuple((n, kind) for n, kind in others))
