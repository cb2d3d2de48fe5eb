"""The operations a plan is made of, and the plan itself: plain values, one per change.

Each operation describes itself for Events and logs; ``dbtable.render`` turns each into one
SQL statement. Each also says which lock its statement takes on the table (``lock``) and
whether it must begin a transaction of its own (``own_transaction``): a long scan such as
VALIDATE CONSTRAINT runs after the brief exclusive steps before it have committed, so that
their ACCESS EXCLUSIVE lock is not held while it reads the whole table. Refusals carry the
field and what the user should do.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from dbtable.defaults import ColumnDefault
from dbtable.fk_model import ReferencedTable
from dbtable.model import DesiredColumn, Owner
from dbtable.ownership import Marker, TableComment
from dbtable.steps import SHARE_UPDATE_EXCLUSIVE, Step

@dataclass(frozen=True)
class CreateTable(Step):
    scans = rewrites = False  # a new, empty table
    table: str
    columns: tuple[DesiredColumn, ...]
    primary_key: tuple[str, ...]

    def describe(self) -> str:
        return (f"created table {self.table} with columns "
                f"{', '.join(c.name for c in self.columns)} and primary key "
                f"({', '.join(self.primary_key)})")


@dataclass(frozen=True)
class RenameTable(Step):
    scans = rewrites = False  # the catalog only
    table: str
    new_name: str

    def describe(self) -> str:
        return f"renamed table {self.table} to {self.new_name}"


@dataclass(frozen=True)
class AddColumn(Step):
    """ADD COLUMN, with NOT NULL and a DEFAULT when the planner found them safe to add at once
    (a constant default fills existing rows without a rewrite on PostgreSQL 11 and later).
    The planner gives it a volatile default, or NOT NULL without a default, only on an empty
    table (plan_columns.plan_added_column), so it never scans or rewrites rows."""

    scans = rewrites = False
    table: str
    column: DesiredColumn
    not_null: bool = False
    default: ColumnDefault | None = None

    def describe(self) -> str:
        extra = (" NOT NULL" if self.not_null else "") + (
            f" DEFAULT {self.default.canonical}" if self.default is not None else "")
        return (f"added column {self.column.name} {self.column.type.canonical}{extra} to "
                f"{self.table}")


@dataclass(frozen=True)
class DropPrimaryKey(Step):
    additive = False
    scans = rewrites = False  # drops the index
    table: str
    constraint: str
    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"dropped primary key ({', '.join(self.columns)}) of {self.table}"


@dataclass(frozen=True)
class AddPrimaryKey(Step):
    scans = True  # builds the unique index (and checks NOT NULL) under ACCESS EXCLUSIVE
    rewrites = False
    table: str
    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"set primary key ({', '.join(self.columns)}) on {self.table}"


@dataclass(frozen=True)
class MarkOwned(Step):
    """Write the ownership marker into the table comment, beside the users' text (``keep``)."""

    lock = SHARE_UPDATE_EXCLUSIVE  # COMMENT ON TABLE
    scans = rewrites = False

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
class Unmark(Step):
    """Remove the ownership marker, keep the users' text: the table is left to its users."""

    scans = rewrites = False

    table: str
    keep: str | None = None

    def describe(self) -> str:
        return f"released table {self.table} (kept with its rows, ownership marker removed)"


@dataclass(frozen=True)
class DropTable(Step):
    additive = False
    scans = rewrites = False
    table: str

    def describe(self) -> str:
        return f"dropped table {self.table}"


from dbtable.column_operations import (AddNotNullCheck, DropColumn, DropDefault,  # noqa: F401
                                       DropNotNull, DropNotNullCheck, RenameColumn,
                                       RenameNotNullCheck, SetDefault, SetNotNull,
                                       ValidateNotNullCheck)
from dbtable.type_operations import (RecheckColumnType,  # noqa: E402,F401
                                     RewriteColumnType, WidenColumnType)
from dbtable.unique_operations import (AddUniqueWithTable,  # noqa: E402,F401
                                       AttachUniqueConstraint, CreateUniqueIndex,
                                       DropUniqueConstraint, DropUniqueIndex,
                                       RenameUniqueConstraint)
from dbtable.index_operations import (BuildReplacement, CreateIndex,  # noqa: E402,F401
                                      CreateIndexWithTable, DropFailedIndex, DropIndex,
                                      MarkIndex, PlaceIndex, RenameIndex)
from dbtable.fk_operations import (AddForeignKey, AddValidForeignKey,  # noqa: E402,F401
                                   DropForeignKey, MarkForeignKey, RenameForeignKey,
                                   ValidateForeignKey)

Operation = CreateTable | RenameTable | AddColumn | DropPrimaryKey | AddPrimaryKey | MarkOwned \
    | ReclaimTable | MarkRetained | Unmark | DropTable | RenameColumn | DropColumn | SetDefault \
    | DropDefault | DropNotNull | AddNotNullCheck | ValidateNotNullCheck | SetNotNull \
    | DropNotNullCheck | CreateUniqueIndex | AttachUniqueConstraint | DropUniqueConstraint \
    | DropUniqueIndex | WidenColumnType | RecheckColumnType | RewriteColumnType \
    | CreateIndex | CreateIndexWithTable | BuildReplacement | MarkIndex | RenameIndex \
    | PlaceIndex | DropIndex | DropFailedIndex | RenameNotNullCheck \
    | AddForeignKey | AddValidForeignKey | MarkForeignKey | ValidateForeignKey \
    | DropForeignKey | AddUniqueWithTable | RenameUniqueConstraint | RenameForeignKey


