"""Connection settings from the environment, and connections whose waits are all bounded.

Settings come from libpq's own ``PG*`` variables and/or ``DATABASE_URL``; when neither names a
server, the defaults match the seed's demo (localhost:5432, database ``demodb``, user
``demouser``). The password is read by libpq from ``PGPASSWORD`` (or the URL): this module
never copies it, and ``describe()`` never shows it.

Every wait on the server is bounded, so a database that stops answering cannot freeze the
operator: connecting (``connect_timeout``), each round trip (``statement_timeout`` plus a
grace, enforced on our side by a wait callback, because a proxy or a half-dead host that stops
forwarding keeps the TCP connection open and the kernel acknowledging our packets), idle
connections (TCP keepalives, ``tcp_user_timeout``), the ping before reuse, and the wait for a
free connection (``dbtable.pool``).
"""
from __future__ import annotations

import functools
import os
import select
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions
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
    # A round trip may take statement_timeout (the server cancels it then) plus this much for
    # the cancellation to come back; past that the server or the network is gone.
    answer_grace_s: float = 10.0
    # Idle connections: probe after 10 s of silence, every 5 s, give up after 3 misses; and
    # unacknowledged data counts as a dead connection after 30 s. These catch a host or a
    # network that vanished, which would otherwise take the kernel about 15 minutes.
    keepalives_idle_s: int = 10
    keepalives_interval_s: int = 5
    keepalives_count: int = 3
    tcp_user_timeout_ms: int = 30000

    @property
    def answer_timeout_s(self) -> float:
        """The longest a healthy server takes to answer one statement of ours."""
        return self.statement_timeout_ms / 1000 + self.answer_grace_s

    def connect_kwargs(self) -> dict[str, object]:
        """Arguments for psycopg2.connect: the URL, plus demo defaults libpq would not find."""
        kwargs: dict[str, object] = dict(self.defaults)
        kwargs.update(connect_timeout=self.connect_timeout_s, keepalives=1,
                      keepalives_idle=self.keepalives_idle_s,
                      keepalives_interval=self.keepalives_interval_s,
                      keepalives_count=self.keepalives_count,
                      tcp_user_timeout=self.tcp_user_timeout_ms)
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


class InvalidDatabaseUrl(ValueError):
    """DATABASE_URL cannot be parsed. The message never quotes the URL: it may hold a password,
    and libpq's own message quotes the offending token, which is often the password."""


class ServerSilent(psycopg2.OperationalError):
    """The server (or whatever is between us) did not answer within the bound; the connection
    was closed. No SQLSTATE, so it counts as a connection error."""


def settings_from_env(env: Mapping[str, str] | None = None) -> DatabaseSettings:
    """Read DATABASE_URL, PG* and DBT_* variables."""
    env = os.environ if env is None else env
    url = env.get("DATABASE_URL") or None
    url_parts = _parse_url(url) if url else {}
    defaults = {_KEYWORDS[var]: value for var, value in DEMO_DEFAULTS.items()
                if not env.get(var) and _KEYWORDS[var] not in url_parts}
    return DatabaseSettings(
        url=url, defaults=defaults,
        schema=env.get("DBT_SCHEMA", "public"),
        lock_timeout_ms=int(env.get("DBT_LOCK_TIMEOUT_MS", "5000")),
        statement_timeout_ms=int(env.get("DBT_STATEMENT_TIMEOUT_MS", "60000")),
        connect_timeout_s=int(env.get("DBT_CONNECT_TIMEOUT_S", "5")),
    )


def _parse_url(url: str) -> dict[str, str]:
    try:
        return parse_dsn(url)
    except psycopg2.ProgrammingError:
        raise InvalidDatabaseUrl(
            "DATABASE_URL is not a valid libpq URL or keyword string (for example a '%' that "
            "does not start a two-digit escape such as %25, or a bad keyword); the value is "
            "not shown because it may hold the password") from None


def connect(settings: DatabaseSettings) -> BoundedConnection:
    """A connection whose every wait is bounded: connect_timeout until it is connected, then
    whatever its ``answer_timeout_s`` is set to (connect_timeout until the caller says)."""
    install_wait_callback()
    # libpq ignores connect_timeout when driven asynchronously: the wait callback enforces it.
    factory = functools.partial(BoundedConnection,
                                answer_timeout_s=float(settings.connect_timeout_s))
    return psycopg2.connect(**settings.connect_kwargs(), connection_factory=factory)


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


class BoundedConnection(Connection):
    """A connection whose every wait on the server ends after ``answer_timeout_s``."""

    def __init__(self, dsn: str, *args: object, answer_timeout_s: float = 5.0,
                 **kwargs: object) -> None:
        self.answer_timeout_s = answer_timeout_s  # set first: connecting waits too
        self.silence: str | None = None
        super().__init__(dsn, *args, **kwargs)


def _wait_bounded(conn: Connection) -> None:
    """psycopg2's wait callback: poll the connection, but never longer than its bound.

    libpq's blocking calls wait for as long as the socket stays open; through this callback
    psycopg2 drives libpq asynchronously and we decide how long to wait. On timeout psycopg2
    closes the connection, so a late answer cannot be mistaken for the next one.
    """
    timeout = getattr(conn, "answer_timeout_s", None)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if state == psycopg2.extensions.POLL_READ:
            ready = select.select([conn.fileno()], [], [], remaining)[0]
        elif state == psycopg2.extensions.POLL_WRITE:
            ready = select.select([], [conn.fileno()], [], remaining)[1]
        else:
            raise psycopg2.OperationalError(f"unexpected connection state {state}")
        if not ready:
            message = f"the server did not answer within {timeout:g} s"
            if isinstance(conn, BoundedConnection):
                conn.silence = message
            raise ServerSilent(message)


_wait_lock = threading.Lock()


def install_wait_callback() -> None:
    """Process-wide (psycopg2 has one callback); connections of other code keep unbounded
    waits, as they have no ``answer_timeout_s``."""
    with _wait_lock:
        if psycopg2.extensions.get_wait_callback() is not _wait_bounded:
            psycopg2.extensions.set_wait_callback(_wait_bounded)
