"""Primary key column order against a real PostgreSQL: the catalog is read in key order, and a
reordered key is rebuilt (fixed examples for what a property test found only on some seeds)."""
from __future__ import annotations

from typing import Any

import pytest

from dbtable.catalog import read_owned_table
from dbtable.database import DatabaseSettings
from dbtable.model import Owner
from dbtable.reconcile import reconcile_table
from dbtable.spec import parse_spec

pytestmark = pytest.mark.integration

OWNER = Owner("default", "order-lines", "5f1e0c2a-0000-4000-8000-0000000000a1")
COLUMNS = [{"ORDER_ID": "integer"}, {"LINE_NO": "smallint"}, {"NOTE": "text"}]


def apply(conn: Any, settings: DatabaseSettings, key: str):
    spec = {"tableName": "order_lines", "columns": COLUMNS, "primaryKey": key}
    return reconcile_table(conn, settings, parse_spec(spec), OWNER)


def index_key(conn: Any, settings: DatabaseSettings) -> list[str]:
    """The primary key's columns in index order, straight from pg_index (not via catalog.py)."""
    with conn, conn.cursor() as cur:
        cur.execute("""
            SELECT a.attname
              FROM pg_index i
              CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indrelid = %s::regclass AND i.indisprimary
             ORDER BY k.position""", (f'"{settings.schema}".order_lines',))
        return [row[0] for row in cur.fetchall()]


def test_key_declared_against_column_order_is_created_and_read_in_key_order(conn,
                                                                             settings) -> None:
    apply(conn, settings, "LINE_NO, ORDER_ID")
    assert index_key(conn, settings) == ["line_no", "order_id"]
    with conn, conn.cursor() as cur:
        table = read_owned_table(cur, settings.schema, OWNER)
    assert table is not None and table.primary_key == ("line_no", "order_id")
    again = apply(conn, settings, "LINE_NO, ORDER_ID")
    assert again.plan.operations == () and again.statements == ()


def test_reordered_key_is_rebuilt_in_the_new_order(conn, settings) -> None:
    apply(conn, settings, "ORDER_ID, LINE_NO")
    assert index_key(conn, settings) == ["order_id", "line_no"]
    outcome = apply(conn, settings, "line_no, order_id")
    assert not outcome.plan.refused
    assert any("DROP CONSTRAINT" in s for s in outcome.statements)
    assert index_key(conn, settings) == ["line_no", "order_id"]
    assert apply(conn, settings, "line_no, order_id").statements == ()
