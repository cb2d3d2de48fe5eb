"""The operator's connection pool: a fixed number of bounded connections shared by the worker
threads, and a record of who is using them for how long (for the liveness probe). An edge."""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions
from psycopg2.extensions import connection as Connection

from dbtable.database import (BoundedConnection, DatabaseSettings, ServerSilent, connect,
                              install_wait_callback, is_connection_error)


class PoolTimeout(Exception):
    """No connection came free within the bound: every one is busy with a slow server."""


@dataclass(frozen=True)
class Busy:
    """A caller of ConnectionPool.connection() that has not finished yet."""

    thread: str
    seconds: float


class ConnectionPool:
    """A fixed number of connections, kept open between uses and shared by the worker threads.

    Callers beyond ``size`` wait for a free connection, at most ``answer_timeout_s`` (then
    PoolTimeout). Idle connections are pinged before each use (bounded by connect_timeout), so
    one that a server restart killed is replaced instead of failing a reconcile; connections
    that fail are discarded. Nothing connects until a handler needs the database, so the
    operator starts while the database is down and reports that on each resource instead.
    """

    def __init__(self, settings: DatabaseSettings, size: int) -> None:
        install_wait_callback()
        self._settings = settings
        self._size = size
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[BoundedConnection] = []
        self._busy: dict[int, tuple[str, float]] = {}
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        token = object()
        with self._lock:
            self._busy[id(token)] = (threading.current_thread().name, time.monotonic())
        try:
            if not self._slots.acquire(timeout=self._settings.answer_timeout_s):
                raise PoolTimeout(f"all {self._size} database connections stayed busy for "
                                  f"{self._settings.answer_timeout_s:g} s")
            try:
                with self._checked_out() as conn:
                    yield conn
            finally:
                self._slots.release()
        finally:
            with self._lock:
                del self._busy[id(token)]

    def busy(self) -> list[Busy]:
        """Who is using (or waiting for) a connection now, and for how long, longest first."""
        now = time.monotonic()
        with self._lock:
            entries = list(self._busy.values())
        return sorted((Busy(name, now - since) for name, since in entries),
                      key=lambda b: -b.seconds)

    @contextlib.contextmanager
    def _checked_out(self) -> Iterator[Connection]:
        conn = self._take_idle() or self._connect()
        conn.answer_timeout_s = self._settings.answer_timeout_s
        broken = False
        try:
            yield conn
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
            broken = is_connection_error(e)
            if broken and conn.silence and not isinstance(e, ServerSilent):
                # psycopg2 closed the connection when our wait gave up; `with conn` then fails
                # to roll back ("connection already closed"): say what really happened.
                raise ServerSilent(conn.silence) from e
            raise
        finally:
            self._give_back(conn, broken)

    def _take_idle(self) -> BoundedConnection | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            conn.answer_timeout_s = float(self._settings.connect_timeout_s)
            if _alive(conn):
                return conn
            conn.close()

    def _connect(self) -> BoundedConnection:
        return connect(self._settings)

    def _give_back(self, conn: BoundedConnection, broken: bool) -> None:
        if not broken and not conn.closed \
                and conn.status != psycopg2.extensions.STATUS_READY:
            try:
                conn.rollback()
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                broken = True
        with self._lock:
            if not (broken or conn.closed or self._closed):
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _alive(conn: Connection) -> bool:
    """A round trip on an idle pooled connection: false if the server dropped it or is silent."""
    if conn.closed:
        return False
    try:
        # In autocommit: one round trip, not three (BEGIN, SELECT, ROLLBACK); switching it
        # on and off sends nothing to the server.
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        finally:
            if not conn.closed:
                conn.autocommit = False
        return True
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        return False
