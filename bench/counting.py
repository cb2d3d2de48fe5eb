"""Counting the statements a piece of the operator runs (bench/bench_drift.py, and the
integration tests that count a sweep's or a lookup's queries): a psycopg2 connection whose
cursors count what they execute, behind the pool interface the drift sweep uses. Apart from
the benchmark because it is a measuring tool, not a measurement."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from dbtable.database import DatabaseSettings, connect


class _Counting:
    """Stands in for the psycopg2 object it wraps (``with`` included), beside a shared counter."""

    def __init__(self, inner: Any, counter: list[int]) -> None:
        self._inner, self._counter = inner, counter

    def __enter__(self) -> Any:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CountingCursor(_Counting):
    """A cursor counting what it executes: into ``counter`` (shared by a connection's
    cursors), or on its own (``executed``), as the integration tests count a sweep's queries."""

    def __init__(self, inner: Any, counter: list[int] | None = None) -> None:
        super().__init__(inner, [0] if counter is None else counter)

    @property
    def executed(self) -> int:
        return self._counter[0]

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._counter[0] += 1
        return self._inner.execute(*args, **kwargs)


class CountingConnection(_Counting):
    """A psycopg2 connection whose cursors count the statements they run."""

    def cursor(self, *args: Any, **kwargs: Any) -> CountingCursor:
        return CountingCursor(self._inner.cursor(*args, **kwargs), self._counter)


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
