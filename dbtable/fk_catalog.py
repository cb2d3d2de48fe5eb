"""Read foreign keys, referenced tables and orphan rows from PostgreSQL (an edge: a cursor).

The planner is pure; what it needs to know about other tables and about the rows is read here
before it plans (``dbtable.reconcile``), every name passed as a parameter or an Identifier.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import psycopg2
from psycopg2 import sql

from dbtable.catalog_indexes import WANTED_NAMES
from dbtable.fk_model import FK_MARKER, ActualForeignKey, FkAction, ReferencedTable
from dbtable.model import ActualTable, DesiredTable
from dbtable.operations import Facts
from dbtable.plan_columns import plan_renames
from dbtable.plan_foreign_keys import keys_to_count, referenced_tables

# Every foreign key of the table {oid} as one JSON array (one round trip, and it fits in the
# drift sweep's bulk query as one more column).
FOREIGN_KEYS_JSON = """(SELECT coalesce(json_agg(json_build_array(
         fk.conname,
         ARRAY(SELECT a.attname FROM unnest(fk.conkey) WITH ORDINALITY AS k(n, p)
                 JOIN pg_attribute a ON a.attrelid = fk.conrelid AND a.attnum = k.n
                ORDER BY k.p),
         rn.nspname, rc.relname,
         ARRAY(SELECT a.attname FROM unnest(fk.confkey) WITH ORDINALITY AS k(n, p)
                 JOIN pg_attribute a ON a.attrelid = fk.confrelid AND a.attnum = k.n
                ORDER BY k.p),
         fk.confdeltype, fk.confupdtype, fk.convalidated,
         obj_description(fk.oid, 'pg_constraint')) ORDER BY fk.conname), '[]')
    FROM pg_constraint fk
    JOIN pg_class rc ON rc.oid = fk.confrelid
    JOIN pg_namespace rn ON rn.oid = rc.relnamespace
   WHERE fk.conrelid = {oid} AND fk.contype = 'f')"""

# Every constraint of the table {oid} but its foreign keys, as [[name, contype], ...]: the names
# a foreign key of the spec cannot take (dbtable/plan_foreign_keys.py refuses them).
OTHER_CONSTRAINTS_JSON = """(SELECT coalesce(json_agg(json_build_array(oc.conname, oc.contype)
                                          ORDER BY oc.conname), '[]')
    FROM pg_constraint oc WHERE oc.conrelid = {oid} AND oc.contype <> 'f')"""

# What a key needs of the tables it references: their columns, and the column sets of the
# unique indexes PostgreSQL accepts as a referenced key (valid, immediate, no predicate, no
# expression; a primary key's and a unique constraint's index are among them).
_REFERENCED = """
SELECT c.relname,
       ARRAY(SELECT a.attname FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       (SELECT coalesce(json_agg(ARRAY(
                 SELECT a.attname FROM unnest(x.indkey::int2[]) AS k(n)
                   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n)), '[]')
          FROM pg_index x
         WHERE x.indrelid = c.oid AND x.indisunique AND x.indisvalid AND x.indimmediate
           AND x.indpred IS NULL AND x.indexprs IS NULL) AS keys
  FROM """ + WANTED_NAMES + """
  CROSS JOIN LATERAL (
    SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND c.relname = w.wanted
    OFFSET 0) c
"""
# (Each name looked up by pg_class's index, as dbtable/catalog_indexes.py's _HOLDERS does.)

# The same rows as one JSON array, for the names %(referenced)s: one more value of the query
# a reconcile reads everything with (dbtable/catalog_snapshot.py).
REFERENCED_JSON = ("(SELECT coalesce(json_agg(json_build_array(r.relname, r.columns, r.keys)), "
                   "'[]') FROM (" + _REFERENCED.replace("%(names)s", "%(referenced)s")
                   + ") r)")

# Keys of other tables that reference this one: a DROP TABLE without CASCADE would fail on
# them (2BP01), and with CASCADE would drop them, which nobody asked for.
_REFERENCING = """
SELECT fk.conname, cn.nspname, c.relname
  FROM pg_constraint fk
  JOIN pg_class c ON c.oid = fk.conrelid
  JOIN pg_namespace cn ON cn.oid = c.relnamespace
  JOIN pg_class r ON r.oid = fk.confrelid
  JOIN pg_namespace rn ON rn.oid = r.relnamespace
 WHERE fk.contype = 'f' AND rn.nspname = %(schema)s AND r.relname = %(name)s
   AND fk.conrelid <> fk.confrelid
 ORDER BY cn.nspname, c.relname, fk.conname
"""

# Types PostgreSQL cannot compare: datatype_mismatch, undefined_function (no = operator).
INCOMPATIBLE_TYPES = frozenset({"42804", "42883"})


def parse_foreign_keys(rows: Iterable[list[Any]]) -> tuple[ActualForeignKey, ...]:
    """The rows of FOREIGN_KEYS_JSON as values."""
    return tuple(ActualForeignKey(
        name=name, columns=tuple(columns), ref_schema=ref_schema, ref_table=ref_table,
        ref_columns=tuple(ref_columns), on_delete=FkAction.from_catalog(on_delete),
        on_update=FkAction.from_catalog(on_update), validated=validated,
        managed=comment == FK_MARKER)
        for name, columns, ref_schema, ref_table, ref_columns, on_delete, on_update, validated,
        comment in rows)


def read_foreign_keys(cur: Any, oid: int) -> tuple[ActualForeignKey, ...]:
    cur.execute("SELECT " + FOREIGN_KEYS_JSON.format(oid="%(oid)s"), {"oid": oid})
    return parse_foreign_keys(cur.fetchone()[0])


def read_referenced(cur: Any, schema: str, names: Iterable[str]
                    ) -> tuple[tuple[str, ReferencedTable | None], ...]:
    """Each of ``names`` with what a key needs of it, or None when no such table exists."""
    wanted = sorted(set(names))
    if not wanted:
        return ()
    cur.execute(_REFERENCED, {"schema": schema, "names": wanted})
    return referenced_found(cur.fetchall(), wanted)


def referenced_found(rows: Iterable[list[Any]], names: Iterable[str]
                     ) -> tuple[tuple[str, ReferencedTable | None], ...]:
    """The rows of _REFERENCED (or REFERENCED_JSON's arrays) as read_referenced returns them."""
    found = {name: ReferencedTable(name, tuple(columns), tuple(tuple(k) for k in keys))
             for name, columns, keys in rows}
    return tuple((name, found.get(name)) for name in sorted(set(names)))


def read_referencing(cur: Any, schema: str, table: str) -> tuple[str, ...]:
    """"foreign key K of table S.T" for each key of another table that references ``table``."""
    cur.execute(_REFERENCING, {"schema": schema, "name": table})
    return tuple(f"foreign key {name} of table {ns}.{rel}" for name, ns, rel in cur.fetchall())


def count_orphans(cur: Any, schema: str, table: str, columns: tuple[str, ...],
                  ref_table: str, ref_columns: tuple[str, ...]) -> int | str:
    """Rows of ``table`` whose key is set (no column NULL: MATCH SIMPLE checks only those)
    and matches no row of ``ref_table``; or PostgreSQL's message when it cannot compare the
    types. Runs under a savepoint, so that error leaves the caller's transaction usable."""
    child, parent = sql.Identifier("c"), sql.Identifier("p")
    set_ = sql.SQL(" AND ").join(sql.SQL("{}.{} IS NOT NULL").format(child, sql.Identifier(c))
                                 for c in columns)
    match = sql.SQL(" AND ").join(
        sql.SQL("{}.{} = {}.{}").format(parent, sql.Identifier(r), child, sql.Identifier(c))
        for c, r in zip(columns, ref_columns))
    query = sql.SQL("SELECT count(*) FROM {} AS c WHERE {} AND NOT EXISTS "
                    "(SELECT 1 FROM {} AS p WHERE {})").format(
        sql.Identifier(schema, table), set_, sql.Identifier(schema, ref_table), match)
    cur.execute("SAVEPOINT dbt_orphans")
    try:
        cur.execute(query)
        count = cur.fetchone()[0]
    except psycopg2.Error as e:
        cur.execute("ROLLBACK TO SAVEPOINT dbt_orphans")
        if e.pgcode not in INCOMPATIBLE_TYPES:
            raise
        return (e.diag.message_primary or str(e)).strip()
    cur.execute("RELEASE SAVEPOINT dbt_orphans")
    return int(count)


def read_key_facts(cur: Any, schema: str, desired: DesiredTable, actual: ActualTable | None,
                   facts: Facts,
                   references: tuple[tuple[str, ReferencedTable | None], ...] | None = None
                   ) -> Facts:
    """``facts`` plus what the foreign keys need: the referenced tables (``references``, when
    the caller read them already), and for each key about to be added or validated its orphan
    rows (or why the types cannot be compared)."""
    if not desired.foreign_keys and (actual is None or not actual.foreign_keys):
        return facts
    if references is None:
        references = read_referenced(cur, schema, referenced_tables(desired))
    if actual is None:
        return dataclasses.replace(facts, references=references)
    renames = plan_renames(desired, actual)[0]
    old_name = {new: old for old, new in renames.pairs}
    known = dict(references)
    orphans: list[tuple[str, int]] = []
    incompatible: list[tuple[str, str]] = []
    for key, columns in keys_to_count(desired, actual, renames.new_name):
        if key.ref_table == desired.name:  # the table itself, under its current names
            ref_table, ref_columns = actual.name, tuple(old_name.get(c, c)
                                                        for c in key.ref_columns)
            present = {c.name for c in actual.columns}
        else:
            found = known.get(key.ref_table)
            ref_table, ref_columns = key.ref_table, key.ref_columns
            present = set(found.columns) if found is not None else set()
        if not set(ref_columns) <= present:
            continue  # the planner refuses (or waits) for the missing reference first
        counted = count_orphans(cur, schema, actual.name, columns, ref_table, ref_columns)
        if isinstance(counted, str):
            incompatible.append((key.name, counted))
        else:
            orphans.append((key.name, counted))
    return dataclasses.replace(facts, references=references, orphans=tuple(orphans),
                               incompatible=tuple(incompatible))
