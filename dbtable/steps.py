"""How an operation runs: the lock its statement takes and whether it needs a transaction of
its own (pure; a base class of every operation in dbtable/operations.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"


@dataclass(frozen=True)
class Step:
    """What every operation says about how it runs (class-level, not per value)."""

    lock: ClassVar[str] = ACCESS_EXCLUSIVE
    own_transaction: ClassVar[bool] = False
    # False: cannot run inside a transaction block at all (CREATE INDEX CONCURRENTLY); it runs
    # alone, in autocommit, under a session-level advisory lock.
    transactional: ClassVar[bool] = True
    # False for a change that takes something away (a column, a constraint, a name): the
    # drift sweep never applies those on its own (plan.plan_repair).
    additive: ClassVar[bool] = True


