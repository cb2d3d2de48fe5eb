"""The operator's connection pool against a real server: reuse, waiting, and dead connections."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import psycopg2
import pytest

from dbtable.database import DatabaseSettings, is_connection_error
from dbtable.pool import ConnectionPool, PoolTimeout
from tests.support.proxy import FreezableProxy

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


# --- A server that stops answering: every wait is bounded (issue 8, item 5) -----------------

@pytest.fixture
def proxy(pg_server) -> Iterator[FreezableProxy]:
    with FreezableProxy(pg_server.host, pg_server.port) as running:
        yield running


def in_thread(work: Callable[[], object], deadline: float) -> tuple[object, float]:
    """Run ``work`` in a thread; fail if it is still blocked after ``deadline`` seconds (the
    thread is left to the proxy's resume or close, which unblocks it)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as e:  # noqa: BLE001 - returned to the test
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout=deadline)
    assert not thread.is_alive(), f"still blocked after {deadline} s"
    return outcome[0], time.monotonic() - started


def select_one(pool: ConnectionPool) -> object:
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
        return cur.fetchone()[0]


def test_idle_connection_behind_a_frozen_proxy_fails_within_the_connect_timeout(
        operator_db, proxy) -> None:
    pool = ConnectionPool(DatabaseSettings(url=proxy.url_through(operator_db["url"]),
                                           connect_timeout_s=2), size=1)
    try:
        assert select_one(pool) == 1
        proxy.freeze()
        # Ping of the idle connection (2 s), then a new connection that never gets an answer
        # (2 s): a connection error, not a worker blocked until the kernel gives up.
        error, elapsed = in_thread(lambda: select_one(pool), deadline=15)
        assert isinstance(error, psycopg2.OperationalError) and is_connection_error(error), error
        assert "did not answer within 2 s" in str(error)
        assert elapsed < 10
        assert pool.busy() == []
        proxy.resume()
        assert select_one(pool) == 1
    finally:
        proxy.resume()
        pool.close()


def test_statement_on_a_server_gone_silent_ends_after_statement_timeout_and_grace(
        operator_db, proxy) -> None:
    settings = DatabaseSettings(url=proxy.url_through(operator_db["url"]), connect_timeout_s=2,
                                statement_timeout_ms=1000, answer_grace_s=1)
    pool = ConnectionPool(settings, size=1)

    def frozen_mid_transaction() -> object:
        with pool.connection() as conn, conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            proxy.freeze()
            cur.execute("SELECT 2")
        return None

    try:
        error, elapsed = in_thread(frozen_mid_transaction, deadline=15)
        assert isinstance(error, psycopg2.OperationalError) and is_connection_error(error), error
        # Not psycopg2's "connection already closed" from `with conn`'s rollback: the cause.
        assert "did not answer within 2 s" in str(error)
        assert elapsed < 10
        proxy.resume()
        assert select_one(pool) == 1
    finally:
        proxy.resume()
        pool.close()


def test_waiting_for_a_free_connection_is_bounded(operator_db) -> None:
    settings = DatabaseSettings(url=operator_db["url"], statement_timeout_ms=500,
                                answer_grace_s=0.5)
    pool = ConnectionPool(settings, size=1)
    try:
        with pool.connection():
            error, elapsed = in_thread(lambda: select_one(pool), deadline=15)
            assert isinstance(error, PoolTimeout), error
            assert "all 1 database connections stayed busy for 1 s" in str(error)
            assert elapsed < 10
        assert select_one(pool) == 1
    finally:
        pool.close()


def test_busy_reports_callers_and_for_how_long(operator_db) -> None:
    pool = ConnectionPool(DatabaseSettings(url=operator_db["url"]), size=1)
    try:
        assert pool.busy() == []
        with pool.connection() as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(0.2)")
            [busy] = pool.busy()
            assert busy.thread == threading.current_thread().name and busy.seconds >= 0.2
        assert pool.busy() == []
    finally:
        pool.close()
