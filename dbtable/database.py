"""Connection settings from the environment, and a thread-safe connection pool (an edge).

Settings come from libpq's own ``PG*`` variables and/or ``DATABASE_URL``; when neither names a
server, the defaults match the seed's demo (localhost:5432, database ``demodb``, user
``demouser``). The password is read by libpq from ``PGPASSWORD`` (or the URL): this module
never copies it, and ``describe()`` never shows it.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import psycopg2
import psycopg2.pool
from psycopg2.extensions import connection as Connection, parse_dsn

DEMO_DEFAULTS = {"PGHOST": "localhost", "PGPORT": "5432", "PGDATABASE": "demodb",
                 "PGUSER": "demouser"}
_KEYWORDS = {"PGHOST": "host", "PGPORT": "port", "PGDATABASE": "dbname", "PGUSER": "user"}


@dataclass(frozen=True)
class DatabaseSettings:
    url: str | None = field(default=None, repr=False)  # may hold a password: never shown
    defaults: Mapping[str, str] = field(default_factory=dict)
    schema: str = "public"
    lock_timeout_ms: int = 5000
    statement_timeout_ms: int = 60000
    connect_timeout_s: int = 5

    def connect_kwargs(self) -> dict[str, object]:
        """Arguments for psycopg2.connect: the URL, plus demo defaults libpq would not find."""
        kwargs: dict[str, object] = dict(self.defaults)
        kwargs["connect_timeout"] = self.connect_timeout_s
        kwargs["application_name"] = "database-table-operator"
        if self.url:
            kwargs["dsn"] = self.url
        return kwargs

    def describe(self, env: Mapping[str, str] | None = None) -> str:
        """Where we connect, for logs and status: host, port, database and user, no secret."""
        env = os.environ if env is None else env
        parts = {kw: env.get(var) for var, kw in _KEYWORDS.items()}
        parts.update({k: str(v) for k, v in self.defaults.items()})
        if self.url:
            parts.update({k: v for k, v in parse_dsn(self.url).items() if k in _KEYWORDS.values()})
        return (f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}/"
                f"{parts.get('dbname') or '?'} as {parts.get('user') or '?'}")


def settings_from_env(env: Mapping[str, str] | None = None) -> DatabaseSettings:
    """Read DATABASE_URL, PG* and DBT_* variables."""
    env = os.environ if env is None else env
    url = env.get("DATABASE_URL") or None
    url_parts = parse_dsn(url) if url else {}
    defaults = {_KEYWORDS[var]: value for var, value in DEMO_DEFAULTS.items()
                if not env.get(var) and _KEYWORDS[var] not in url_parts}
    return DatabaseSettings(
        url=url, defaults=defaults,
        schema=env.get("DBT_SCHEMA", "public"),
        lock_timeout_ms=int(env.get("DBT_LOCK_TIMEOUT_MS", "5000")),
        statement_timeout_ms=int(env.get("DBT_STATEMENT_TIMEOUT_MS", "60000")),
        connect_timeout_s=int(env.get("DBT_CONNECT_TIMEOUT_S", "5")),
    )


def connect(settings: DatabaseSettings) -> Connection:
    return psycopg2.connect(**settings.connect_kwargs())


def is_connection_error(error: BaseException) -> bool:
    """The connection itself failed (server gone, restarted, unreachable), not a statement.

    No SQLSTATE means libpq lost the server; class 08 is a connection exception and 57P an
    operator intervention (admin or crash shutdown, server starting). A lock or statement
    timeout carries another SQLSTATE and leaves the session usable.
    """
    if isinstance(error, psycopg2.InterfaceError):
        return True
    if not isinstance(error, psycopg2.OperationalError):
        return False
    return error.pgcode is None or error.pgcode.startswith(("08", "57P"))


class ConnectionPool:
    """psycopg2's ThreadedConnectionPool, made to wait instead of failing when exhausted.

    ``getconn()`` raises PoolError when all connections are out, so a semaphore sized like the
    pool makes extra workers wait. Idle connections are kept (psycopg2 keeps up to ``minconn``,
    so that is the pool's size) and pinged before each use, so a connection that a server
    restart killed is replaced instead of failing a reconcile; connections that fail are
    discarded. Nothing connects until a handler needs the database, so the operator starts
    while the database is down and reports that on each resource instead.
    """

    def __init__(self, settings: DatabaseSettings, size: int) -> None:
        self._settings = settings
        self._size = size
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        with self._lock:
            if self._pool is None:  # connects `size` connections; raises if the server is down
                self._pool = psycopg2.pool.ThreadedConnectionPool(
                    self._size, self._size, **self._settings.connect_kwargs())
            return self._pool

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        with self._slots:
            pool = self._get_pool()
            conn = pool.getconn()
            if not _alive(conn):
                pool.putconn(conn, close=True)
                conn = pool.getconn()
            broken = False
            try:
                yield conn
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                broken = is_connection_error(e)
                raise
            finally:
                broken = broken or bool(conn.closed)
                if not broken and conn.status != psycopg2.extensions.STATUS_READY:
                    conn.rollback()
                pool.putconn(conn, close=broken)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None


def _alive(conn: Connection) -> bool:
    """A round trip on an idle pooled connection: false if the server dropped it."""
    if conn.closed:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        conn.rollback()
        return True
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        return False
