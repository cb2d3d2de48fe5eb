"""Value types shared by the parser, the catalog reader and the planner."""
from __future__ import annotations

import enum
from dataclasses import dataclass

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
class DesiredColumn:
    """A column of the spec. ``resolved`` and ``unresolved`` are filled in by asking the server
    what the type means (dbtable/resolve.py, at reconcile time); offline both stay None."""

    name: str
    type: ColumnType
    resolved: TypeIdentity | None = None
    unresolved: str | None = None  # why the server cannot make this type, when it cannot


@dataclass(frozen=True)
class DesiredTable:
    """A parsed, validated DatabaseTable spec: names folded, types proven by the grammar."""

    name: str
    columns: tuple[DesiredColumn, ...]
    primary_key: tuple[str, ...]
    # None: not given; Drop for a table the operator created, Retain for one it adopted.
    deletion_policy: DeletionPolicy | None = None
    adopt_existing: bool = False


@dataclass(frozen=True)
class ActualColumn:
    name: str
    type: str  # as PostgreSQL's format_type() prints it
    identity: TypeIdentity | None = None  # atttypid and atttypmod


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
