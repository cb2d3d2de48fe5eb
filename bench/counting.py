"""Counting the statements a piece of the operator runs (bench/bench_drift.py): a psycopg2
connection whose cursors count what they execute, behind the pool interface the drift sweep
uses. Apart from the benchmark because it is a measuring tool, not a measurement."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from dbtable.database import DatabaseSettings, connect


class CountingCursor:
    def __init__(self, cur: Any, counter: list[int]) -> None:
        self._cur, self._counter = cur, counter

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._counter[0] += 1
        return self._cur.execute(*args, **kwargs)

    def __enter__(self) -> "CountingCursor":
        self._cur.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._cur.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class CountingConnection:
    """A psycopg2 connection whose cursors count the statements they run."""

    def __init__(self, conn: Any, counter: list[int]) -> None:
        self._conn, self._counter = conn, counter

    def cursor(self, *args: Any, **kwargs: Any) -> CountingCursor:
        return CountingCursor(self._conn.cursor(*args, **kwargs), self._counter)

    def __enter__(self) -> "CountingConnection":
        self._conn.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._conn.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class OneConnectionPool:
    """The pool interface the sweep uses, over one counting connection."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.conn = connect(settings)
        self.counter = [0]

    @contextlib.contextmanager
    def connection(self) -> Iterator[CountingConnection]:
        yield CountingConnection(self.conn, self.counter)

    def take(self) -> int:
        taken, self.counter[0] = self.counter[0], 0
        return taken
