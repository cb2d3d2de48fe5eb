"""A new resource's plain table made without reading the catalog first (dbtable/fresh_create.py),
against a real PostgreSQL: the same table as the full reconcile makes, and nothing at all, with
the full reconcile left to decide, whenever the catalog would have changed the plan."""
from __future__ import annotations

import threading
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from dbtable.catalog import read_owned_table, read_table
from dbtable.database import DatabaseSettings
from dbtable.fresh_create import create_fresh
from dbtable.model import Owner
from dbtable.plan import RefusalReason
from dbtable.reconcile import reconcile_table
from dbtable.spec import parse_spec
from tests.integration.test_reconcile import snapshot
from tests.support.seed import seed_spec

pytestmark = pytest.mark.integration

OWNER = Owner("default", "website-users", "5f1e0c2a-0000-4000-8000-0000000000f1")
OTHER = Owner("default", "someone-else", "5f1e0c2a-0000-4000-8000-0000000000f2")
SEED = seed_spec()


def desired(**changes: Any):
    return parse_spec({**SEED, **changes})


def idle(conn: Any) -> bool:
    """No transaction left open on the server, and the connection as the pool lends it."""
    return conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE \
        and not conn.autocommit


def run(conn: Any, settings: DatabaseSettings, statement: str) -> None:
    """DDL written by the test itself, in the test's schema."""
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(settings.schema)))
        cur.execute(statement)


def test_the_table_is_the_one_the_full_reconcile_makes(conn, other_conn, settings,
                                                        operator_db) -> None:
    outcome = create_fresh(conn, settings, desired(), OWNER)
    assert outcome is not None and idle(conn)
    assert outcome.statements[0].startswith(f'CREATE TABLE "{settings.schema}"."website_users"')
    with conn, conn.cursor() as cur:
        assert outcome.table == read_owned_table(cur, settings.schema, OWNER)
    made_fresh = snapshot(conn, settings.schema)
    # The full reconcile of the same spec in a schema of its own makes the same catalog.
    other = DatabaseSettings(url=operator_db["url"], schema=settings.schema + "_full",
                             lock_timeout_ms=1000, statement_timeout_ms=10000)
    run(other_conn, settings, f'CREATE SCHEMA "{other.schema}"')
    full = reconcile_table(conn, other, desired(), OWNER)
    assert [s.replace(other.schema, settings.schema) for s in full.statements] \
        == list(outcome.statements)
    strip = [row[:1] + row[2:] for row in made_fresh]  # all but the table's oid
    assert [row[:1] + row[2:] for row in snapshot(conn, other.schema)] == strip
    # And the full reconcile finds nothing left to do.
    assert reconcile_table(conn, settings, desired(), OWNER).statements == ()


@pytest.mark.parametrize("holder", [
    "CREATE TABLE website_users (id integer)",
    "CREATE VIEW website_users AS SELECT 1 AS one",
    "CREATE TYPE website_users AS ENUM ('a')",
    "CREATE TABLE t (id integer); CREATE INDEX website_users ON t (id)",
], ids=["table", "view", "type", "index"])
def test_a_name_held_by_anything_makes_nothing(conn, other_conn, settings,
                                               holder: str) -> None:
    run(other_conn, settings, holder)
    before = snapshot(conn, settings.schema)
    assert create_fresh(conn, settings, desired(), OWNER) is None
    assert snapshot(conn, settings.schema) == before
    assert idle(conn)  # rolled back, usable
    refused = reconcile_table(conn, settings, desired(), OWNER)
    assert refused.plan.refusals[0].reason is RefusalReason.CONFLICT


def test_a_table_carrying_the_resources_marker_is_reclaimed_not_made_anew(
        conn, settings) -> None:
    # The resource's table under an older name (a spec restored from an earlier version).
    reconcile_table(conn, settings, desired(tableName="OLD_USERS"), OWNER)
    before = snapshot(conn, settings.schema)
    restored = Owner(OWNER.namespace, OWNER.name, "5f1e0c2a-0000-4000-8000-0000000000f3")
    assert create_fresh(conn, settings, desired(), restored) is None and idle(conn)
    assert snapshot(conn, settings.schema) == before  # no second table, no second marker
    outcome = reconcile_table(conn, settings, desired(), restored)
    assert any("RENAME TO" in statement for statement in outcome.statements)
    with conn, conn.cursor() as cur:
        assert read_table(cur, settings.schema, "old_users") is None


def test_an_unknown_type_makes_nothing_and_is_refused_by_the_full_reconcile(
        conn, settings) -> None:
    spec = desired(columns=[*SEED["columns"], {"MOOD": "no_such_type"}])
    assert create_fresh(conn, settings, spec, OWNER) is None
    assert snapshot(conn, settings.schema) == []
    outcome = reconcile_table(conn, settings, spec, OWNER)
    assert outcome.plan.refused and "no_such_type" in str(outcome.plan.refusals[0])


def test_a_spec_the_catalog_must_answer_for_is_left_to_the_full_reconcile(conn,
                                                                           settings) -> None:
    spec = desired(indexes=[{"columns": ["USER_NAME"]}])
    assert create_fresh(conn, settings, spec, OWNER) is None
    assert snapshot(conn, settings.schema) == []


def test_two_resources_racing_for_one_name_make_one_table(operator_db, settings) -> None:
    conns = [psycopg2.connect(operator_db["url"]) for _ in range(2)]
    start = threading.Barrier(2)
    results: dict[Owner, Any] = {}

    def create(conn: Any, owner: Owner) -> None:
        start.wait()
        results[owner] = create_fresh(conn, settings, desired(), owner)
    try:
        threads = [threading.Thread(target=create, args=(c, o))
                   for c, o in zip(conns, (OWNER, OTHER))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        made = [owner for owner, outcome in results.items() if outcome is not None]
        assert len(results) == 2 and len(made) == 1
        with conns[0], conns[0].cursor() as cur:
            table = read_table(cur, settings.schema, "website_users")
        assert table is not None and table.owner == made[0]
    finally:
        for c in conns:
            c.close()


def test_a_lock_held_elsewhere_bounds_the_wait_and_makes_nothing(conn, other_conn,
                                                                settings) -> None:
    with other_conn, other_conn.cursor() as cur:  # the resource's lock, as another replica
        cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                    (0x444254, f"resource:{OWNER}"))
        assert create_fresh(conn, settings, desired(), OWNER) is None  # lock_timeout: 1 s
    assert snapshot(conn, settings.schema) == []
