"""The operator's connection pool against a real server: reuse, waiting, and dead connections."""
from __future__ import annotations

import threading

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

    def work() -> None:
        try:
            with pool.connection() as conn, conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(0.05)")
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    pool.close()
    assert errors == []


def test_unreachable_server_is_reported_as_a_connection_error(operator_db) -> None:
    url = operator_db["url"].rsplit("@", 1)[0] + "@127.0.0.1:1/nowhere"
    pool = ConnectionPool(DatabaseSettings(url=url, connect_timeout_s=2), size=1)
    with pytest.raises(psycopg2.OperationalError) as raised:
        with pool.connection():
            pass
    assert is_connection_error(raised.value)
    assert operator_db["password"] not in str(raised.value)
