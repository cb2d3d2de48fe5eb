"""Foreign keys of the operator's own, added without blocking writes for a scan (values; see
dbtable/operations.py).

On a table that may hold rows a key is added the way a careful DBA adds it: ``ADD CONSTRAINT
... FOREIGN KEY ... NOT VALID`` is brief (SHARE ROW EXCLUSIVE on both tables, no scan; new and
changed rows are checked from then on), then ``VALIDATE CONSTRAINT`` in a transaction of its own
scans the existing rows under SHARE UPDATE EXCLUSIVE (reads and writes go on; the referenced
table only gets ROW SHARE). The planner counts orphan rows before it adds anything, so a key
that would not validate is refused and the catalog is left as it was. ``MarkForeignKey``
writes the marker (the constraint's comment) that makes it the operator's own, in the same
transaction as the addition.
"""
from __future__ import annotations

from dataclasses import dataclass

from dbtable.fk_model import DesiredForeignKey
from dbtable.steps import ACCESS_EXCLUSIVE, SHARE_ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, Step


@dataclass(frozen=True)
class AddForeignKey(Step):
    """``NOT VALID``: enforced for new rows at once, the existing ones proven by the next
    step (brief: no scan). Planned after any unique index it may reference is built."""

    lock = SHARE_ROW_EXCLUSIVE  # on this table and on the referenced one
    scans = False  # NOT VALID: the existing rows are proven by ValidateForeignKey
    rewrites = False
    table: str
    key: DesiredForeignKey

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def not_valid(self) -> bool:
        return True

    def describe(self) -> str:
        return (f"added foreign key {self.name} on {self.table} {self.key.describe()}, "
                "not yet validated")


@dataclass(frozen=True)
class AddValidForeignKey(AddForeignKey):
    """On a table created in the same transaction: no rows, so nothing to scan later (the
    check PostgreSQL runs reads an empty table)."""

    @property
    def not_valid(self) -> bool:
        return False

    def describe(self) -> str:
        return f"added foreign key {self.name} on {self.table} {self.key.describe()}"


@dataclass(frozen=True)
class MarkForeignKey(Step):
    """``COMMENT ON CONSTRAINT``: the marker that makes the key the operator's own."""

    lock = SHARE_UPDATE_EXCLUSIVE
    scans = False
    rewrites = False
    table: str
    name: str

    def describe(self) -> str:
        return f"marked foreign key {self.name} of {self.table} as managed by the operator"


@dataclass(frozen=True)
class ValidateForeignKey(Step):
    """Scans the table (SHARE UPDATE EXCLUSIVE; ROW SHARE on the referenced table)."""

    lock = SHARE_UPDATE_EXCLUSIVE
    own_transaction = True
    scans = True
    rewrites = False
    table: str
    name: str

    def describe(self) -> str:
        return f"validated foreign key {self.name} on {self.table}"


@dataclass(frozen=True)
class RenameForeignKey(Step):
    """``RENAME CONSTRAINT``: the operator's own key, already what the spec asks for, under a
    name that a rename moved (a generated name holds the key's columns and the table it
    references). The catalog only: nothing dropped, nothing revalidated, so the drift sweep
    may do it too."""

    scans = rewrites = False  # the catalog only; ACCESS EXCLUSIVE, briefly
    table: str
    name: str
    new_name: str

    def describe(self) -> str:
        return f"renamed foreign key {self.name} of {self.table} to {self.new_name}"


@dataclass(frozen=True)
class DropForeignKey(Step):
    """Only ever a key carrying the operator's marker. A replacement (the definition changed)
    drops and adds under the same name in one transaction: new rows are never unchecked."""

    additive = False
    lock = ACCESS_EXCLUSIVE  # on this table; the referenced one loses the key's triggers
    scans = False
    rewrites = False
    table: str
    name: str
    why: str = "removed from spec.foreignKeys"

    def describe(self) -> str:
        return f"dropped foreign key {self.name} of {self.table} ({self.why})"
