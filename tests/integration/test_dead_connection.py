"""A connection that dies in the middle of a step outside a transaction (CREATE UNIQUE INDEX
CONCURRENTLY, run in autocommit under a session-level lock): the statement's own error is
what surfaces, not a second error from trying to release the lock on the dead connection."""
from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from dbtable.database import DatabaseSettings, is_connection_error
from dbtable.model import Owner
from dbtable.reconcile import reconcile_table
from dbtable.spec import parse_spec

pytestmark = pytest.mark.integration

OWNER = Owner("default", "dying", "5f1e0c2a-0000-4000-8000-0000000000e1")
SPEC = {"tableName": "DYING", "primaryKey": "ID", "columns": [{"ID": "integer"}, {"C": "text"}]}


def test_backend_terminated_mid_step_reports_the_statements_own_error(
        operator_db, settings: DatabaseSettings, other_conn) -> None:
    settings = dataclasses.replace(settings, lock_timeout_ms=60_000)
    conn = psycopg2.connect(operator_db["url"])
    try:
        reconcile_table(conn, settings, parse_spec(SPEC), OWNER)
        pid = conn.get_backend_pid()
        # An open transaction that has written to the table: the concurrent build waits.
        other_conn.autocommit = False
        with other_conn.cursor() as cur:
            cur.execute(sql.SQL("INSERT INTO {} VALUES (1, 'x')").format(
                sql.Identifier(settings.schema, "dying")))
        unique = parse_spec({**SPEC, "columnOptions": {"C": {"unique": True}}})
        errors: list[BaseException] = []

        def run() -> None:
            try:
                outcome = reconcile_table(conn, settings, unique, OWNER)
                while outcome.pending:
                    outcome = reconcile_table(conn, settings, unique, OWNER)
            except BaseException as e:  # the assertion below says which
                errors.append(e)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        killer = psycopg2.connect(operator_db["url"])
        killer.autocommit = True
        try:
            deadline = time.monotonic() + 30
            with killer.cursor() as cur:
                while True:  # until the build is waiting for our open transaction
                    cur.execute("SELECT query FROM pg_stat_activity WHERE pid = %s "
                                "AND wait_event_type = 'Lock'", (pid,))
                    waiting = cur.fetchone()
                    if waiting and "CONCURRENTLY" in waiting[0]:
                        break
                    assert time.monotonic() < deadline, "the build never waited"
                    time.sleep(0.05)
                cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        finally:
            killer.close()
        worker.join(timeout=30)
        assert not worker.is_alive()
    finally:
        other_conn.rollback()
        conn.close()
    (error,) = errors
    assert isinstance(error, psycopg2.OperationalError), repr(error)
    assert is_connection_error(error)
    # libpq words it one way or the other, depending on when it noticed.
    assert any(words in str(error) for words in (
        "terminating connection due to administrator command", "server closed the connection"))
