"""Read tables from the PostgreSQL catalog (an edge: it takes a cursor)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dbtable.batch import Part, Prepared, send
from dbtable.catalog_details import DETAILS_JSON, NEW_TABLE_DETAILS_JSON, parse_details
from dbtable.catalog_indexes import read_indexes
from dbtable.fk_catalog import FOREIGN_KEYS_JSON, OTHER_CONSTRAINTS_JSON, parse_foreign_keys
from dbtable.model import (MARKER_KEY, MARKER_VALUE, ActualColumn, ActualTable, Owner,
                           TypeIdentity)
from dbtable.ownership import Marker, TableComment

# The marker is a JSON line in the table comment. The server filters on the exact JSON fragment
# %(marker)s (a substring, compared with strpos: no index serves this search, and strpos scans
# several times faster than LIKE '%...%'), and Owner.from_marker() then parses the few rows that
# match. The comments are read first, behind OFFSET 0 so that the planner keeps that order: one
# pass over pg_description, then a pg_class lookup per match. Left to itself, the planner
# reads every table of the schema and probes its comment one by one, which costs more from a
# hundred tables on (issue 10: 0.9 against 0.3 ms at 500 tables, 3.5 against 2.5 at 10,000).
_MARKED = """(SELECT d.objoid, d.description FROM pg_description d
          WHERE %(marker)s IS NOT NULL AND d.classoid = 'pg_class'::regclass
            AND d.objsubid = 0 AND strpos(d.description, %(marker)s) > 0 OFFSET 0) d"""
_BY_MARKER = """
SELECT c.oid, c.relname, d.description
  FROM """ + _MARKED + """
  JOIN pg_class c ON c.oid = d.objoid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p')
"""
# The table called %(name)s and the tables whose comment holds %(marker)s (either may be
# NULL), each with all its details: one round trip. Two branches, so that the one by name is
# an index lookup rather than part of one scan joining both.
_FOUND_BY_NAME = """
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND c.relname = %(name)s"""
# No index serves a search in the comments: this branch reads every table comment.
_FOUND_BY_MARKER = """
  SELECT c.oid FROM """ + _MARKED + """
    JOIN pg_class c ON c.oid = d.objoid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p')"""
_DETAILS_OF = """
SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment,
       {details} AS details
  FROM found JOIN pg_class c ON c.oid = found.oid
 ORDER BY c.relname
"""
_DETAILS_OF_FOUND = _DETAILS_OF.format(details=DETAILS_JSON.format(oid="c.oid"))
_FOUND = "WITH found AS (" + _FOUND_BY_NAME + "\n  UNION" + _FOUND_BY_MARKER + ")"
_TABLES = _FOUND + _DETAILS_OF_FOUND
TABLES = Prepared("dbt_tables", _TABLES,
                  (("schema", "name"), ("name", "name"), ("marker", "text")))
# TABLES in the transaction that has just created the table %(name)s from fresh_plan
# (dbtable/fresh_create.py): the same rows, but the new table's details skip the lookups of
# what that plan never makes (catalog_details.NEW_TABLE_DETAILS_JSON). A table found by the
# marker is someone else's and makes the caller roll back, whatever its details say.
NEW_TABLES = Prepared("dbt_new_tables",
                      _FOUND + _DETAILS_OF.format(
                          details=NEW_TABLE_DETAILS_JSON.format(oid="c.oid")),
                      TABLES.types)
# The table called %(name)s alone: an index lookup, whatever the number of tables.
TABLE_NAMED = Prepared("dbt_table_named",
                       "WITH found AS (" + _FOUND_BY_NAME + ")" + _DETAILS_OF_FOUND,
                       (("schema", "name"), ("name", "name")))
# The same as one JSON array of [name, comment, details], to ride along in a larger query.
TABLES_JSON = ("(SELECT coalesce(json_agg(json_build_array(t.name, t.comment, t.details)"
               " ORDER BY t.name), '[]') FROM (" + _TABLES + ") t)")

_OTHER_RELATION = """
SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relname = %(name)s AND c.relkind NOT IN ('r', 'p')
UNION ALL
SELECT 'type' FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = %(schema)s AND t.typname = %(name)s AND t.typrelid = 0
   AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid)
"""
# The NOT EXISTS leaves out automatic array types (`_foo` of table or type `foo`: the array
# its element type points back to). CREATE TABLE and RENAME TO move such a type out of the way
# (PostgreSQL's moveArrayTypeName renames `_foo` to `__foo`), so it does not hold the name.
# As a value of a larger query: the first such kind, or NULL.
BLOCKER_KIND = "(SELECT b.kind FROM (" + _OTHER_RELATION.replace(
    "c.relkind::text FROM", "c.relkind::text AS kind FROM") + ") b LIMIT 1)"
_RELATION_KINDS = {"i": "an index", "I": "an index", "S": "a sequence", "v": "a view",
                   "m": "a materialized view", "c": "a composite type", "f": "a foreign table",
                   "t": "a TOAST table", "type": "a type"}


