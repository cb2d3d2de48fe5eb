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
class DesiredColumn:
    name: str
    type: ColumnType


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
