"""How many round trips a reconcile takes, counted on the wire (issue 10): each is a query the
client sends and waits for, in one of the few handler threads, with Python holding the GIL
the event loop needs. The counts are of the handler's real path: a pooled connection (its
liveness ping included) and ``reconcile_table`` against a real PostgreSQL.

These are counts, not timings: the same on a loaded machine as on an idle one.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2
import psycopg2.errors
import pytest

from dbtable.database import DatabaseSettings, connect
from dbtable.model import Owner
from dbtable.pool import ConnectionPool
from dbtable.reconcile import Outcome, reconcile_table
from dbtable.reconcile_locks import LOCK_CLASS
from dbtable.spec import parse_spec
from tests.support.seed import seed_spec
from tests.support.wire import QueryRecorder

pytestmark = pytest.mark.integration

OWNER = Owner("default", "website-users", "5f1e0c2a-0000-4000-8000-0000000000a1")
ORDERS_OWNER = Owner("default", "orders", "5f1e0c2a-0000-4000-8000-0000000000a2")
ORDERS: dict[str, Any] = {
    "tableName": "ORDERS", "primaryKey": "ID",
    "columns": [{"ID": "bigint"}, {"USER_ID": "integer"}, {"NOTE": "text"}],
    "indexes": [{"columns": ["NOTE"]}],
    "foreignKeys": [{"columns": ["USER_ID"],
                     "references": {"table": "WEBSITE_USERS", "columns": ["USER_ID"]}}]}

# The most each may take (measured: see the commit that set them).
CREATE, NO_OP, ADD_COLUMN, NO_OP_WITH_KEYS = 5, 4, 5, 4


class Counted:
    """The handler's path (``_reconcile_once``): a pooled connection, one reconcile."""

    def __init__(self, recorder: QueryRecorder, pool: ConnectionPool,
                 settings: DatabaseSettings) -> None:
        self.recorder, self.pool, self.settings = recorder, pool, settings

    def reconcile(self, spec: dict[str, Any], owner: Owner = OWNER
                  ) -> tuple[Outcome, list[str]]:
        self.recorder.take()
        with self.pool.connection() as conn:
            outcome = reconcile_table(conn, self.settings, parse_spec(spec), owner)
        return outcome, self.recorder.take()


@pytest.fixture
def counted(settings: DatabaseSettings) -> Iterator[Counted]:
    host, port = _host_port(settings.url or "")
    with QueryRecorder(host, port) as recorder:
        through = DatabaseSettings(url=recorder.url_through(settings.url or ""),
                                   schema=settings.schema, lock_timeout_ms=1000,
                                   statement_timeout_ms=10000)
        pool = ConnectionPool(through, size=1)
        try:
            with pool.connection():
                pass  # connected once: every reconcile below reuses it, as handlers do
            yield Counted(recorder, pool, through)
        finally:
            pool.close()


def _host_port(url: str) -> tuple[str, int]:
    from psycopg2.extensions import parse_dsn

    parts = parse_dsn(url)
    return parts.get("host") or "127.0.0.1", int(parts.get("port") or 5432)


def _said(queries: list[str]) -> str:
    return f"{len(queries)} round trips:\n" + "\n".join(f"  {q[:160]!r}" for q in queries)


def test_a_create_takes_at_most_a_few_round_trips(counted: Counted) -> None:
    outcome, queries = counted.reconcile(seed_spec())
    assert outcome.statements[0].startswith("CREATE TABLE")
    assert outcome.table is not None and outcome.table.name == "website_users"
    assert len(queries) <= CREATE, _said(queries)


def test_a_create_reads_its_new_table_back_by_name_not_by_every_comment(
        counted: Counted) -> None:
    """The read-back after a CREATE looks the new table up by its name (an index lookup);
    finding it by its marker would read every table comment in the schema, at every create,
    and a burst of N creates would cost O(N^2)."""
    outcome, queries = counted.reconcile(seed_spec())
    (trip,) = [q for q in queries if "CREATE TABLE" in q]
    assert "EXECUTE dbt_table_named(" in trip and "EXECUTE dbt_tables(" not in trip, trip
    # ... and it is still taken as ours only through its marker.
    assert outcome.table is not None and outcome.table.name == "website_users"
    assert outcome.table.owner == OWNER


