"""The orders table the integration tests of "Changing a table" share: one resource's spec
applied to a real PostgreSQL, rows put in, and the catalog read back to prove a refusal changed
nothing (tests/integration/test_column_changes.py, test_unique_changes.py and
test_index_changes.py)."""
from __future__ import annotations

from typing import Any

from psycopg2 import sql

from dbtable.catalog import read_owned_table
from dbtable.database import DatabaseSettings
from dbtable.model import Owner
from dbtable.plan import RefusalReason
from dbtable.reconcile import Outcome, reconcile_table
from dbtable.spec import parse_spec


OWNER = Owner("default", "orders", "5f1e0c2a-0000-4000-8000-0000000000c1")
BASE: dict[str, Any] = {"tableName": "ORDERS", "primaryKey": "ID",
                        "columns": [{"ID": "bigint"}, {"EMAIL": "text"}, {"STATUS": "text"}]}


def apply(conn: Any, settings: DatabaseSettings, **changes: Any) -> Outcome:
    return reconcile_table(conn, settings, parse_spec({**BASE, **changes}), OWNER)


def converge(conn: Any, settings: DatabaseSettings, **changes: Any) -> list[Outcome]:
    """Call until nothing is pending, as the handler does (each call replans)."""
    outcomes = [apply(conn, settings, **changes)]
    while outcomes[-1].pending:
        assert len(outcomes) < 10, outcomes
        outcomes.append(apply(conn, settings, **changes))
    return outcomes


def execute(conn: Any, settings: DatabaseSettings, statement: str, *params: Any) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL(statement).format(t=sql.Identifier(settings.schema, "orders")),
                    params)


def rows(conn: Any, settings: DatabaseSettings, n: int, email: str | None = "a@b") -> None:
    execute(conn, settings, "INSERT INTO {t} (id, email) SELECT g, %s FROM generate_series(1, %s)"
            " g", email, n)


def catalog(conn: Any, settings: DatabaseSettings) -> list[tuple]:
    """Columns with nullability and defaults, every constraint and index, and the rows."""
    with conn, conn.cursor() as cur:
        cur.execute("""
            SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid),
                   (SELECT array_agg(con.conname || ':' || pg_get_constraintdef(con.oid)
                                     || con.convalidated::text ORDER BY con.conname)
                      FROM pg_constraint con WHERE con.conrelid = c.oid),
                   (SELECT array_agg(indexrelid::regclass::text ORDER BY 1) FROM pg_index
                     WHERE indrelid = c.oid)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
             WHERE n.nspname = %s AND c.relname = 'orders' ORDER BY a.attnum""",
                    (settings.schema,))
        found = cur.fetchall()
        cur.execute(sql.SQL("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {} t")
                    .format(sql.Identifier(settings.schema, "orders")))
        return found + [cur.fetchone()]


def columns(conn: Any, settings: DatabaseSettings) -> dict[str, tuple[bool, str | None]]:
    with conn, conn.cursor() as cur:
        table = read_owned_table(cur, settings.schema, OWNER)
    return {c.name: (c.not_null, c.default) for c in table.columns}


def assert_refused_unchanged(conn: Any, settings: DatabaseSettings, reason: RefusalReason,
                             count_text: str, **changes: Any) -> None:
    before = catalog(conn, settings)
    outcome = apply(conn, settings, **changes)
    assert outcome.statements == () and outcome.plan.operations == ()
    (refusal,) = outcome.plan.refusals
    assert refusal.reason is reason, refusal
    assert count_text in refusal.message, refusal.message
    assert catalog(conn, settings) == before
