"""Unique constraints of the operator's own, added without blocking writes (values; see
dbtable/operations.py).

``CREATE UNIQUE INDEX CONCURRENTLY`` builds the index while reads and writes go on (it cannot
run inside a transaction block), then ``ADD CONSTRAINT ... UNIQUE USING INDEX`` turns it into
the constraint in a brief exclusive step. A failed concurrent build leaves an INVALID index,
which the next plan drops (``DROP INDEX CONCURRENTLY``) and builds again. Index and constraint
share one name derived from the column, which is how the operator knows its own: an index or
constraint of any other name is never dropped.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from dbtable.steps import SHARE_UPDATE_EXCLUSIVE, Step

UNIQUE_PREFIX = "dbt_uq_"


def unique_name(column: str) -> str:
    """The operator's unique index and constraint for ``column``: within 63 bytes."""
    digest = hashlib.sha256(column.encode()).hexdigest()[:8]
    return f"{UNIQUE_PREFIX}{column[:40]}_{digest}"


@dataclass(frozen=True)
class CreateUniqueIndex(Step):
    lock = SHARE_UPDATE_EXCLUSIVE
    own_transaction = True
    transactional = False
    scans = True  # twice, concurrently: reads and writes go on
    rewrites = False
    table: str
    column: str

    @property
    def name(self) -> str:
        return unique_name(self.column)

    def describe(self) -> str:
        return (f"built unique index {self.name} on {self.table}.{self.column} "
                "concurrently")


@dataclass(frozen=True)
class AttachUniqueConstraint(Step):
    own_transaction = True
    scans = rewrites = False  # the index is built and valid already
    table: str
    column: str

    @property
    def name(self) -> str:
        return unique_name(self.column)

    def describe(self) -> str:
        return f"added unique constraint {self.name} on {self.table}.{self.column}"


@dataclass(frozen=True)
class DropUniqueConstraint(Step):
    additive = False
    scans = rewrites = False
    table: str
    column: str

    @property
    def name(self) -> str:
        return unique_name(self.column)

    def describe(self) -> str:
        return f"dropped unique constraint {self.name} of {self.table}.{self.column}"


@dataclass(frozen=True)
class DropUniqueIndex(Step):
    """The operator's own index without its constraint: INVALID after a failed build, or
    left by a run that stopped; dropped without blocking writes."""

    lock = SHARE_UPDATE_EXCLUSIVE
    own_transaction = True
    transactional = False
    scans = rewrites = False
    table: str
    column: str

    @property
    def name(self) -> str:
        return unique_name(self.column)

    def describe(self) -> str:
        return f"dropped index {self.name} of {self.table} (a build that did not finish)"