class AmbiguousOwnership(RuntimeError):
    """More than one table carries the same resource's marker (someone copied a comment)."""


def read_table(cur: Any, schema: str, name: str) -> ActualTable | None:
    """The table called ``name`` in ``schema``, owned by anyone or no one."""
    send(cur, TABLES.execute(tables_params(schema, None, name)), prepare=(TABLES,))
    return tables_found(cur.fetchall(), schema, name=name)[1]


def read_blocker(cur: Any, schema: str, name: str) -> str | None:
    """What other than a table holds ``name`` in ``schema`` (e.g. "an index t_pkey"), if any.

    Relations and types share one namespace with tables, so CREATE TABLE or RENAME TO that
    name would fail; the planner reports it as a conflict instead.
    """
    cur.execute(_OTHER_RELATION, {"schema": schema, "name": name})
    row = cur.fetchone()
    return blocker_named(row[0] if row else None, name)


def blocker_named(kind: str | None, name: str) -> str | None:
    """What read_blocker says of a relation kind (or BLOCKER_KIND's value) holding ``name``."""
    return f"{_RELATION_KINDS.get(kind, 'another object')} {name}" if kind else None


def read_owned_table(cur: Any, schema: str, owner: Owner) -> ActualTable | None:
    """The table whose marker names this resource's namespace and name, whatever the table is
    called now and whichever uid wrote the marker: two live objects never share a namespace
    and name, so a marker with another uid was written by an earlier object of this resource
    (before a restore or a re-create), and the planner reclaims it.
    """
    send(cur, owned_table_query(schema, owner), prepare=(TABLES,))
    return tables_found(cur.fetchall(), schema, owner=owner)[0]


def owned_table_query(schema: str, owner: Owner) -> Part:
    """read_owned_table's query, for a caller that sends it with others (and TABLES among
    what that round trip prepares)."""
    return TABLES.execute(tables_params(schema, owner, None))


def named_table_query(schema: str, name: str) -> Part:
    """The table called ``name`` with its details (its marker too), for a caller that sends
    it with others (and TABLE_NAMED among what that round trip prepares). tables_found() then
    takes it as the owner's only if its marker names the owner."""
    return TABLE_NAMED.execute({"schema": schema, "name": name})


def tables_params(schema: str, owner: Owner | None, name: str | None) -> dict[str, Any]:
    """Parameters of _TABLES (and TABLES_JSON): the owner's tables and the one called name."""
    marker = None if owner is None else owner.marker_fragment()
    return {"schema": schema, "name": name, "marker": marker}


def tables_found(rows: Iterable[list[Any]], schema: str, owner: Owner | None = None,
                 name: str | None = None) -> tuple[ActualTable | None, ActualTable | None]:
    """From the rows of _TABLES: the table ``owner``'s marker names, and the one called
    ``name`` (the same table when it is both)."""
    rows = list(rows)
    mine = [row for row in rows if owner is not None
            and _same_owner(Owner.from_marker(row[1]), owner)]
    if len(mine) > 1:
        raise AmbiguousOwnership(
            f"tables {', '.join(sorted(r[0] for r in mine))} all carry the ownership marker of "
            f"{owner}; remove the marker from the ones that are copies")
    named = next((row for row in rows if row[0] == name), None)
    owned = parse_details(schema, *mine[0]) if mine else None
    if named is not None and owned is not None and owned.name == name:
        return owned, owned
    return owned, parse_details(schema, *named) if named else None


def read_retained_tables(cur: Any, schema: str) -> list[tuple[str, Marker]]:
    """Every table kept aside after its resource was deleted, with its marker."""
    cur.execute(_BY_MARKER, {"schema": schema, "marker": '"retainedUntil": '})
    found = [(name, TableComment.parse(comment).marker) for _, name, comment in cur.fetchall()]
    return [(name, marker) for name, marker in found
            if marker is not None and marker.retained_until is not None]


def _same_owner(found: Owner | None, owner: Owner) -> bool:
    return owner.same_resource(found)


