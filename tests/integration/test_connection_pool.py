"""The operator's connection pool against a real server: reuse, waiting, and dead connections."""
from __future__ import annotations

import threading
import time

import psycopg2
import pytest

from dbtable.database import ConnectionPool, DatabaseSettings, is_connection_error

pytestmark = pytest.mark.integration


def backend_pid(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def test_idle_connections_are_reused(operator_db) -> None:
    pool = ConnectionPool(DatabaseSettings(url=operator_db["url"]), size=1)
    try:
        with pool.connection() as conn:
            first = backend_pid(conn)
        with pool.connection() as conn:
            assert backend_pid(conn) == first
    finally:
        pool.close()


def test_connection_killed_by_the_server_is_replaced_before_use(operator_db, other_conn) -> None:
    pool = ConnectionPool(DatabaseSettings(url=operator_db["url"]), size=1)
    try:
        with pool.connection() as conn:
            victim = backend_pid(conn)
        with other_conn.cursor() as cur:  # what a server restart does to idle sessions
            cur.execute("SELECT pg_terminate_backend(%s)", (victim,))
        other_conn.commit()
        with pool.connection() as conn:
            assert backend_pid(conn) != victim
    finally:
        pool.close()


def test_workers_beyond_the_pool_size_wait_instead_of_failing(operator_db) -> None:
    pool = ConnectionPool(DatabaseSettings(url=operator_db["url"]), size=2)
    errors: list[BaseException] = []
    served: list[int] = []  # the backend pid each worker was served by

    def work() -> None:
        try:
            with pool.connection() as conn, conn.cursor() as cur:
                cur.execute("SELECT pg_backend_pid() FROM pg_sleep(0.05)")
                served.append(cur.fetchone()[0])
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    # Daemon threads: a worker stuck for good fails the test below instead of hanging the run.
    threads = [threading.Thread(target=work, daemon=True) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60  # 8 x 50 ms of work; generous for a loaded machine
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        stuck = sum(thread.is_alive() for thread in threads)
        assert stuck == 0, f"{stuck} of 8 workers still waiting for a connection after 60 s"
    finally:
        pool.close()
    assert errors == []
    assert len(served) == 8
    assert len(set(served)) <= 2, "workers beyond the pool's size opened connections of their own"


def test_unreachable_server_is_reported_as_a_connection_error(operator_db) -> None:
    url = operator_db["url"].rsplit("@", 1)[0] + "@127.0.0.1:1/nowhere"
    pool = ConnectionPool(DatabaseSettings(url=url, connect_timeout_s=2), size=1)
    with pytest.raises(psycopg2.OperationalError) as raised:
        with pool.connection():
            pass
    assert is_connection_error(raised.value)
    assert operator_db["password"] not in str(raised.value)
