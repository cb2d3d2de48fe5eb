"""Planning from the catalog's state to the spec: operations and refusals, no database."""
from __future__ import annotations

import dataclasses

from dbtable.model import ActualColumn, ActualTable, DeletionPolicy, Owner
from dbtable.plan import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey, DropTable,
                          MarkOwned, Plan, RefusalReason, RenameTable, Unmark, plan_delete,
                          plan_reconcile, plan_repair)
from dbtable.spec import parse_spec

OWNER = Owner("default", "website-users", "uid-1")
OTHER = Owner("default", "someone-else", "uid-2")
SPEC = {
    "tableName": "WEBSITE_USERS",
    "columns": [{"USER_ID": "integer"}, {"USER_NAME": "varchar(50)"}],
    "primaryKey": "USER_ID",
}


def desired(**changes: object):
    return parse_spec({**SPEC, **changes})


def actual(name: str = "website_users", columns=(("user_id", "integer"),
                                                  ("user_name", "character varying(50)")),
           key=("user_id",), owner: Owner | None = OWNER) -> ActualTable:
    return ActualTable(schema="public", name=name,
                       columns=tuple(ActualColumn(n, t) for n, t in columns),
                       primary_key=key, primary_key_constraint=f"{name}_pkey" if key else None,
                       owner=owner)


def test_missing_table_is_created_and_marked() -> None:
    spec = desired()
    plan = plan_reconcile(spec, OWNER, owned=None, occupant=None)
    assert plan == Plan(operations=(CreateTable("website_users", spec.columns, ("user_id",)),
                                    MarkOwned("website_users", OWNER)))


def test_table_matching_the_spec_needs_nothing() -> None:
    assert plan_reconcile(desired(), OWNER, actual(), None) == Plan()


def test_added_column_is_appended() -> None:
    spec = desired(columns=SPEC["columns"] + [{"SIGNUP_DATE": "date"}])
    plan = plan_reconcile(spec, OWNER, actual(), None)
    assert plan.operations == (AddColumn("website_users", spec.columns[2]),)


def test_renamed_table_is_renamed_before_other_changes() -> None:
    spec = desired(tableName="USERS", columns=SPEC["columns"] + [{"X": "text"}])
    plan = plan_reconcile(spec, OWNER, actual(), occupant=None)
    assert plan.operations == (RenameTable("website_users", "users"),
                               AddColumn("users", spec.columns[2]))


def test_changed_primary_key_drops_the_old_constraint_and_adds_the_new() -> None:
    plan = plan_reconcile(desired(primaryKey="USER_ID, USER_NAME"), OWNER, actual(), None)
    assert plan.operations == (
        DropPrimaryKey("website_users", "website_users_pkey", ("user_id",)),
        AddPrimaryKey("website_users", ("user_id", "user_name")))


def test_primary_key_is_added_when_the_table_has_none() -> None:
    plan = plan_reconcile(desired(), OWNER, actual(key=()), None)
    assert plan.operations == (AddPrimaryKey("website_users", ("user_id",)),)


def test_removed_column_is_refused_and_nothing_is_planned() -> None:
    spec = desired(columns=[{"USER_ID": "integer"}, {"NEW": "text"}])
    plan = plan_reconcile(spec, OWNER, actual(), None)
    assert plan.operations == ()
    (refusal,) = plan.refusals
    assert refusal.reason is RefusalReason.COLUMN_REMOVED
    assert refusal.field == "spec.columns"
    assert "user_name" in refusal.message and "add it back" in refusal.message


def test_changed_type_is_refused_naming_both_types() -> None:
    spec = desired(columns=[{"USER_ID": "bigint"}, {"USER_NAME": "varchar(50)"}])
    plan = plan_reconcile(spec, OWNER, actual(), None)
    assert plan.operations == ()
    (refusal,) = plan.refusals
    assert refusal.reason is RefusalReason.TABLE_REWRITE  # lossless, but only when allowed
    assert refusal.field == "spec.columns.user_id"
    assert "integer" in refusal.message and "bigint" in refusal.message


def test_type_alias_is_not_a_change() -> None:
    spec = desired(columns=[{"USER_ID": "int4"}, {"USER_NAME": "character varying(50)"}])
    assert plan_reconcile(spec, OWNER, actual(), None) == Plan()


