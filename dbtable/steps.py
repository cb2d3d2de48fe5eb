"""How an operation runs: the lock its statement takes, whether it needs a transaction of its
own, and what it does to the table's rows (pure; a base class of every operation in
dbtable/operations.py).

``scans`` and ``rewrites`` have no default on purpose: every operation must say what its
statement does to the table (``tests/unit/test_steps.py`` walks every subclass), because the
plan command prints it and a careful reader decides on it when to apply a change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
# ADD FOREIGN KEY, on both tables: blocks writes (not reads) for a brief, scan-free step.
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"


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
    # Declared by every subclass (no default): whether the statement reads every row of the
    # table (a scan: as long as the table is big, under ``lock``), and whether it writes a
    # new copy of the table and its indexes (a rewrite: ACCESS EXCLUSIVE for as long, so
    # reads and writes wait). A rewrite also scans.
    scans: ClassVar[bool]
    rewrites: ClassVar[bool]


def table_effect(step: type[Step] | Step) -> str:
    """The plan command's words for what ``step`` does to the table's rows."""
    if step.rewrites:
        return "rewrites the table, blocks reads and writes"
    if step.scans:
        if step.lock == ACCESS_EXCLUSIVE:
            return "scans the table, blocks reads and writes meanwhile"
        return "scans the table, reads and writes go on"
    return "no scan, no rewrite"
