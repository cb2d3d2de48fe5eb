"""Value types shared by the parser, the catalog reader and the planner."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from dbtable.defaults import ColumnDefault
from dbtable.index_model import ActualIndex, DesiredIndex
from dbtable.fk_model import ActualForeignKey, DesiredForeignKey
from dbtable.ownership import MARKER_KEY, MARKER_VALUE, Owner  # noqa: F401  (re-exported)
from dbtable.types import ColumnType


class DeletionPolicy(str, enum.Enum):
    """What happens to the table when its resource is deleted."""

    DROP = "Drop"
    RETAIN = "Retain"


@dataclass(frozen=True)
class TypeIdentity:
    """A type as PostgreSQL knows it: its pg_type oid and type modifier (-1: none)."""

    oid: int
    typmod: int = -1


@dataclass(frozen=True)
class ColumnOptions:
    """``spec.columnOptions.<column>``. None means "not stated": the operator leaves that part
    of the column as it is (the seed's resources state none of them)."""

    nullable: bool | None = None
    default: ColumnDefault | None = None
    unique: bool = False  # a unique constraint of the operator's own on this column
    previous_names: tuple[str, ...] = ()
    # The default's constant as the column's type prints it, filled in by the server
    # (dbtable/resolve.py); None offline, or for a function.
    default_text: str | None = None
    default_error: str | None = None  # why the column's type refuses the default
    # The table's current default (a constant) read by the server as the column's type, so
    # that 1.5 and 1.50 on a numeric(10,2) column compare equal; None when not known.
    current_text: str | None = None


NO_OPTIONS = ColumnOptions()


@dataclass(frozen=True)
class DesiredColumn:
    """A column of the spec. ``resolved`` and ``unresolved`` are filled in by asking the server
    what the type means (dbtable/resolve.py, at reconcile time); offline both stay None."""

    name: str
    type: ColumnType
    resolved: TypeIdentity | None = None
    unresolved: str | None = None  # why the server cannot make this type, when it cannot
    options: ColumnOptions = NO_OPTIONS


@dataclass(frozen=True)
class DesiredTable:
    """A parsed, validated DatabaseTable spec: names folded, types proven by the grammar."""

    name: str
    columns: tuple[DesiredColumn, ...]
    primary_key: tuple[str, ...]
    # None: not given; Drop for a table the operator created, Retain for one it adopted.
    deletion_policy: DeletionPolicy | None = None
    adopt_existing: bool = False
    drop_columns: tuple[str, ...] = ()  # columns to drop (never declared in ``columns``)
    # Type changes that rewrite (or scan) the table under ACCESS EXCLUSIVE are made only then.
    allow_table_rewrite: bool = False
    indexes: tuple[DesiredIndex, ...] = ()  # spec.indexes, each named (given or generated)
    foreign_keys: tuple[DesiredForeignKey, ...] = ()


@dataclass(frozen=True)
class ActualColumn:
    name: str
    type: str  # as PostgreSQL's format_type() prints it
    identity: TypeIdentity | None = None  # atttypid and atttypmod
    not_null: bool = False  # attnotnull
    default: str | None = None  # as pg_get_expr() prints it


@dataclass(frozen=True)
class ActualTable:
    """A table as the PostgreSQL catalog reports it."""

    schema: str
    name: str
    columns: tuple[ActualColumn, ...]
    primary_key: tuple[str, ...]
    primary_key_constraint: str | None
    owner: Owner | None
    comment: str | None = None
    # CHECK constraints by name -> validated (convalidated): the planner looks for its own
    # "not null" checks here, to resume setting NOT NULL where a previous run stopped.
    checks: tuple[tuple[str, bool], ...] = ()
    # Every unique constraint, anyone's: (name, columns); the operator's own are known by name.
    uniques: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The operator's own unique indexes by name -> valid (indisvalid): a failed concurrent
    # build leaves an INVALID one, which is dropped and built again.
    unique_indexes: tuple[tuple[str, bool], ...] = ()
    # Every index that backs no constraint, anyone's (dbtable/catalog_indexes.py).
    indexes: tuple[ActualIndex, ...] = ()
    # Every foreign key of the table, anyone's (the operator's own carry its marker).
    foreign_keys: tuple[ActualForeignKey, ...] = ()
    # Every other constraint of the table by name -> contype ('p', 'u', 'c', 'x', 't'): a
    # foreign key cannot take one of their names (constraint names are unique per table).
    constraints: tuple[tuple[str, str], ...] = ()