# The drift sweep reads every managed table at once: a bounded number of queries whatever the
# number of tables. First the candidates (marked tables and tables holding a wanted name, names
# and comments only), then the columns and keys of all of them in one query. Lists are joined
# as sets (IN (SELECT unnest(...)), a join on unnest): `= ANY(array)` would compare every row
# with every element, quadratic at thousands of tables.
_ALL_CANDIDATES = """
SELECT c.oid, c.relname, d.description
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_description d
    ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
 WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p')
   AND (strpos(d.description, %(marker)s) > 0 OR c.relname IN (SELECT unnest(%(names)s::text[])))
"""
_ALL_DETAILS = """
SELECT c.oid,
       ARRAY(SELECT a.attname FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum),
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum),
       ARRAY(SELECT a.atttypid::bigint FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum),
       ARRAY(SELECT a.atttypmod FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum),
       con.conname,
       ARRAY(SELECT a.attname
               FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, position)
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
              ORDER BY k.position),
       ARRAY(SELECT a.attnotnull FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum),
       ARRAY(SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum),
       ARRAY(SELECT ck.conname::text FROM pg_constraint ck
              WHERE ck.conrelid = c.oid AND ck.contype = 'c'
                AND ck.conname LIKE 'dbt\\_nn\\_%%' ORDER BY ck.conname),
       ARRAY(SELECT ck.convalidated FROM pg_constraint ck
              WHERE ck.conrelid = c.oid AND ck.contype = 'c'
                AND ck.conname LIKE 'dbt\\_nn\\_%%' ORDER BY ck.conname),
       ARRAY(SELECT uq.conname::text FROM pg_constraint uq
              WHERE uq.conrelid = c.oid AND uq.contype = 'u' ORDER BY uq.conname),
       ARRAY(SELECT i.relname::text FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
              WHERE x.indrelid = c.oid AND i.relname LIKE 'dbt\\_uq\\_%%' ORDER BY i.relname),
       ARRAY(SELECT x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
              WHERE x.indrelid = c.oid AND i.relname LIKE 'dbt\\_uq\\_%%' ORDER BY i.relname),
       """ + FOREIGN_KEYS_JSON.format(oid="c.oid") + """,
       """ + OTHER_CONSTRAINTS_JSON.format(oid="c.oid") + """
  FROM unnest(%(oids)s::oid[]) AS wanted(oid)
  JOIN pg_class c ON c.oid = wanted.oid
  LEFT JOIN pg_constraint con ON con.conrelid = c.oid AND con.contype = 'p'
"""
_ALL_BLOCKERS = """
SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = %(schema)s AND c.relkind NOT IN ('r', 'p')
   AND c.relname IN (SELECT unnest(%(names)s::text[]))
UNION ALL
SELECT t.typname, 'type' FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = %(schema)s AND t.typrelid = 0
   AND t.typname IN (SELECT unnest(%(names)s::text[]))
   AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid)
"""


def read_managed_tables(cur: Any, schema: str, names: Iterable[str] = (),
                        owners: Iterable[tuple[str, str]] | None = None
                        ) -> tuple[tuple[ActualTable, ...], dict[str, str]]:
    """Every table carrying an ownership marker (only those of ``owners``, as (namespace,
    name), if given), plus the
    tables called one of ``names``, with their columns and keys; and what else (an index, a
    view, a type) holds any of ``names``.

    Four queries in all, however many tables there are: what the drift sweep compares.
    """
    wanted = set(names)
    marker = f'"{MARKER_KEY}": "{MARKER_VALUE}"'
    cur.execute(_ALL_CANDIDATES, {"schema": schema, "marker": marker, "names": sorted(wanted)})
    only = None if owners is None else set(owners)
    candidates = {oid: (name, comment) for oid, name, comment in cur.fetchall()
                  if only is None or name in wanted or _owner_key(comment) in only}
    tables: list[ActualTable] = []
    if candidates:
        all_indexes = read_indexes(cur, list(candidates))
        cur.execute(_ALL_DETAILS, {"oids": list(candidates)})
        for oid, column_names, column_types, type_oids, typmods, key_name, key_columns, \
                not_nulls, defaults, check_names, check_valid, unique_names, index_names, \
                index_valid, foreign_keys, others in cur.fetchall():
            name, comment = candidates[oid]
            tables.append(ActualTable(
                schema=schema, name=name,
                columns=tuple(ActualColumn(n, t, TypeIdentity(o, m), nn, d)
                              for n, t, o, m, nn, d in zip(column_names, column_types,
                                                           type_oids, typmods, not_nulls,
                                                           defaults)),
                primary_key=tuple(key_columns) if key_name else (),
                primary_key_constraint=key_name, owner=Owner.from_marker(comment),
                comment=comment, checks=tuple(zip(check_names, check_valid)),
                # The sweep needs only which constraints exist (it compares the operator's
                # own by name); their columns are read by a reconcile.
                uniques=tuple((name, ()) for name in unique_names),
                unique_indexes=tuple(zip(index_names, index_valid)),
                indexes=all_indexes.get(oid, ()),
                foreign_keys=parse_foreign_keys(foreign_keys),
                constraints=tuple((n, kind) for n, kind in others)))
    blockers: dict[str, str] = {}
    if wanted:
        cur.execute(_ALL_BLOCKERS, {"schema": schema, "names": sorted(wanted)})
        for name, kind in cur.fetchall():
            blockers.setdefault(name, f"{_RELATION_KINDS.get(kind, 'another object')} {name}")
    return tuple(sorted(tables, key=lambda t: t.name)), blockers


def _owner_key(comment: str | None) -> tuple[str, str] | None:
    owner = Owner.from_marker(comment)
    return (owner.namespace, owner.name) if owner else None
