"""Value types shared by the parser, the catalog reader and the planner."""
from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from dbtable.types import ColumnType

MARKER_KEY = "managedBy"
MARKER_VALUE = "database-table-operator"


class DeletionPolicy(str, enum.Enum):
    """What happens to the table when its resource is deleted."""

    DROP = "Drop"
    RETAIN = "Retain"


@dataclass(frozen=True)
class Owner:
    """The resource a table belongs to. Its uid is what the operator finds its table by."""

    namespace: str
    name: str
    uid: str

    def marker(self) -> str:
        """The table comment that marks the table as owned by this resource."""
        return json.dumps({MARKER_KEY: MARKER_VALUE, "namespace": self.namespace,
                           "name": self.name, "uid": self.uid}, sort_keys=True)

    def marker_fragment(self) -> str:
        """The part of marker() that identifies this owner: the uid, or without one (a file
        read by the plan command) the name and namespace, adjacent in marker()'s key order."""
        if self.uid:
            return f'"uid": {json.dumps(self.uid)}'
        return f'"name": {json.dumps(self.name)}, "namespace": {json.dumps(self.namespace)}'

    @classmethod
    def from_marker(cls, comment: str | None) -> "Owner | None":
        """The owner named by a table comment, or None when the comment is not our marker."""
        if not comment:
            return None
        try:
            data = json.loads(comment)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get(MARKER_KEY) != MARKER_VALUE:
            return None
        fields = (data.get("namespace"), data.get("name"), data.get("uid"))
        if not all(isinstance(f, str) and f for f in fields):
            return None
        return cls(*fields)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


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
    deletion_policy: DeletionPolicy = DeletionPolicy.DROP
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