class RefusalReason(str, enum.Enum):
    COLUMN_REMOVED = "ColumnRemoved"
    COLUMN_RENAME = "ColumnRenameConflict"  # both the old and the new name exist
    NULLS_PRESENT = "NullsPresent"  # NOT NULL asked for, the column holds NULLs
    DUPLICATES_PRESENT = "DuplicatesPresent"  # unique asked for, values repeat
    ROWS_PRESENT = "RowsPresent"  # NOT NULL without a constant default, on a table with rows
    TYPE_CHANGED = "TypeChanged"  # a narrowing or another type: never made
    TABLE_REWRITE = "TableRewriteNotAllowed"  # a lossless type change, without the opt-in
    CONFLICT = "Conflict"
    DRIFTED = "Drifted"
    INVALID_SPEC = "InvalidSpec"  # the spec parsed, but the server cannot make it (a type)
    ORPHANS_PRESENT = "OrphansPresent"  # a foreign key asked for, rows reference nothing
    # A foreign key waits for what it references (another resource may create it soon):
    # retried with backoff, unlike the other refusals (see WAITING).
    REFERENCED_TABLE_MISSING = "ReferencedTableMissing"
    REFERENCED_KEY_MISSING = "ReferencedKeyMissing"  # columns missing, or not a unique key
    TABLE_REFERENCED = "TableReferenced"  # a drop refused: another table's key references it


# Refusals that a change elsewhere (another DatabaseTable created) lifts by itself.
WAITING = frozenset({RefusalReason.REFERENCED_TABLE_MISSING,
                     RefusalReason.REFERENCED_KEY_MISSING})


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

    @property
    def waiting(self) -> bool:
        """Refused only for things another resource may soon provide: retry, with backoff."""
        return self.refused and all(r.reason in WAITING for r in self.refusals)

    def first_transaction(self) -> tuple[tuple[Operation, ...], tuple[Operation, ...]]:
        """The operations of the first transaction, and the rest: a transaction ends before
        the next operation that needs one of its own; one that cannot run in a transaction
        (CREATE INDEX CONCURRENTLY) is alone in its "transaction"."""
        if self.operations and not self.operations[0].transactional:
            return self.operations[:1], self.operations[1:]
        for index, op in enumerate(self.operations):
            if index > 0 and (op.own_transaction or not op.transactional):
                return self.operations[:index], self.operations[index:]
        return self.operations, ()


@dataclass(frozen=True)
class Facts:
    """What the planner must know of the table's rows to refuse a change before making it:
    how many rows it has, and how many NULLs each column that should be NOT NULL holds.
    None (unknown: the drift sweep, which reads no rows) plans as if there were none; the
    handler then reads them and plans again."""

    rows: int | None = None
    nulls: tuple[tuple[str, int], ...] = ()  # (column as the spec names it, NULL count)
    # (column as the spec names it, rows repeating a value: count(c) - count(DISTINCT c))
    duplicates: tuple[tuple[str, int], ...] = ()
    # (column as the spec names it, what PostgreSQL would re-check or rebuild by scanning the
    # table if its type changed: a validated CHECK, an expression or partial index)
    rechecks: tuple[tuple[str, str], ...] = ()
    # (index name, rows repeating a value of its columns) for unique indexes to be built.
    index_duplicates: tuple[tuple[str, int], ...] = ()
    # (name, what holds it) for spec.indexes names held by a relation that is no index of
    # this table (index names share the schema's namespace with tables).
    index_names_taken: tuple[tuple[str, str], ...] = ()
    # The tables foreign keys reference, by name (None: no such table); None: not read (the
    # drift sweep), planned as if every reference held.
    references: tuple[tuple[str, ReferencedTable | None], ...] | None = None
    orphans: tuple[tuple[str, int], ...] = ()  # (foreign key name, rows referencing nothing)
    # (foreign key name, PostgreSQL's error): the orphan count could not compare the types
    incompatible: tuple[tuple[str, str], ...] = ()
    # The same as index_names_taken for the spec's unique constraints (plan_uniques.py).
    unique_names_taken: tuple[tuple[str, str], ...] = ()

    def index_duplicates_in(self, index: str) -> int:
        return dict(self.index_duplicates).get(index, 0)

    def nulls_in(self, column: str) -> int:
        return dict(self.nulls).get(column, 0)

    def duplicates_in(self, column: str) -> int:
        return dict(self.duplicates).get(column, 0)

    def rechecks_of(self, column: str) -> tuple[str, ...]:
        return tuple(what for name, what in self.rechecks if name == column)

    def orphans_in(self, key: str) -> int:
        return dict(self.orphans).get(key, 0)
