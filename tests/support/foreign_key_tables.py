"""The customers and orders tables that the integration tests of foreign keys share, on a real
PostgreSQL: their specs and owners, converging a spec as the handler does, the fixtures that
make both tables with rows, and the catalog read back (tests/integration/test_foreign_keys.py,
test_foreign_key_names.py and test_foreign_key_race.py)."""
from __future__ import annotations

from typing import Any

import pytest
from psycopg2 import sql

from dbtable.catalog import read_owned_table
from dbtable.database import DatabaseSettings
from dbtable.model import Owner
from dbtable.reconcile import Outcome, reconcile_table
from dbtable.spec import parse_spec


CUSTOMERS_OWNER = Owner("default", "customers", "5f1e0c2a-0000-4000-8000-0000000000f1")
ORDERS_OWNER = Owner("default", "orders", "5f1e0c2a-0000-4000-8000-0000000000f2")
CUSTOMERS: dict[str, Any] = {"tableName": "CUSTOMERS", "primaryKey": "ID",
                             "columns": [{"ID": "bigint"}, {"NAME": "text"}]}
ORDERS: dict[str, Any] = {"tableName": "ORDERS", "primaryKey": "ID",
                          "columns": [{"ID": "bigint"}, {"CUSTOMER_ID": "bigint"},
                                      {"NOTE": "text"}]}
FK = {"columns": ["CUSTOMER_ID"], "references": {"table": "CUSTOMERS", "columns": ["ID"]}}


def converge(conn: Any, settings: DatabaseSettings, spec: dict[str, Any],
             owner: Owner = ORDERS_OWNER) -> list[Outcome]:
    """Call until nothing is pending, as the handler does (each call replans)."""
    outcomes = [reconcile_table(conn, settings, parse_spec(spec), owner)]
    while outcomes[-1].pending:
        assert len(outcomes) < 10, outcomes
        outcomes.append(reconcile_table(conn, settings, parse_spec(spec), owner))
    return outcomes


def run(conn: Any, settings: DatabaseSettings, statement: str, *params: Any) -> list[tuple]:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL(statement).format(
            o=sql.Identifier(settings.schema, "orders"),
            c=sql.Identifier(settings.schema, "customers")), params or None)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def customers(conn: Any, settings: DatabaseSettings) -> None:
    converge(conn, settings, CUSTOMERS, CUSTOMERS_OWNER)
    run(conn, settings, "INSERT INTO {c} SELECT g, 'c' || g FROM generate_series(1, 5) g")


@pytest.fixture
def orders(conn: Any, settings: DatabaseSettings, customers: None) -> None:
    converge(conn, settings, ORDERS)
    run(conn, settings, "INSERT INTO {o} SELECT g, g % 5 + 1, 'n' FROM generate_series(1, 50) g")


def snapshot(conn: Any, settings: DatabaseSettings) -> list[tuple]:
    """Every constraint of the schema with its definition, validity and comment, the columns,
    and the rows of both tables: what a refusal must leave byte-for-byte as it was."""
    return run(conn, settings, """
        SELECT c.relname, con.conname, pg_get_constraintdef(con.oid), con.convalidated,
               obj_description(con.oid, 'pg_constraint'),
               (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                 || a.attnotnull::text ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_constraint con ON con.conrelid = c.oid
         WHERE n.nspname = %s ORDER BY 1, 2""", settings.schema) + run(
        conn, settings, "SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {o} t),"
                        " (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {c} t)")


def keys(conn: Any, settings: DatabaseSettings, owner: Owner = ORDERS_OWNER):
    with conn, conn.cursor() as cur:
        return read_owned_table(cur, settings.schema, owner).foreign_keys
