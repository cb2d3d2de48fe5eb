"""Operations on one column of an existing table (values; see dbtable/operations.py).

Setting NOT NULL on a column that may hold rows is three steps, as a careful DBA does it:
add ``CHECK (c IS NOT NULL) NOT VALID`` (brief exclusive lock, no scan), VALIDATE it in a
transaction of its own (SHARE UPDATE EXCLUSIVE: reads and writes go on during the scan), then
SET NOT NULL, which PostgreSQL 12+ proves from the valid check without scanning, and drop the
check. The check's name is derived from the column, so a later run finds it and resumes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from dbtable.defaults import ColumnDefault
from dbtable.steps import SHARE_UPDATE_EXCLUSIVE, Step

NOT_NULL_CHECK_PREFIX = "dbt_nn_"


def not_null_check_name(column: str) -> str:
    """The operator's own check for ``column``: within 63 bytes, unique per column name."""
    digest = hashlib.sha256(column.encode()).hexdigest()[:8]
    return f"{NOT_NULL_CHECK_PREFIX}{column[:40]}_{digest}"


@dataclass(frozen=True)
class RenameColumn(Step):
    additive = False
    scans = rewrites = False  # the catalog only
    table: str
    old_name: str
    new_name: str

    def describe(self) -> str:
        return f"renamed column {self.old_name} of {self.table} to {self.new_name}"


@dataclass(frozen=True)
class RenameNotNullCheck(Step):
    """The operator's own NOT NULL check follows its column's rename (brief, catalog only)."""

    additive = False  # part of a rename
    scans = rewrites = False
    table: str
    old_column: str
    new_column: str

    @property
    def old_name(self) -> str:
        return not_null_check_name(self.old_column)

    @property
    def new_name(self) -> str:
        return not_null_check_name(self.new_column)

    def describe(self) -> str:
        return f"renamed check {self.old_name} of {self.table} to {self.new_name}"


@dataclass(frozen=True)
class DropColumn(Step):
    additive = False
    scans = rewrites = False  # the column is only marked dropped; its space is reused later
    table: str
    column: str

    def describe(self) -> str:
        return f"dropped column {self.column} of {self.table} (listed in spec.dropColumns)"


@dataclass(frozen=True)
class SetDefault(Step):
    scans = rewrites = False  # for rows inserted from now on
    table: str
    column: str
    default: ColumnDefault

    def describe(self) -> str:
        return f"set the default of {self.table}.{self.column} to {self.default.canonical}"


@dataclass(frozen=True)
class DropDefault(Step):
    additive = False
    scans = rewrites = False
    table: str
    column: str

    def describe(self) -> str:
        return f"dropped the default of {self.table}.{self.column}"


@dataclass(frozen=True)
class DropNotNull(Step):
    additive = False
    scans = rewrites = False
    table: str
    column: str

    def describe(self) -> str:
        return f"made {self.table}.{self.column} nullable"


@dataclass(frozen=True)
class AddNotNullCheck(Step):
    """``CHECK (c IS NOT NULL) NOT VALID``: enforced for new rows at once, no scan."""

    scans = rewrites = False
    table: str
    column: str

    @property
    def constraint(self) -> str:
        return not_null_check_name(self.column)

    def describe(self) -> str:
        return (f"added check {self.constraint} ({self.column} IS NOT NULL) to {self.table}, "
                "not yet validated")


@dataclass(frozen=True)
class ValidateNotNullCheck(Step):
    """Scans the table under SHARE UPDATE EXCLUSIVE, after the check's addition committed."""

    lock = SHARE_UPDATE_EXCLUSIVE
    own_transaction = True
    scans = True
    rewrites = False
    table: str
    column: str

    @property
    def constraint(self) -> str:
        return not_null_check_name(self.column)

    def describe(self) -> str:
        return f"validated check {self.constraint} on {self.table}"


@dataclass(frozen=True)
class SetNotNull(Step):
    """No scan: the valid check proves there are no NULLs (PostgreSQL 12 and later). The
    planner only ever plans it after the check is valid (plan_columns._nullability_change)."""

    scans = rewrites = False
    table: str
    column: str

    def describe(self) -> str:
        return f"made {self.table}.{self.column} NOT NULL"


@dataclass(frozen=True)
class DropNotNullCheck(Step):
    """Drops the operator's own check (by its derived name), never anyone else's."""

    additive = True  # only ever the operator's own helper constraint
    scans = rewrites = False
    table: str
    column: str

    @property
    def constraint(self) -> str:
        return not_null_check_name(self.column)

    def describe(self) -> str:
        return f"dropped check {self.constraint} of {self.table} (no longer needed)"
