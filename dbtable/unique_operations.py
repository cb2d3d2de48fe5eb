"""Unique constraints of the operator's own, added without blocking writes (values; see
dbtable/operations.py).

``CREATE UNIQUE INDEX CONCURRENTLY`` builds the index while reads and writes go on (it cannot
run inside a transaction block), then ``ADD CONSTRAINT ... UNIQUE USING INDEX`` turns it into
the constraint in a brief exclusive step. A failed concurrent build leaves an INVALID index,
which the next plan drops (``DROP INDEX CONCURRENTLY``) and builds again. On a table created in
the same transaction (empty, seen by no one) the constraint is simply added there.

Index and constraint share one name derived from the table and the column (index names share
the schema's namespace, so two tables with unique ``email`` need two names), which is how the
operator knows its own: a constraint or index of any other name is never dropped. Names from
before the table was part of them (``legacy_unique_name``) are still the operator's: they are
renamed in place, as is a name whose table or column was renamed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from dbtable.steps import SHARE_UPDATE_EXCLUSIVE, Step

UNIQUE_PREFIX = "dbt_uq_"
MAX_NAME_BYTES = 63


def unique_name(table: str, column: str) -> str:
    """``dbt_uq_<column>_<digest of table and column>`` within 63 bytes, never cutting a
    UTF-8 character (as dbtable/index_model.py names indexes)."""
    digest = hashlib.sha256(f"{table}\0{column}".encode("utf-8", "surrogatepass")).hexdigest()
    room = MAX_NAME_BYTES - len(UNIQUE_PREFIX) - 8 - 1
    head = column.encode("utf-8", "surrogatepass")[:room].decode("utf-8", errors="ignore")
    return f"{UNIQUE_PREFIX}{head}_{digest[:8]}"


def legacy_unique_name(column: str) -> str:
    """The name earlier versions gave (the column only): recognised, then renamed."""
    digest = hashlib.sha256(column.encode("utf-8", "surrogatepass")).hexdigest()[:8]
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
    name: str

    def describe(self) -> str:
        return (f"built unique index {self.name} on {self.table}.{self.column} "
                "concurrently")


@dataclass(frozen=True)
class AttachUniqueConstraint(Step):
    """``ADD CONSTRAINT name UNIQUE USING INDEX index``: PostgreSQL renames the index to the
    constraint's name, so one built under an old name needs no rename of its own."""

    own_transaction = True
    scans = rewrites = False  # the index is built and valid already
    table: str
    column: str
    name: str
    index: str = ""  # the index's name now, when it is not ``name``

    @property
    def index_name(self) -> str:
        return self.index or self.name

    def describe(self) -> str:
        return f"added unique constraint {self.name} on {self.table}.{self.column}"


@dataclass(frozen=True)
class AddUniqueWithTable(Step):
    """``ADD CONSTRAINT name UNIQUE (column)`` in the transaction that creates the table:
    it is empty and seen by no one, so there is nothing to build concurrently."""

    scans = rewrites = False  # the table is new and empty
    table: str
    column: str
    name: str

    def describe(self) -> str:
        return f"added unique constraint {self.name} on {self.table}.{self.column}"


@dataclass(frozen=True)
class RenameUniqueConstraint(Step):
    """The operator's own constraint under a name that is no longer its derived one (the old
    naming, or its table or column was renamed): ``RENAME CONSTRAINT`` renames its index too.
    Nothing is rebuilt and nothing taken away, so the drift sweep may do it."""

    scans = rewrites = False  # the catalog only
    table: str
    column: str
    name: str
    new_name: str

    def describe(self) -> str:
        return f"renamed unique constraint {self.name} of {self.table} to {self.new_name}"


@dataclass(frozen=True)
class DropUniqueConstraint(Step):
    additive = False
    scans = rewrites = False
    table: str
    column: str
    name: str

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
    name: str

    def describe(self) -> str:
        return f"dropped index {self.name} of {self.table} (a build that did not finish)"
