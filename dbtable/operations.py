"""The operations a plan is made of, and the plan itself: plain values, one per change.

Each operation describes itself for Events and logs; ``dbtable.render`` turns each into one
SQL statement. Refusals carry the field and what the user should do.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from dbtable.model import DesiredColumn, Owner
from dbtable.ownership import Marker, TableComment


@dataclass(frozen=True)
class CreateTable:
    table: str
    columns: tuple[DesiredColumn, ...]
    primary_key: tuple[str, ...]

    def describe(self) -> str:
        return (f"created table {self.table} with columns "
                f"{', '.join(c.name for c in self.columns)} and primary key "
                f"({', '.join(self.primary_key)})")


@dataclass(frozen=True)
class RenameTable:
    table: str
    new_name: str

    def describe(self) -> str:
        return f"renamed table {self.table} to {self.new_name}"


@dataclass(frozen=True)
class AddColumn:
    table: str
    column: DesiredColumn

    def describe(self) -> str:
        return f"added column {self.column.name} {self.column.type.canonical} to {self.table}"


@dataclass(frozen=True)
class DropPrimaryKey:
    table: str
    constraint: str
    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"dropped primary key ({', '.join(self.columns)}) of {self.table}"


@dataclass(frozen=True)
class AddPrimaryKey:
    table: str
    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"set primary key ({', '.join(self.columns)}) on {self.table}"


@dataclass(frozen=True)
class MarkOwned:
    """Write the ownership marker into the table comment, beside the users' text (``keep``)."""

    table: str
    owner: Owner
    keep: str | None = None
    adopted: bool = False

    def marker(self) -> Marker:
        return Marker(self.owner, adopted=self.adopted)

    def comment(self) -> str:
        return TableComment(user_text=self.keep).with_marker(self.marker())

    def describe(self) -> str:
        return f"marked table {self.table} as owned by {self.owner}"


@dataclass(frozen=True)
class ReclaimTable(MarkOwned):
    """Rewrite the marker of a table this resource's namespace/name owned under another uid:
    the same resource came back (a restore, a re-create, a finalizer removed by hand)."""

    previous_uid: str = ""

    def describe(self) -> str:
        return (f"reclaimed table {self.table} for {self.owner} (its marker named an earlier "
                f"object of the same namespace and name, uid {self.previous_uid})")


@dataclass(frozen=True)
class MarkRetained(MarkOwned):
    """Mark a dropped table kept aside: the same namespace/name re-created reclaims it, and
    it is purged after ``retained_until``."""

    retained_until: str = ""

    def marker(self) -> Marker:
        return Marker(self.owner, adopted=self.adopted, retained_until=self.retained_until)

    def describe(self) -> str:
        return (f"kept table {self.table} aside until {self.retained_until} "
                f"(DBT_DROP_RETENTION): a DatabaseTable {self.owner} created again before "
                "then takes it back with its rows")


@dataclass(frozen=True)
class Unmark:
    """Remove the ownership marker, keep the users' text: the table is left to its users."""

    table: str
    keep: str | None = None

    def describe(self) -> str:
        return f"released table {self.table} (kept with its rows, ownership marker removed)"


@dataclass(frozen=True)
class DropTable:
    table: str

    def describe(self) -> str:
        return f"dropped table {self.table}"


Operation = CreateTable | RenameTable | AddColumn | DropPrimaryKey | AddPrimaryKey | MarkOwned \
    | ReclaimTable | MarkRetained | Unmark | DropTable


class RefusalReason(str, enum.Enum):
    COLUMN_REMOVED = "ColumnRemoved"
    TYPE_CHANGED = "TypeChanged"
    CONFLICT = "Conflict"
    DRIFTED = "Drifted"
    INVALID_SPEC = "InvalidSpec"  # the spec parsed, but the server cannot make it (a type)


@dataclass(frozen=True)
class Refusal:
    """A change the operator will not make; ``message`` tells the user what to do."""

    reason: RefusalReason
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class Plan:
    operations: tuple[Operation, ...] = ()
    refusals: tuple[Refusal, ...] = ()

    @property
    def refused(self) -> bool:
        return bool(self.refusals)
