"""Plan the operations that take the actual table to the desired one, or refuse.

Pure: it compares values read from the catalog with values parsed from the spec, like Alembic's
autogenerate (desired − actual: add; both: compare; actual − desired: refuse). It never decides
to drop data: a removed column or a changed type is refused, and a refused plan carries no
operations at all, so nothing of it is applied.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from dbtable.model import ActualTable, DeletionPolicy, DesiredColumn, DesiredTable, Owner


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
    """Write the ownership marker (a table comment naming the resource)."""

    table: str
    owner: Owner

    def describe(self) -> str:
        return f"marked table {self.table} as owned by {self.owner}"


@dataclass(frozen=True)
class Unmark:
    """Remove the ownership marker: the table is left to its users (deletionPolicy Retain)."""

    table: str

    def describe(self) -> str:
        return f"released table {self.table} (kept with its rows, ownership marker removed)"


@dataclass(frozen=True)
class DropTable:
    table: str

    def describe(self) -> str:
        return f"dropped table {self.table}"


Operation = CreateTable | RenameTable | AddColumn | DropPrimaryKey | AddPrimaryKey | MarkOwned \
    | Unmark | DropTable


class RefusalReason(str, enum.Enum):
    COLUMN_REMOVED = "ColumnRemoved"
    TYPE_CHANGED = "TypeChanged"
    CONFLICT = "Conflict"
    DRIFTED = "Drifted"


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


def plan_reconcile(desired: DesiredTable, owner: Owner, owned: ActualTable | None,
                   occupant: ActualTable | None, blocker: str | None = None) -> Plan:
    """Plan from the catalog's state to the spec.

    ``owned`` is the table that carries this resource's marker (found by uid, whatever its
    name); ``occupant`` is the table that currently holds the desired name, if that is another
    table; ``blocker`` names what else holds that name (an index, a view, a type), which no
    table can then take. A table that another resource owns, or that nobody owns and the spec
    did not ask to adopt, is never touched.
    """
    moving = owned is None or owned.name != desired.name
    if blocker is not None and occupant is None and moving:
        return Plan(refusals=(Refusal(
            RefusalReason.CONFLICT, "spec.tableName",
            f"the name {desired.name} is taken by {blocker}; choose another tableName"),))
    if occupant is not None and (owned is None or occupant.name != owned.name):
        conflict = _conflict(desired, owner, owned, occupant)
        if conflict is not None:
            return Plan(refusals=(conflict,))
        # Explicit adoption of an unowned table: it becomes ours, then converges as usual.
        return _merge(Plan(operations=(MarkOwned(occupant.name, owner),)),
                      _plan_changes(desired, occupant))
    if owned is None:
        return Plan(operations=(
            CreateTable(desired.name, desired.columns, desired.primary_key),
            MarkOwned(desired.name, owner)))
    return _plan_changes(desired, owned)


def plan_delete(owned: ActualTable | None, policy: DeletionPolicy) -> Plan:
    """Drop the owned table, or release it (Retain). Nothing owned: nothing to do."""
    if owned is None:
        return Plan()
    if policy is DeletionPolicy.RETAIN:
        return Plan(operations=(Unmark(owned.name),))
    return Plan(operations=(DropTable(owned.name),))


def plan_repair(plan: Plan) -> Plan:
    """Restrict a reconcile plan to additive repairs, for the periodic drift check.

    A table dropped behind the operator's back is recreated, missing columns are added back and
    a renamed table gets its name back; a primary key someone changed is reported, never
    replaced unasked. Refusals (removed columns, changed types, conflicts) pass through.
    """
    drop = next((op for op in plan.operations if isinstance(op, DropPrimaryKey)), None)
    if drop is None:  # every other operation of a reconcile plan only adds
        return plan
    wanted = next(op for op in plan.operations if isinstance(op, AddPrimaryKey))
    return Plan(refusals=(Refusal(
        RefusalReason.DRIFTED, "spec.primaryKey",
        f"the primary key of table {drop.table} is ({', '.join(drop.columns)}) but the spec "
        f"says ({', '.join(wanted.columns)}); it was changed outside the operator and is not "
        "replaced automatically: edit the spec (or the table) so they agree"),))


def _conflict(desired: DesiredTable, owner: Owner, owned: ActualTable | None,
              occupant: ActualTable) -> Refusal | None:
    field = "spec.tableName"
    if occupant.owner is not None and occupant.owner.uid != owner.uid:
        return Refusal(RefusalReason.CONFLICT, field,
                       f"table {occupant.name} belongs to DatabaseTable {occupant.owner}; "
                       "choose another tableName")
    if owned is not None:
        return Refusal(RefusalReason.CONFLICT, field,
                       f"cannot rename table {owned.name} to {desired.name}: a table of that "
                       "name already exists and is not managed by this resource")
    if not desired.adopt_existing:
        return Refusal(RefusalReason.CONFLICT, field,
                       f"table {occupant.name} already exists and is not managed by this "
                       "operator; set spec.adoptExistingTable: true to take it over, or choose "
                       "another tableName")
    return None


def _plan_changes(desired: DesiredTable, actual: ActualTable) -> Plan:
    refusals: list[Refusal] = []
    wanted_columns = {c.name: c for c in desired.columns}
    for column in actual.columns:
        wanted = wanted_columns.get(column.name)
        if wanted is None:
            refusals.append(Refusal(
                RefusalReason.COLUMN_REMOVED, "spec.columns",
                f"column {column.name} ({column.type}) exists in table {actual.name} but is "
                "missing from the spec; removing columns is not supported: add it back"))
        elif not wanted.type.matches(column.type):
            refusals.append(Refusal(
                RefusalReason.TYPE_CHANGED, f"spec.columns.{column.name}",
                f"column {column.name} is {column.type} in table {actual.name}, the spec says "
                f"{wanted.type.canonical}; changing a column's type is not supported: "
                f"set it back to {column.type}"))
    if refusals:
        return Plan(refusals=tuple(refusals))

    operations: list[Operation] = []
    table = actual.name
    if actual.name != desired.name:
        operations.append(RenameTable(actual.name, desired.name))
        table = desired.name
    existing = {c.name for c in actual.columns}
    operations.extend(AddColumn(table, c) for c in desired.columns if c.name not in existing)
    if actual.primary_key != desired.primary_key:
        if actual.primary_key_constraint is not None:
            operations.append(DropPrimaryKey(table, actual.primary_key_constraint,
                                             actual.primary_key))
        operations.append(AddPrimaryKey(table, desired.primary_key))
    return Plan(operations=tuple(operations))


def _merge(first: Plan, second: Plan) -> Plan:
    if second.refused:
        return Plan(refusals=second.refusals)
    return Plan(operations=first.operations + second.operations)
