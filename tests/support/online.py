"""Live traffic on a table while it changes: the online proof's and bench_online's shared parts.

``Traffic`` runs client threads, each on its own connection, doing single-row INSERTs, UPDATEs
and SELECTs without pause; every statement's latency is measured by the client itself.
``Reader`` is a long report: a transaction that keeps an ACCESS SHARE lock for a while, so a
change that needs an exclusive lock must wait for it (this is where ``lock_timeout`` matters).
``converge`` applies a spec as the handler does: ``reconcile_table`` until nothing is pending,
a lock timeout retried (Kopf's backoff compressed to ``retry_s``).

The client statements name only columns whose names every change keeps (``id``, ``email``,
``status``) and write the renamed column by position, so one workload is valid before and after
each change, and it writes the columns the changes touch: ``email`` (NOT NULL, unique, a wider
type), ``status`` (NOT NULL, default), the second column (renamed; a foreign key).
"""
from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg2
from psycopg2 import sql

from dbtable.database import DatabaseSettings
from dbtable.failures import classify
from dbtable.model import DesiredTable, Owner
from dbtable.reconcile import Outcome, reconcile_table

CUSTOMERS = 1000  # the second column holds 1..CUSTOMERS (the rows a foreign key checks)
_RUNS = itertools.count(1)  # keeps each run's new ids and emails apart from earlier runs'


@dataclass(frozen=True)
class Statement:
    """One client statement: its kind, when it started and ended (perf_counter), its error."""

    kind: str
    started: float
    ended: float
    error: str | None = None

    @property
    def waited(self) -> float:
        return self.ended - self.started


class Traffic:
    """``clients`` threads hammering ``target`` (a table of ``rows`` rows, ids 1..rows)."""

    def __init__(self, url: str, target: sql.Identifier, rows: int, clients: int = 4) -> None:
        self.url, self.target, self.rows, self.clients = url, target, rows, clients
        self._run_no = next(_RUNS)
        self._stop = threading.Event()
        self._logs: list[list[Statement]] = [[] for _ in range(clients)]
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(clients)]
        self._failed_to_start: list[BaseException] = []

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        # Every client connected and ran a statement: the traffic is live before any change.
        self._wait(lambda: all(self._logs) or bool(self._failed_to_start), 30, "clients started")
        if self._failed_to_start:
            raise self._failed_to_start[0]
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        assert not any(t.is_alive() for t in self._threads), "a client thread did not stop"

    def settle(self, after: float, timeout: float = 30) -> None:
        """Wait until each client has finished a statement begun after ``after``: any
        statement that was waiting on the change is then in the log."""
        self._wait(lambda: all(log and log[-1].started > after for log in self._logs),
                   timeout, "every client's next statement")

    def statements(self) -> list[Statement]:
        return [s for log in self._logs for s in list(log)]

    def during(self, start: float, end: float) -> list[Statement]:
        """The statements that were running at some moment between ``start`` and ``end``."""
        return [s for s in self.statements() if s.started <= end and s.ended >= start]

    def _wait(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.01)

    def _run(self, client: int) -> None:
        try:
            conn = psycopg2.connect(self.url)
        except BaseException as e:  # reported by __enter__
            self._failed_to_start.append(e)
            return
        conn.autocommit = True
        rng = random.Random(client)
        log = self._logs[client]
        try:
            with conn.cursor() as cur:
                for n in range(1, 1 << 62):
                    if self._stop.is_set():
                        break
                    kind = ("insert", "update", "select")[n % 3]
                    started = time.perf_counter()
                    error = None
                    try:
                        self._one(cur, kind, client, n, rng)
                    except Exception as e:  # any error at all counts against the change
                        text = getattr(e, "pgerror", None) or str(e) or type(e).__name__
                        error = text.strip().splitlines()[0]
                    log.append(Statement(kind, started, time.perf_counter(), error))
        finally:
            conn.close()

    def _one(self, cur: Any, kind: str, client: int, n: int, rng: random.Random) -> None:
        if kind == "insert":  # by position: the second column is written whatever its name
            new_id = self.rows + self._run_no * 10**9 + n * self.clients + client
            cur.execute(sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, 'new')").format(self.target),
                        (new_id, rng.randint(1, CUSTOMERS),
                         f"c{self._run_no}-{client}-{n}@example.org"))
        elif kind == "update":
            cur.execute(sql.SQL("UPDATE {} SET email = %s, status = %s WHERE id = %s")
                        .format(self.target), (f"u{self._run_no}-{client}-{n}@example.org",
                                               rng.choice(("new", "paid")),
                                               rng.randint(1, self.rows)))
        else:
            cur.execute(sql.SQL("SELECT * FROM {} WHERE id = %s").format(self.target),
                        (rng.randint(1, self.rows),))


