"""Type changes on real PostgreSQL: each widening rule is proven to need no rewrite (the table's
and its index's relfilenode unchanged) and no scan (no sequential scan in the transaction that
runs the operator's statement), with the data intact; each lossless rewrite is proven to rewrite
(and is made only with allowTableRewrite); refusals leave the catalog byte-for-byte unchanged."""
from __future__ import annotations

from typing import Any

import pytest
from psycopg2 import sql

from dbtable.database import DatabaseSettings
from dbtable.model import Owner
from dbtable.operations import RefusalReason
from dbtable.reconcile import preview, reconcile_table
from dbtable.spec import parse_spec
from dbtable.type_operations import RecheckColumnType, RewriteColumnType, WidenColumnType
from dbtable.types import parse_type
from tests.support.type_changes import REWRITE, WIDEN

pytestmark = pytest.mark.integration
OWNER = Owner("default", "retype", "5f1e0c2a-0000-4000-8000-0000000000aa")

# A value of each old type (as the catalog prints it), for the rows that must survive.
VALUES = {
    "character varying(10)": "abc  ", "character varying": "abc", "text": "abc",
    "numeric(10,2)": "12345678.91", "numeric(5,-2)": "12300", "bit varying(5)": "101",
    "timestamp(3) without time zone": "2024-01-02 03:04:05.123",
    "timestamp without time zone": "2024-01-02 03:04:05.123456",
    "timestamp(3) with time zone": "2024-01-02 03:04:05.123+00",
    "time(2) without time zone": "03:04:05.12", "time(2) with time zone": "03:04:05.12+02",
    "interval(2)": "1 day 02:03:04.12", "interval": "1 day 02:03:04.123456",
    "interval day to second(2)": "1 day 02:03:04.12",
    "interval minute to second(1)": "00:03:04.1", "cidr": "10.0.0.0/8",
    "smallint": "32767", "integer": "2147483647", "bigint": "9223372036854775807",
    "real": "1.5",
}


def spec(column_type: str, allow: bool = False, **extra: Any) -> dict[str, Any]:
    return {"tableName": "RETYPED", "columns": [{"ID": "integer"}, {"C": column_type}],
            "primaryKey": "ID", "allowTableRewrite": allow, **extra}


def reconcile(conn: Any, settings: DatabaseSettings, body: dict[str, Any]):
    return reconcile_table(conn, settings, parse_spec(body), OWNER)


def create(conn: Any, settings: DatabaseSettings, old: str, index: str = "") -> str:
    """The table with the old type, two rows (one NULL), and a plain index on the column."""
    outcome = reconcile(conn, settings, spec(old))
    assert not outcome.plan.refused
    table = sql.Identifier(settings.schema, "retyped")
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("INSERT INTO {} VALUES (1, %s), (2, NULL)").format(table),
                    (VALUES.get(old, "1"),))
        cur.execute(sql.SQL(index or "CREATE INDEX retyped_c ON {} (c)").format(table))
    return values(conn, settings)


def values(conn: Any, settings: DatabaseSettings, new: str | None = None) -> list[tuple]:
    """The column's values as text; with ``new``, the old text read as the new type."""
    with conn, conn.cursor() as cur:
        column = sql.SQL("c::text") if new is None else sql.SQL("c::text::{}::text").format(
            parse_type(new).sql())
        cur.execute(sql.SQL("SELECT id, {} FROM {} ORDER BY id").format(
            column, sql.Identifier(settings.schema, "retyped")))
        return cur.fetchall()


def files(conn: Any, settings: DatabaseSettings) -> dict[str, int]:
    """relfilenode of the table and each of its indexes, by name."""
    with conn, conn.cursor() as cur:
        cur.execute("""SELECT c.relname, c.relfilenode::int FROM pg_class c
                         JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = %s ORDER BY 1""", (settings.schema,))
        return dict(cur.fetchall())


def apply_counting_scans(conn: Any, settings: DatabaseSettings, body: dict[str, Any]
                         ) -> tuple[list[Any], int]:
    """Run the operator's statements for ``body`` (from its own planner and renderer) in one
    transaction, and count the sequential scans of the table they made."""
    plan, statements = preview(conn, settings, parse_spec(body), OWNER)
    assert not plan.refused, plan.refusals
    query = """SELECT coalesce(sum(seq_scan), 0) FROM pg_stat_xact_user_tables
                WHERE schemaname = %s AND relname = 'retyped'"""
    with conn, conn.cursor() as cur:
        cur.execute(query, (settings.schema,))
        (before,) = cur.fetchone()
        for statement in statements:
            cur.execute(statement)
        cur.execute(query, (settings.schema,))
        (after,) = cur.fetchone()
    return list(plan.operations), after - before


def catalog(conn: Any, settings: DatabaseSettings) -> list[tuple]:
    """Everything about the schema's relations: files, columns, constraints, indexes."""
    with conn, conn.cursor() as cur:
        cur.execute("""
            SELECT c.relname, c.relkind, c.relfilenode::int, a.attname,
                   format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid),
                   (SELECT array_agg(conname || ':' || pg_get_constraintdef(oid) ORDER BY 1)
                      FROM pg_constraint WHERE conrelid = c.oid)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
              LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
             WHERE n.nspname = %s ORDER BY 1, a.attnum""", (settings.schema,))
        return cur.fetchall()


