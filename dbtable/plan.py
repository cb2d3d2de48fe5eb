"""Plan the operations that take the actual table to the desired one, or refuse.

Pure: it compares values read from the catalog with values parsed from the spec, like Alembic's
autogenerate (desired − actual: add; both: compare; actual − desired: refuse). It never decides
to drop data on its own: a removed column or a changed type is refused unless the spec says so
explicitly (``dropColumns``, ``previousNames``), and a refused plan carries no operations at
all, so nothing of it is applied.

This module decides whose table it is and what happens to it as a whole (create, adopt,
reclaim, refuse a conflict, delete, park, repair); the column-by-column comparison of an
existing table with the spec is dbtable/plan_changes.py.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from dbtable.model import ActualTable, DeletionPolicy, DesiredTable, Owner
# The operations live in their own module; importing them from here keeps working.
from dbtable.operations import (AddColumn, AddPrimaryKey, CreateTable,  # noqa: F401
                                DropPrimaryKey, DropTable, Facts, MarkOwned, MarkRetained,
                                Operation, Plan, ReclaimTable, Refusal, RefusalReason,
                                RenameTable, Unmark)
from dbtable.ownership import MAX_NAME_BYTES, TableComment, retained_name
# Importing these from here keeps working too.
from dbtable.plan_columns import (DropColumn, plan_added_column, plan_options,  # noqa: F401
                                  plan_renames, plan_uniques)
from dbtable.plan_changes import plan_changes
from dbtable.type_operations import WidenColumnType
from dbtable.plan_indexes import plan_new_table_indexes
from dbtable.plan_foreign_keys import plan_new_table_keys
from dbtable.plan_uniques import new_table_uniques

NO_FACTS = Facts()


def plan_reconcile(desired: DesiredTable, owner: Owner, owned: ActualTable | None,
                   occupant: ActualTable | None, blocker: str | None = None,
                   facts: Facts = NO_FACTS) -> Plan:
    """Plan from the catalog's state to the spec.

    ``owned`` is the table whose marker names this resource's namespace and name (whatever the
    table is called now, and whichever uid wrote the marker); ``occupant`` is the table that
    currently holds the desired name, if that is another table; ``blocker`` names what else
    holds that name (an index, a view, a type), which no table can then take. A table that
    another resource owns is never touched; one that nobody owns is adopted only when the spec
    asks and a database owner consented in the table's comment.
    """
    unknown = _unresolved_types(desired)
    if unknown:
        return Plan(refusals=unknown)
    moving = owned is None or owned.name != desired.name
    if blocker is not None and occupant is None and moving:
        return Plan(refusals=(Refusal(
            RefusalReason.CONFLICT, "spec.tableName",
            f"the name {desired.name} is taken by {blocker}; choose another tableName"),))
    if occupant is not None and (owned is None or occupant.name != owned.name):
        conflict = _conflict(desired, owner, owned, occupant)
        if conflict is not None:
            return Plan(refusals=(conflict,))
        # Consented adoption of an unowned table: it becomes ours, then converges as usual.
        keep = TableComment.parse(occupant.comment).user_text
        return _merge(Plan(operations=(MarkOwned(occupant.name, owner, keep, adopted=True),)),
                      _adoption_changes(desired, occupant, facts))
    if owned is None:
        indexes, refused = plan_new_table_indexes(desired, facts)
        keys = plan_new_table_keys(desired, facts)
        uniques, refused_uniques = new_table_uniques(desired, facts)
        if refused or keys.refusals or refused_uniques:
            return Plan(refusals=tuple(refused) + keys.refusals + tuple(refused_uniques))
        # The table's own unique constraints first: a key of it may reference one.
        return Plan(operations=(
            CreateTable(desired.name, desired.columns, desired.primary_key),
            MarkOwned(desired.name, owner), *uniques) + keys.adds + tuple(indexes))
    return _merge(Plan(operations=_reclaim(owned, owner)), plan_changes(desired, owned, facts))


def plan_delete(owned: ActualTable | None, policy: DeletionPolicy | None,
                retain_until: datetime | None = None, referencing: tuple[str, ...] = ()
                ) -> Plan:
    """Drop the owned table, keep it aside (a retention window), or release it.

    ``policy`` None (not given in the spec) drops a table the operator created and releases
    one it adopted: a table that existed before is never dropped unless the spec says Drop.
    With ``retain_until`` a Drop renames the table aside and marks it retained until then.
    A Drop of a table that other tables' foreign keys reference (``referencing``) is refused:
    DROP TABLE would fail on them, and CASCADE would drop keys nobody asked to drop.
    """
    if owned is None or owned.owner is None:
        return Plan()
    comment = TableComment.parse(owned.comment)
    if comment.marker is not None and comment.marker.retained_until is not None:
        return Plan()  # already kept aside by an earlier run of this deletion
    adopted = comment.marker is not None and comment.marker.adopted
    if policy is DeletionPolicy.RETAIN or (policy is None and adopted):
        return Plan(operations=(Unmark(owned.name, comment.user_text),))
    if retain_until is None:
        if referencing:
            return Plan(refusals=(Refusal(
                RefusalReason.TABLE_REFERENCED, "spec.deletionPolicy",
                f"table {owned.name} is not dropped: {', '.join(referencing)} references it, "
                "and dropping it would drop that key too (the operator never uses CASCADE); "
                "remove the foreign key (or delete the DatabaseTable that declares it) first, "
                "or set deletionPolicy: Retain; the deletion is retried"),))
        return Plan(operations=(DropTable(owned.name),))
    retain_until = retain_until.astimezone(timezone.utc)
    aside = retained_name(owned.name, owned.owner, retain_until)
    until = retain_until.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Plan(operations=(RenameTable(owned.name, aside),
                            MarkRetained(aside, owned.owner, comment.user_text, adopted, until)))


def plan_repair(plan: Plan) -> Plan:
    """Restrict a reconcile plan to additive repairs, for the periodic drift check.

    A table dropped behind the operator's back is recreated, missing columns are added back and
    a renamed table gets its name back; a primary key someone changed is reported, never
    replaced unasked. Refusals (removed columns, changed types, conflicts) pass through.
    """
    drop = next((op for op in plan.operations if isinstance(op, DropPrimaryKey)), None)
    taking = [op for op in plan.operations if not op.additive and op is not drop]
    if taking:
        # A dropped column that came back, a renamed one under its old name again, a NOT
        # NULL or a default someone added: data or a rule someone may rely on. Reported.
        return Plan(refusals=(Refusal(
            RefusalReason.DRIFTED, "spec.columns",
            "the table was changed outside the operator; bringing it back to the spec would "
            "take something away, which the periodic check never does on its own: "
            + "; ".join(op.describe().replace("dropped", "drop").replace("renamed", "rename")
                        .replace("made", "make") for op in taking)
            + ". Edit the spec or the table so they agree (any change to the spec applies it)"),))
    if drop is None:  # every other operation of a reconcile plan only adds
        return plan
    wanted = next(op for op in plan.operations if isinstance(op, AddPrimaryKey))
    return Plan(refusals=(Refusal(
        RefusalReason.DRIFTED, "spec.primaryKey",
        f"the primary key of table {drop.table} is ({', '.join(drop.columns)}) but the spec "
        f"says ({', '.join(wanted.columns)}); it was changed outside the operator and is not "
        "replaced automatically: edit the spec (or the table) so they agree"),))


def parking_name(desired: str, owner: Owner) -> str:
    """Where a table waits during a swap of names: unique per resource, within 63 bytes."""
    digest = hashlib.sha256(str(owner).encode()).hexdigest()[:8]
    suffix = f"_swapping_{digest}"
    return desired.encode()[:MAX_NAME_BYTES - len(suffix)].decode(errors="ignore") + suffix


def plan_park(desired: DesiredTable, owner: Owner, owned: ActualTable | None,
              holder: ActualTable | None, parking_taken: bool) -> Plan:
    """Move this resource's table out of the way when it and the resource holding its desired
    name want each other's names (a swap, found by the drift sweep): renaming across two
    resources is not one transaction, so one of them steps aside to a free name of its own,
    the other takes the name it left, and then this one takes the other's. Only ever renames
    this resource's own table, and only away from a name its spec no longer wants."""
    parking = parking_name(desired.name, owner)
    if owned is None or owned.name in (desired.name, parking) or parking_taken:
        return Plan()
    if holder is None or holder.owner is None or owner.same_resource(holder.owner):
        return Plan()  # the name is free (or not another resource's): a reconcile takes it
    return Plan(operations=(RenameTable(owned.name, parking),))