class Reader:
    """A long report on ``target``: it holds ACCESS SHARE for ``hold_s`` seconds from
    ``__enter__`` (which returns once the lock is held)."""

    def __init__(self, url: str, target: sql.Identifier, hold_s: float) -> None:
        self.url, self.target, self.hold_s = url, target, hold_s
        self._held = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> Reader:
        self._thread.start()
        if not self._held.wait(30):
            raise TimeoutError("the reader did not take its lock")
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=self.hold_s + 30)
        assert not self._thread.is_alive(), "the reader did not finish"

    def _run(self) -> None:
        try:
            conn = psycopg2.connect(self.url)
            try:
                with conn, conn.cursor() as cur:
                    cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE id < 100")
                                .format(self.target))
                    self._held.set()
                    time.sleep(self.hold_s)  # the report's length, not a wait for anything
            finally:
                conn.close()
        except BaseException as e:
            self.error = e
        finally:
            self._held.set()


def converge(conn: Any, settings: DatabaseSettings, desired: DesiredTable, owner: Owner,
             retry_s: float = 0.1, attempts: int = 200) -> tuple[Outcome, int]:
    """The handler's loop: ``reconcile_table`` again while steps are pending, and again after
    a temporary failure (a lock timeout) as Kopf would after its backoff. Returns the last
    outcome and how many calls failed on a lock timeout."""
    timeouts = 0
    for _ in range(attempts):
        try:
            outcome = reconcile_table(conn, settings, desired, owner)
        except psycopg2.Error as e:
            failure = classify(e, "apply the spec", settings.statement_timeout_ms)
            if failure is None or failure.reason != "LockTimeout":
                raise
            timeouts += 1
            time.sleep(retry_s)  # Kopf's retry delay, compressed
            continue
        if outcome.plan.refused or not outcome.pending:
            return outcome, timeouts
    raise AssertionError(f"not converged after {attempts} calls")


@dataclass(frozen=True)
class Span:
    """One statement of a session, while it ran (not while it waited for a lock)."""

    query: str
    first: float  # perf_counter of the first and last sample that saw it running
    last: float


class Watcher:
    """Samples, every ``interval_s``, what one session (the operator's) is doing, to tell the
    statements it ran apart from its waits."""

    def __init__(self, url: str, pid: int, interval_s: float = 0.005) -> None:
        self.url, self.pid, self.interval_s = url, pid, interval_s
        self._stop = threading.Event()
        self._samples: list[tuple[float, Any, str]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._conn = psycopg2.connect(url)
        self._conn.autocommit = True

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._conn.close()

    def spans(self) -> list[Span]:
        """Each statement that was seen running, from its first to its last such sample."""
        spans: dict[tuple[Any, str], Span] = {}
        for at, started, query in self._samples:
            span = spans.get((started, query))
            spans[(started, query)] = Span(query, span.first if span else at, at)
        return list(spans.values())

    def _run(self) -> None:
        with self._conn.cursor() as cur:
            while not self._stop.wait(self.interval_s):
                cur.execute("SELECT query_start, query FROM pg_stat_activity WHERE pid = %s "
                            "AND state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock'",
                            (self.pid,))
                row = cur.fetchone()
                if row is not None:
                    self._samples.append((time.perf_counter(), row[0], row[1]))