def test_every_refusal_is_reported_together() -> None:
    spec = desired(columns=[{"USER_ID": "text"}])
    reasons = [r.reason for r in plan_reconcile(spec, OWNER, actual(), None).refusals]
    assert reasons == [RefusalReason.TYPE_CHANGED, RefusalReason.COLUMN_REMOVED]


def test_table_of_another_resource_is_a_conflict() -> None:
    plan = plan_reconcile(desired(), OWNER, None, actual(owner=OTHER))
    (refusal,) = plan.refusals
    assert refusal.reason is RefusalReason.CONFLICT
    assert "default/someone-else" in refusal.message
    assert plan.operations == ()


def test_unowned_table_is_a_conflict_without_adoption() -> None:
    plan = plan_reconcile(desired(), OWNER, None, actual(owner=None))
    (refusal,) = plan.refusals
    assert "adoptExistingTable" in refusal.message


def test_unowned_table_is_adopted_when_asked_and_consented() -> None:
    spec = desired(adoptExistingTable=True, columns=SPEC["columns"] + [{"X": "text"}])
    consented = dataclasses.replace(actual(owner=None), comment=OWNER.consent())
    plan = plan_reconcile(spec, OWNER, None, consented)
    assert plan.operations == (MarkOwned("website_users", OWNER, adopted=True),
                               AddColumn("website_users", spec.columns[2]))


def test_adoption_never_takes_another_resources_table() -> None:
    plan = plan_reconcile(desired(adoptExistingTable=True), OWNER, None, actual(owner=OTHER))
    assert plan.refusals[0].reason is RefusalReason.CONFLICT


def test_rename_onto_an_existing_table_is_a_conflict() -> None:
    plan = plan_reconcile(desired(tableName="taken"), OWNER, actual(),
                          actual(name="taken", owner=None))
    (refusal,) = plan.refusals
    assert refusal.reason is RefusalReason.CONFLICT and "cannot rename" in refusal.message


def test_delete_drops_or_releases_the_owned_table() -> None:
    assert plan_delete(actual(), DeletionPolicy.DROP).operations == (DropTable("website_users"),)
    assert plan_delete(actual(), DeletionPolicy.RETAIN).operations == (Unmark("website_users"),)
    assert plan_delete(None, DeletionPolicy.DROP) == Plan()


def test_operations_describe_themselves_for_events() -> None:
    spec = desired()
    assert CreateTable("t", spec.columns, ("user_id",)).describe() == \
        "created table t with columns user_id, user_name and primary key (user_id)"
    assert RenameTable("a", "b").describe() == "renamed table a to b"


def test_drift_repair_keeps_additive_operations() -> None:
    spec = desired(columns=SPEC["columns"] + [{"X": "text"}])
    plan = plan_reconcile(spec, OWNER, actual(name="renamed_by_hand"), None)
    assert plan_repair(plan) == plan


def test_drift_repair_reports_a_replaced_primary_key_instead_of_replacing_it() -> None:
    plan = plan_reconcile(desired(), OWNER, actual(key=("user_name",)), None)
    repaired = plan_repair(plan)
    assert repaired.operations == ()
    (refusal,) = repaired.refusals
    assert refusal.reason is RefusalReason.DRIFTED
    assert "(user_name)" in refusal.message and "(user_id)" in refusal.message


def test_drift_repair_restores_a_dropped_primary_key() -> None:
    plan = plan_reconcile(desired(), OWNER, actual(key=()), None)
    assert plan_repair(plan).operations == (AddPrimaryKey("website_users", ("user_id",)),)


def test_name_held_by_an_index_or_view_is_a_conflict() -> None:
    plan = plan_reconcile(desired(tableName="T_PKEY"), OWNER, actual(name="t"), None,
                          blocker="an index t_pkey")
    (refusal,) = plan.refusals
    assert refusal.reason is RefusalReason.CONFLICT
    assert refusal.message == "the name t_pkey is taken by an index t_pkey; choose another tableName"


def test_blocker_is_irrelevant_once_the_table_has_the_name() -> None:
    assert plan_reconcile(desired(), OWNER, actual(), None, blocker="a type x") == Plan()