def _conflict(desired: DesiredTable, owner: Owner, owned: ActualTable | None,
              occupant: ActualTable) -> Refusal | None:
    """Why ``occupant`` (a table holding the desired name that is not ours) cannot be taken.

    The messages never describe the occupant's columns: they are not this resource's to see.
    """
    field = "spec.tableName"
    if occupant.owner is not None:
        # Refused while the other holds it, even when it is about to let go (a swap of two
        # names): renaming across two resources is not one transaction. The drift sweep
        # re-checks the refusal (and resolves a swap), so this resource converges once the
        # name is free.
        swap = (f", or wait until {occupant.owner} lets go of it (two resources swapping "
                "names converge by themselves)" if owned is not None else "")
        return Refusal(RefusalReason.CONFLICT, field,
                       f"table {occupant.name} belongs to DatabaseTable {occupant.owner}; "
                       f"choose another tableName{swap}")
    if owned is not None:
        return Refusal(RefusalReason.CONFLICT, field,
                       f"cannot rename table {owned.name} to {desired.name}: a table of that "
                       "name already exists and is not managed by this resource")
    consent = _consent_statement(occupant, owner)
    if not desired.adopt_existing:
        return Refusal(RefusalReason.CONFLICT, field,
                       f"table {occupant.name} already exists and is not managed by this "
                       "operator; choose another tableName, or to take it over set "
                       "spec.adoptExistingTable: true and have a database owner consent with: "
                       f"{consent}")
    if TableComment.parse(occupant.comment).adopt_by != str(owner):
        return Refusal(RefusalReason.CONFLICT, field,
                       f"table {occupant.name} already exists and is not managed by this "
                       "operator; adopting it needs the consent of a database owner, who must "
                       f"run: {consent} (or add that JSON as a line of the table's comment)")
    return None


