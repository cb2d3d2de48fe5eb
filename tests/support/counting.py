"""A cursor that counts the statements it is given (a reconcile's or a sweep's cost is
measured in queries)."""
from __future__ import annotations

from typing import Any


class CountingCursor:
    def __init__(self, cur: Any) -> None:
        self.cur, self.executed = cur, 0

    def execute(self, *args: Any) -> None:
        self.executed += 1
        self.cur.execute(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cur, name)