@pytest.mark.parametrize("old, new", WIDEN)
def test_widening_needs_no_rewrite_and_no_scan(conn, settings, old: str, new: str) -> None:
    before_values = create(conn, settings, old)
    before = files(conn, settings)
    operations, scans = apply_counting_scans(conn, settings, spec(new))
    assert [type(op) for op in operations] == [WidenColumnType]
    assert scans == 0
    assert files(conn, settings) == before  # neither the table nor its index was rewritten
    assert values(conn, settings) == values(conn, settings, new)
    assert [row[0] for row in values(conn, settings)] == [row[0] for row in before_values]
    assert reconcile(conn, settings, spec(new)).statements == ()  # done: nothing left to do


def test_indexed_key_unique_referenced_varchar_widens_in_place(conn, settings) -> None:
    """A varchar that is the primary key, unique, has a default and NOT NULL, and is
    referenced by a foreign key: no index is rebuilt, nothing is scanned."""
    body = {"tableName": "RETYPED", "columns": [{"C": "varchar(10)"}], "primaryKey": "C",
            "columnOptions": {"C": {"unique": True, "default": "'x'"}}}
    assert not reconcile(conn, settings, body).plan.refused
    while reconcile(conn, settings, body).pending:  # the unique index is built in steps
        pass
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("INSERT INTO {0} VALUES ('abc'); CREATE TABLE {1} (c varchar(10) "
                            "REFERENCES {0}); INSERT INTO {1} VALUES ('abc')").format(
            sql.Identifier(settings.schema, "retyped"),
            sql.Identifier(settings.schema, "child")))
    before = files(conn, settings)
    assert len(before) == 4  # the table, its key, its unique index, and the child
    body["columns"] = [{"C": "varchar(200)"}]
    operations, scans = apply_counting_scans(conn, settings, body)
    assert [type(op) for op in operations] == [WidenColumnType]
    assert (scans, files(conn, settings)) == (0, before)
    assert values_of(conn, settings) == [("abc",)]


def values_of(conn: Any, settings: DatabaseSettings) -> list[tuple]:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT c FROM {}").format(sql.Identifier(settings.schema,
                                                                      "retyped")))
        return cur.fetchall()


@pytest.mark.parametrize("old, new", REWRITE)
def test_lossless_rewrite_only_with_the_opt_in(conn, settings, old: str, new: str) -> None:
    create(conn, settings, old)
    before = catalog(conn, settings)
    refused = reconcile(conn, settings, spec(new))
    assert refused.statements == ()
    assert [(r.reason, r.field) for r in refused.plan.refusals] == [
        (RefusalReason.TABLE_REWRITE, "spec.columns.c")]
    assert "spec.allowTableRewrite: true" in refused.plan.refusals[0].message
    assert catalog(conn, settings) == before  # byte for byte

    files_before, expected = files(conn, settings), values(conn, settings, new)
    operations, scans = apply_counting_scans(conn, settings, spec(new, allow=True))
    assert [type(op) for op in operations] == [RewriteColumnType]
    assert scans >= 1
    after = files(conn, settings)
    assert all(after[name] != node for name, node in files_before.items())  # rewritten
    assert values(conn, settings) == expected
    assert reconcile(conn, settings, spec(new, allow=True)).statements == ()


@pytest.mark.parametrize("old, new", [
    ("character varying(20)", "varchar(10)"), ("bigint", "integer"), ("numeric", "numeric(12,2)"),
    ("text", "varchar(10)"), ("integer", "text"), ("timestamp(3) with time zone",
                                                   "timestamp(2) with time zone")])
def test_narrowing_is_refused_even_with_the_opt_in(conn, settings, old: str, new: str) -> None:
    create(conn, settings, old)
    before = catalog(conn, settings)
    for allow in (False, True):
        outcome = reconcile(conn, settings, spec(new, allow=allow, columnOptions={
            "C": {"nullable": False}}))  # the allowed part of the spec waits too
        assert outcome.statements == ()
        assert [(r.reason, r.field) for r in outcome.plan.refusals] == [
            (RefusalReason.TYPE_CHANGED, "spec.columns.c")]
        assert catalog(conn, settings) == before


@pytest.mark.parametrize("index", [
    "ALTER TABLE {} ADD CONSTRAINT short CHECK (length(c) < 100)",
    "CREATE INDEX c_lower ON {} (lower(c))",
    "CREATE INDEX c_partial ON {} (id) WHERE c IS NOT NULL",
])
def test_widening_that_rechecks_is_a_scan_and_needs_the_opt_in(conn, settings,
                                                               index: str) -> None:
    create(conn, settings, "character varying(10)", index=index)
    before = catalog(conn, settings)
    refused = reconcile(conn, settings, spec("varchar(20)"))
    (refusal,) = refused.plan.refusals
    assert refusal.reason is RefusalReason.TABLE_REWRITE
    assert ("check constraint short" if "CHECK" in index else "index c_") in refusal.message
    assert catalog(conn, settings) == before
    operations, scans = apply_counting_scans(conn, settings, spec("varchar(20)", allow=True))
    assert [type(op) for op in operations] == [RecheckColumnType]
    assert scans >= 1  # what the plan says: "scans the table"