def _consent_statement(occupant: ActualTable, owner: Owner) -> str:
    table = ".".join('"' + part.replace('"', '""') + '"'
                     for part in (occupant.schema, occupant.name))
    return f"COMMENT ON TABLE {table} IS '{owner.consent()}';"


def _reclaim(owned: ActualTable, owner: Owner) -> tuple[Operation, ...]:
    """Rewrite the marker when an earlier object of this namespace/name wrote it, or when the
    table was kept aside after a deletion: this resource takes it back, rows and all."""
    comment = TableComment.parse(owned.comment)
    marker = comment.marker
    previous = owned.owner
    if not owner.uid:
        return ()  # a manifest read from a file (the plan command): no uid to write
    if previous is None or (previous.uid == owner.uid
                            and (marker is None or marker.retained_until is None)):
        return ()
    return (ReclaimTable(owned.name, owner, comment.user_text,
                         adopted=marker is not None and marker.adopted,
                         previous_uid=previous.uid),)


def _adoption_changes(desired: DesiredTable, occupant: ActualTable, facts: Facts) -> Plan:
    """The changes that adopt ``occupant``; a mismatch is refused without naming its columns
    or types, which the adopting resource has no right to learn from the operator."""
    plan = plan_changes(desired, occupant, facts)
    retyped = any(isinstance(op, WidenColumnType) for op in plan.operations)
    if not plan.refused and not retyped:  # adopted with its exact types, or not at all
        return plan
    return Plan(refusals=(Refusal(
        RefusalReason.CONFLICT, "spec.columns",
        f"cannot adopt table {occupant.name}: spec.columns does not declare every column of "
        "the table with its exact type; ask the table's owner for its definition (nothing "
        "about it is shown here)"),))


def _unresolved_types(desired: DesiredTable) -> tuple[Refusal, ...]:
    types = tuple(Refusal(RefusalReason.INVALID_SPEC, f"spec.columns.{c.name}",
                          f"column type {c.type.canonical}: {c.unresolved}")
                  for c in desired.columns if c.unresolved is not None)
    defaults = tuple(Refusal(
        RefusalReason.INVALID_SPEC, f"spec.columnOptions.{c.name}.default",
        f"{c.options.default.canonical} is not a value of type {c.type.canonical}: "
        f"{c.options.default_error}")
        for c in desired.columns if c.options.default_error is not None
        and c.options.default is not None)
    return types + defaults


def _merge(first: Plan, second: Plan) -> Plan:
    if second.refused:
        return Plan(refusals=second.refusals)
    return Plan(operations=first.operations + second.operations)
