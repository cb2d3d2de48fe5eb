"""Who a table belongs to, as its comment says: the operator's marker, a DBA's consent to
adoption, and whatever the table's users wrote there, which is always kept.

A table comment is read line by line. A line that is the operator's marker (JSON with
``"managedBy": "database-table-operator"``) names the owning resource; a line that is a consent
(``{"databaseTableOperator": {"adoptBy": "namespace/name"}}``) names the one resource a database
owner allows to adopt the table; every other line belongs to the table's users. Only someone
who may ``COMMENT ON`` the table (its owner role or a superuser) can write a consent: the
operator itself writes nothing but its marker, and the users of the Kubernetes API control no
text that it writes there.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

MARKER_KEY = "managedBy"
MARKER_VALUE = "database-table-operator"
CONSENT_KEY = "databaseTableOperator"
CONSENT_FIELD = "adoptBy"
MAX_NAME_BYTES = 63


@dataclass(frozen=True)
class Owner:
    """The resource a table belongs to: its namespace and name, and the uid of the object that
    wrote the marker. Two live objects never share a namespace and name, so a marker naming
    them with another uid is this resource coming back (a restore, a re-create)."""

    namespace: str
    name: str
    uid: str

    def marker(self) -> str:
        """The marker line that says a table is owned by this resource."""
        return Marker(self).text()

    def marker_fragment(self) -> str:
        """The part of every marker of this resource that identifies it: name and namespace,
        adjacent because the marker's keys are sorted and no key sorts between them."""
        return f'"name": {json.dumps(self.name)}, "namespace": {json.dumps(self.namespace)}'

    def same_resource(self, other: "Owner | None") -> bool:
        return other is not None and (other.namespace, other.name) == (self.namespace, self.name)

    def consent(self) -> str:
        """The consent line a database owner writes to let this resource adopt a table."""
        return json.dumps({CONSENT_KEY: {CONSENT_FIELD: str(self)}})

    @classmethod
    def from_marker(cls, comment: str | None) -> "Owner | None":
        """The owner named by a table comment's marker, or None when it carries none."""
        marker = TableComment.parse(comment).marker
        return marker.owner if marker else None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Marker:
    """The operator's line in a table comment.

    ``adopted``: the table existed before the operator took it over, so deleting the resource
    keeps it unless the spec explicitly says ``deletionPolicy: Drop``. ``retained_until``: the
    resource was deleted and the table is kept aside until then (DBT_DROP_RETENTION).
    """

    owner: Owner
    adopted: bool = False
    retained_until: str | None = None

    def text(self) -> str:
        data: dict[str, object] = {MARKER_KEY: MARKER_VALUE, "namespace": self.owner.namespace,
                                   "name": self.owner.name, "uid": self.owner.uid}
        if self.adopted:
            data["adopted"] = True
        if self.retained_until:
            data["retainedUntil"] = self.retained_until
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_data(cls, data: object) -> "Marker | None":
        if not isinstance(data, dict) or data.get(MARKER_KEY) != MARKER_VALUE:
            return None
        fields = (data.get("namespace"), data.get("name"), data.get("uid"))
        if not all(isinstance(f, str) and f for f in fields):
            return None
        until = data.get("retainedUntil")
        return cls(Owner(*fields), adopted=data.get("adopted") is True,
                   retained_until=until if isinstance(until, str) and until else None)


@dataclass(frozen=True)
class TableComment:
    """A table comment split into the users' text, the marker and an adoption consent."""

    user_text: str | None = None
    marker: Marker | None = None
    adopt_by: str | None = None  # "namespace/name" of the resource a DBA allows to adopt

    @classmethod
    def parse(cls, comment: str | None) -> "TableComment":
        if not comment:
            return cls()
        lines = comment.split("\n")
        parsed = [_ours(line) for line in lines]
        if all(data is None for data in parsed) and _ours(comment) is not None:
            lines, parsed = [comment], [_ours(comment)]  # one JSON over several lines
        marker: Marker | None = None
        adopt_by: str | None = None
        kept: list[str] = []
        for line, data in zip(lines, parsed):
            found = Marker.from_data(data)
            if found is not None:
                marker = marker or found
            elif _consent(data) is not None:
                adopt_by = adopt_by or _consent(data)
            else:
                kept.append(line)
        return cls("\n".join(kept) if kept else None, marker, adopt_by)

    def with_marker(self, marker: Marker) -> str:
        """The comment with ``marker`` as its marker, the users' text kept, a consent spent."""
        return f"{self.user_text}\n{marker.text()}" if self.user_text else marker.text()


def _ours(text: str) -> object | None:
    """The JSON of a marker or consent line; None for anything else (users' text)."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    return data if Marker.from_data(data) is not None or _consent(data) is not None else None


def _consent(data: object) -> str | None:
    if not isinstance(data, dict) or not isinstance(data.get(CONSENT_KEY), dict):
        return None
    who = data[CONSENT_KEY].get(CONSENT_FIELD)
    return who if isinstance(who, str) and who.count("/") == 1 else None


def retained_name(table: str, owner: Owner, until: datetime) -> str:
    """The name a dropped table is kept under: recognisable, unique per resource and moment,
    and within PostgreSQL's 63 bytes (the table's own name is cut to fit)."""
    digest = hashlib.sha256(f"{owner}/{owner.uid}".encode()).hexdigest()[:8]
    suffix = f"_retained_{until.strftime('%Y%m%d%H%M%S')}_{digest}"
    return table.encode()[:MAX_NAME_BYTES - len(suffix)].decode(errors="ignore") + suffix
