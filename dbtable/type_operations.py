"""Changing a column's type (values; see dbtable/operations.py and dbtable/type_changes.py).

Three operations, one statement (``ALTER TABLE ... ALTER COLUMN ... TYPE ...``), told apart by
what PostgreSQL does to the table, which the plan command prints and the planner decides on:
a widening that needs neither a rewrite nor a scan runs with the brief changes; one whose
column carries a validated CHECK or an expression/partial index scans the whole table under
ACCESS EXCLUSIVE; a lossless change of representation rewrites it. The last two block reads
and writes for as long as the table is big, so the planner makes them only when the spec says
``allowTableRewrite: true``. None of them is additive: the drift sweep never changes a type.
"""
from __future__ import annotations

from dataclasses import dataclass

from dbtable.column_type import ColumnType
from dbtable.steps import Step


@dataclass(frozen=True)
class WidenColumnType(Step):
    """No rewrite, no scan: PostgreSQL keeps the table's files (relfilenode) and indexes."""

    additive = False
    scans = rewrites = False
    table: str
    column: str
    old_type: str  # as the catalog prints it
    new_type: ColumnType

    def describe(self) -> str:
        return (f"widened column {self.column} of {self.table} from {self.old_type} to "
                f"{self.new_type.canonical} (no rewrite)")


@dataclass(frozen=True)
class RecheckColumnType(WidenColumnType):
    """A widening that re-checks the column's validated CHECK constraints or rebuilds its
    expression or partial indexes: a full scan under ACCESS EXCLUSIVE, in its own
    transaction (so the brief changes before it are not held back by it)."""

    own_transaction = True
    scans = True
    rewrites = False

    def describe(self) -> str:
        return (f"widened column {self.column} of {self.table} from {self.old_type} to "
                f"{self.new_type.canonical} (scanned the table to re-check its constraints "
                "and indexes; allowTableRewrite)")


@dataclass(frozen=True)
class RewriteColumnType(WidenColumnType):
    """A lossless change that rewrites the table and rebuilds all its indexes under ACCESS
    EXCLUSIVE, in its own transaction."""

    own_transaction = True
    scans = rewrites = True

    def describe(self) -> str:
        return (f"changed column {self.column} of {self.table} from {self.old_type} to "
                f"{self.new_type.canonical} (rewrote the table; allowTableRewrite)")