def test_a_no_op_resume_takes_at_most_a_few_round_trips(counted: Counted) -> None:
    counted.reconcile(seed_spec())
    outcome, queries = counted.reconcile(seed_spec())
    assert outcome.statements == () and not outcome.pending
    assert outcome.table is not None and len(outcome.table.columns) == 5
    assert len(queries) <= NO_OP, _said(queries)


def test_an_added_column_takes_at_most_a_few_round_trips(counted: Counted) -> None:
    counted.reconcile(seed_spec())
    spec = seed_spec()
    spec["columns"] = [*spec["columns"], {"NICKNAME": "text"}]
    outcome, queries = counted.reconcile(spec)
    assert [s.split(" ADD COLUMN ")[1] for s in outcome.statements] == ['"nickname" text']
    assert [c.name for c in outcome.table.columns][-1] == "nickname"
    assert len(queries) <= ADD_COLUMN, _said(queries)


def test_a_no_op_with_an_index_and_a_foreign_key_reads_them_in_the_same_round_trips(
        counted: Counted) -> None:
    counted.reconcile(seed_spec())
    for _ in range(3):  # create, build the index (alone), validate the key
        outcome, _ = counted.reconcile(ORDERS, ORDERS_OWNER)
        if not outcome.pending:
            break
    outcome, queries = counted.reconcile(ORDERS, ORDERS_OWNER)
    assert outcome.statements == () and not outcome.pending
    assert len(outcome.table.indexes) == 1 and len(outcome.table.foreign_keys) == 1
    assert outcome.table.foreign_keys[0].validated
    assert len(queries) <= NO_OP_WITH_KEYS, _said(queries)


def test_a_no_op_with_constant_defaults_reads_them_in_one_more_round_trip_at_most(
        counted: Counted) -> None:
    """Each constant default, and the table's current one, is cast by the server to compare
    values (dbtable/resolve.py): all of them in one statement, not three round trips each."""
    spec = {**seed_spec(), "columnOptions": {
        "USER_NAME": {"default": "'nobody'"}, "SIGNUP_DATE": {"default": "'2024-01-01'"},
        "LAST_LOGIN": {"nullable": False, "default": "'2024-01-01 10:00'"}}}
    counted.reconcile(spec)
    outcome, queries = counted.reconcile(spec)
    assert outcome.statements == () and not outcome.pending
    assert len(queries) <= NO_OP + 1, _said(queries)


def test_a_connection_whose_first_reconcile_timed_out_on_a_lock_still_reconciles(
        settings: DatabaseSettings, other_conn: Any) -> None:
    """The catalog queries are prepared in the round trip that takes the locks; PREPARE
    outlives the rollback of a lock timeout, so the next reconcile on that connection must not
    prepare them again (42P05), nor find them missing."""
    hasty = DatabaseSettings(url=settings.url, schema=settings.schema, lock_timeout_ms=100,
                             statement_timeout_ms=10000)
    other_conn.autocommit = True
    with other_conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s, hashtext(%s))",
                    (LOCK_CLASS, f"resource:{OWNER}"))
    conn = connect(hasty)
    try:
        with pytest.raises(psycopg2.errors.LockNotAvailable):
            reconcile_table(conn, hasty, parse_spec(seed_spec()), OWNER)
        with other_conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                        (LOCK_CLASS, f"resource:{OWNER}"))
        created = reconcile_table(conn, hasty, parse_spec(seed_spec()), OWNER)
        again = reconcile_table(conn, hasty, parse_spec(seed_spec()), OWNER)
    finally:
        conn.close()
    assert created.statements[0].startswith("CREATE TABLE") and again.statements == ()
