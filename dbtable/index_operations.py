"""Operations on the table's indexes (values; see dbtable/operations.py).

On a table that exists, every build and drop is ``CONCURRENTLY``: reads and writes go on (SHARE
UPDATE EXCLUSIVE), and the statement runs alone, outside any transaction block, under the
resource's session-level advisory lock. A failed concurrent build leaves an INVALID index,
which is dropped (at once, and by the next plan if that did not happen) and built again. On a
table created in the same transaction (empty, seen by no one yet) a plain CREATE INDEX joins
that transaction.
"""
from __future__ import annotations

from dataclasses import dataclass

from dbtable.steps import ACCESS_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, Step


@dataclass(frozen=True)
class CreateIndex(Step):
    """``CREATE [UNIQUE] INDEX CONCURRENTLY name ON table USING method (columns)``."""

    lock = SHARE_UPDATE_EXCLUSIVE
    own_transaction = True
    transactional = False
    scans = True  # twice, concurrently: reads and writes go on
    rewrites = False
    concurrently = True
    table: str
    name: str
    columns: tuple[str, ...]
    method: str = "btree"
    unique: bool = False

    def definition(self) -> str:
        return (f"{'UNIQUE ' if self.unique else ''}{self.method} "
                f"({', '.join(self.columns)})")

    def describe(self) -> str:
        return f"built index {self.name} {self.definition()} on {self.table} concurrently"


@dataclass(frozen=True)
class CreateIndexWithTable(CreateIndex):
    """A plain CREATE INDEX in the transaction that creates the (empty) table."""

    # CREATE INDEX takes SHARE; the transaction holds ACCESS EXCLUSIVE from CREATE TABLE.
    lock = ACCESS_EXCLUSIVE
    own_transaction = False
    transactional = True
    scans = False  # the table is new and empty
    concurrently = False

    def describe(self) -> str:
        return f"created index {self.name} {self.definition()} on {self.table}"


@dataclass(frozen=True)
class BuildReplacement(CreateIndex):
    """The new definition of a user-named index, built under a temporary name while the old
    index keeps serving; it takes the name once the old one is dropped."""

    replaces: str = ""

    def describe(self) -> str:
        return (f"rebuilding index {self.replaces} of {self.table}: built its new definition "
                f"{self.definition()} concurrently as {self.name}")


@dataclass(frozen=True)
class MarkIndex(Step):
    """``COMMENT ON INDEX``: the durable mark that a user-named index is the operator's."""

    lock = SHARE_UPDATE_EXCLUSIVE
    scans = rewrites = False
    table: str
    name: str

    def describe(self) -> str:
        return f"marked index {self.name} of {self.table} as the operator's own"


@dataclass(frozen=True)
class RenameIndex(Step):
    """A matching index of the operator's under another name (a column or the table was
    renamed, so the generated name changed; or the spec names it now): renamed, not rebuilt."""

    lock = SHARE_UPDATE_EXCLUSIVE
    additive = False
    scans = rewrites = False  # the catalog only
    table: str
    name: str
    new_name: str

    def describe(self) -> str:
        return f"renamed index {self.name} of {self.table} to {self.new_name}"


@dataclass(frozen=True)
class PlaceIndex(RenameIndex):
    """A user-named index built under its temporary name takes its name: it only adds (the
    drift sweep may do it to rebuild an index dropped by hand)."""

    additive = True

    def describe(self) -> str:
        return f"index {self.new_name} of {self.table} is in place (built as {self.name})"


@dataclass(frozen=True)
class DropIndex(Step):
    """``DROP INDEX CONCURRENTLY`` of the operator's own index that the spec no longer has
    (or whose definition it changed). Never the sweep's to do: it takes something away."""

    lock = SHARE_UPDATE_EXCLUSIVE
    own_transaction = True
    transactional = False
    additive = False
    scans = rewrites = False
    table: str
    name: str

    def describe(self) -> str:
        return f"dropped index {self.name} of {self.table} concurrently"


@dataclass(frozen=True)
class DropFailedIndex(Step):
    """The operator's own INVALID index (a concurrent build that failed) or an unfinished
    replacement: it serves no query, so dropping it takes nothing away."""

    lock = SHARE_UPDATE_EXCLUSIVE
    own_transaction = True
    transactional = False
    scans = rewrites = False
    table: str
    name: str

    def describe(self) -> str:
        return (f"dropped index {self.name} of {self.table} concurrently (a build that did "
                "not finish)")
