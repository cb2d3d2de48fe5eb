"""The names of the operator's unique constraints on a real PostgreSQL (issue 9): two tables
of one schema with unique on the same column, a new table created with its constraint, and a
name that changes (the old naming, a renamed table or column) renamed in place, the index
kept (same oid), never rebuilt; a name someone else holds is refused, never dropped."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest
from psycopg2 import sql

from dbtable.database import DatabaseSettings
from dbtable.model import Owner
from dbtable.plan import RefusalReason
from dbtable.reconcile import Outcome, reconcile_table
from dbtable.spec import parse_spec
from dbtable.unique_operations import unique_name

pytestmark = pytest.mark.integration

ORDERS = Owner("default", "orders", "5f1e0c2a-0000-4000-8000-0000000000d1")
CUSTOMERS = Owner("default", "customers", "5f1e0c2a-0000-4000-8000-0000000000d2")
UNIQUE = {"EMAIL": {"unique": True}}


def spec(table: str = "ORDERS", email: str = "EMAIL", **changes: Any) -> dict[str, Any]:
    return {"tableName": table, "primaryKey": "ID",
            "columns": [{"ID": "bigint"}, {email: "text"}], **changes}


def converge(conn: Any, settings: DatabaseSettings, owner: Owner, body: dict[str, Any],
             repair_only: bool = False) -> list[Outcome]:
    """Call until nothing is pending, as the handler does (each call replans)."""
    outcomes: list[Outcome] = []
    while not outcomes or outcomes[-1].pending:
        assert len(outcomes) < 5, [o.statements for o in outcomes]
        outcomes.append(reconcile_table(conn, settings, parse_spec(body), owner,
                                        repair_only=repair_only))
    return outcomes


def run(conn: Any, settings: DatabaseSettings, statement: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL(statement).format(s=sql.Identifier(settings.schema)))


def unique_indexes(conn: Any, settings: DatabaseSettings, table: str) -> list[tuple[str, int]]:
    """(name, oid) of the table's unique constraints' indexes: the oid shows a rebuild."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT con.conname, con.conindid::int FROM pg_constraint con "
                    "WHERE con.conrelid = %s::regclass AND con.contype = 'u' ORDER BY 1",
                    (f'"{settings.schema}"."{table}"',))
        return cur.fetchall()


def legacy(column: str) -> str:
    return f"dbt_uq_{column}_{hashlib.sha256(column.encode()).hexdigest()[:8]}"


def test_two_tables_with_unique_on_the_same_column_both_get_their_constraint(
        conn, settings) -> None:
    converge(conn, settings, ORDERS, spec())
    converge(conn, settings, CUSTOMERS, spec("CUSTOMERS"))
    converge(conn, settings, ORDERS, spec(columnOptions=UNIQUE))
    converge(conn, settings, CUSTOMERS, spec("CUSTOMERS", columnOptions=UNIQUE))
    orders = unique_indexes(conn, settings, "orders")
    customers = unique_indexes(conn, settings, "customers")
    assert [n for n, _ in orders] == [unique_name("orders", "email")]
    assert [n for n, _ in customers] == [unique_name("customers", "email")]


def test_a_new_table_is_created_with_its_unique_constraint_in_one_call(conn, settings) -> None:
    (outcome,) = converge(conn, settings, ORDERS, spec(columnOptions=UNIQUE))
    name = unique_name("orders", "email")
    assert outcome.table is not None and outcome.table.uniques == ((name, ("email",)),)
    assert not any("CONCURRENTLY" in s for s in outcome.statements)
    assert converge(conn, settings, ORDERS, spec(columnOptions=UNIQUE))[0].statements == ()


def test_a_constraint_made_under_the_old_name_is_renamed_in_place(conn, settings) -> None:
    converge(conn, settings, ORDERS, spec())
    run(conn, settings, f"ALTER TABLE {{s}}.orders ADD CONSTRAINT {legacy('email')} "
                        "UNIQUE (email)")
    ((_, oid),) = unique_indexes(conn, settings, "orders")
    outcomes = converge(conn, settings, ORDERS, spec(columnOptions=UNIQUE))
    new = unique_name("orders", "email")
    assert [o.statements for o in outcomes] == [(
        f'ALTER TABLE "{settings.schema}"."orders" RENAME CONSTRAINT "{legacy("email")}" TO '
        f'"{new}"',)]
    assert unique_indexes(conn, settings, "orders") == [(new, oid)]  # its index, renamed too
    with conn, conn.cursor() as cur:
        cur.execute("SELECT %s::regclass::text", (f'"{settings.schema}"."{new}"',))
        assert cur.fetchone()[0].endswith(new)


def test_the_drift_check_moves_a_constraint_to_its_new_name(conn, settings) -> None:
    converge(conn, settings, ORDERS, spec(columnOptions=UNIQUE))
    new = unique_name("orders", "email")
    run(conn, settings, f"ALTER TABLE {{s}}.orders RENAME CONSTRAINT {new} TO "
                        f"{legacy('email')}")
    ((_, oid),) = unique_indexes(conn, settings, "orders")
    (outcome,) = converge(conn, settings, ORDERS, spec(columnOptions=UNIQUE), repair_only=True)
    assert not outcome.plan.refused and len(outcome.statements) == 1
    assert unique_indexes(conn, settings, "orders") == [(new, oid)]


def test_renaming_the_table_and_the_column_renames_the_constraint(conn, settings) -> None:
    converge(conn, settings, ORDERS, spec("OLD_ORDERS", "MAIL",
                                          columnOptions={"MAIL": {"unique": True}}))
    ((_, oid),) = unique_indexes(conn, settings, "old_orders")
    outcomes = converge(conn, settings, ORDERS, spec(
        columnOptions={"EMAIL": {"unique": True, "previousNames": ["MAIL"]}}))
    assert len(outcomes) == 1
    assert not any("INDEX" in s for s in outcomes[0].statements), outcomes[0].statements
    assert unique_indexes(conn, settings, "orders") == [(unique_name("orders", "email"), oid)]


def test_a_name_someone_else_holds_is_refused_and_left_alone(conn, settings) -> None:
    converge(conn, settings, ORDERS, spec())
    converge(conn, settings, CUSTOMERS, spec("CUSTOMERS"))
    held = unique_name("orders", "email")
    run(conn, settings, f"CREATE INDEX {held} ON {{s}}.customers (email)")
    for body in (spec(columnOptions=UNIQUE), spec("NEW_ORDERS", columnOptions=UNIQUE)):
        owner = ORDERS if body["tableName"] == "ORDERS" else Owner("default", "n", "u-3")
        if owner is not ORDERS:
            held = unique_name("new_orders", "email")
            run(conn, settings, f"CREATE INDEX {held} ON {{s}}.customers (email)")
        outcome = reconcile_table(conn, settings, parse_spec(body), owner)
        (refusal,) = outcome.plan.refusals
        assert outcome.statements == () and refusal.reason is RefusalReason.CONFLICT
        assert refusal.field == "spec.columnOptions.email.unique"
        assert f"the index {held} of table customers" in refusal.message, refusal.message
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = %s AND indexname "
                    "LIKE 'dbt_uq_%%'", (settings.schema,))
        assert cur.fetchone()[0] == 2  # both someone else's, both still there
    assert unique_indexes(conn, settings, "orders") == []
