"""Every row of the type-change table: widened without a rewrite, rewritten losslessly only
with allowTableRewrite, refused otherwise (pure: dbtable/type_changes.py and the planner)."""
from __future__ import annotations

import pytest

from dbtable.model import ActualColumn, ActualTable, Owner, TypeIdentity
from dbtable.operations import Facts, RefusalReason
from dbtable.plan import plan_reconcile, plan_repair
from dbtable.spec import parse_spec
from dbtable.type_changes import TypeChange, classify, classify_catalog
from dbtable.type_operations import RecheckColumnType, RewriteColumnType, WidenColumnType
from dbtable.types import parse_type
from tests.support.type_changes import REWRITE, WIDEN

OWNER = Owner("default", "retype", "u-1")

REFUSED = [
    ("character varying(20)", "varchar(10)"), ("text", "varchar(10)"),
    ("character varying", "varchar(10)"), ("numeric(10,2)", "numeric(9,2)"),
    ("numeric(10,2)", "numeric(10,3)"), ("numeric(10,2)", "numeric(12,1)"),
    ("numeric", "numeric(12,2)"), ("bigint", "integer"), ("integer", "smallint"),
    ("double precision", "real"), ("bigint", "numeric(18,0)"), ("integer", "numeric(12,3)"),
    ("integer", "numeric(12,-1)"), ("bigint", "double precision"), ("integer", "text"),
    ("text", "integer"), ("character(5)", "char(8)"), ("character(5)", "text"),
    ("bit(5)", "bit(8)"), ("bit varying", "varbit(5)"), ("bit varying(8)", "varbit(5)"),
    ("timestamp(6) without time zone", "timestamp(3)"),
    ("timestamp without time zone", "timestamptz"), ("time without time zone", "timetz"),
    ("interval", "interval(3)"), ("interval(2)", "interval day to second(4)"),
    ("interval day", "interval"), ("inet", "cidr"), ("json", "jsonb"), ("date", "timestamp"),
    ("integer[]", "bigint[]"), ("character varying(10)[]", "varchar(20)[]"),
    ("mood", "text"), ("text", "mood"), ("integer", "serial"), ("integer", "bigserial"),
]


@pytest.mark.parametrize("old, new", WIDEN)
def test_widening_without_a_rewrite(old: str, new: str) -> None:
    assert classify(parse_type(old), parse_type(new)) is TypeChange.WIDEN


@pytest.mark.parametrize("old, new", REWRITE)
def test_lossless_change_that_rewrites(old: str, new: str) -> None:
    assert classify(parse_type(old), parse_type(new)) is TypeChange.REWRITE


@pytest.mark.parametrize("old, new", REFUSED)
def test_narrowing_or_other_change_is_refused(old: str, new: str) -> None:
    assert classify(parse_type(old), parse_type(new)) is TypeChange.REFUSED


def test_types_outside_the_catalog_are_refused_by_oid() -> None:
    # A user-defined "text" printed as text (it shadows nothing, but is not pg_catalog's).
    assert classify_catalog("text", 99999, parse_type("varchar"), 1043) is TypeChange.REFUSED
    assert classify_catalog("text", 25, parse_type("varchar"), 99999) is TypeChange.REFUSED
    assert classify_catalog("text", 25, parse_type("varchar"), 1043) is TypeChange.WIDEN
    assert classify_catalog("not a type;", None, parse_type("text"), None) \
        is TypeChange.REFUSED


def _table(column_type: str) -> ActualTable:
    return ActualTable("public", "t", (ActualColumn("id", "integer"),
                                       ActualColumn("c", column_type)), ("id",), "t_pkey", OWNER)


def _plan(new: str, old: str, allow: bool = False, facts: Facts = Facts()):
    spec = {"tableName": "t", "columns": [{"ID": "integer"}, {"C": new}], "primaryKey": "ID"}
    if allow:
        spec["allowTableRewrite"] = True
    return plan_reconcile(parse_spec(spec), OWNER, _table(old), None, facts=facts)


def test_widening_is_planned_without_the_opt_in() -> None:
    plan = _plan("varchar(20)", "character varying(10)")
    assert plan.operations == (WidenColumnType("t", "c", "character varying(10)",
                                               parse_type("varchar(20)")),)
    assert plan.first_transaction() == (plan.operations, ())


@pytest.mark.parametrize("old, new", REWRITE[:4])
def test_rewrite_is_refused_without_the_opt_in_naming_column_types_and_opt_in(
        old: str, new: str) -> None:
    plan = _plan(new, old)
    assert plan.operations == ()
    (refusal,) = plan.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.TABLE_REWRITE, "spec.columns.c")
    canonical = parse_type(new).canonical
    assert refusal.message.startswith(f"column c is {old} in table t, the spec says {canonical}")
    assert "rewrites the table" in refusal.message
    assert "spec.allowTableRewrite: true" in refusal.message


@pytest.mark.parametrize("old, new", REWRITE)
def test_rewrite_is_planned_with_the_opt_in_in_its_own_transaction(old: str, new: str) -> None:
    plan = _plan(new, old, allow=True)
    (op,) = plan.operations
    assert isinstance(op, RewriteColumnType) and op.own_transaction
    assert (op.table, op.column, op.old_type, op.new_type) == ("t", "c", old, parse_type(new))


@pytest.mark.parametrize("old, new", REFUSED[:12])
def test_refusal_names_the_field_even_with_the_opt_in(old: str, new: str) -> None:
    for allow in (False, True):
        plan = _plan(new, old, allow=allow)
        assert plan.operations == ()
        (refusal,) = plan.refusals
        assert (refusal.reason, refusal.field) == (RefusalReason.TYPE_CHANGED, "spec.columns.c")
        assert f"set it back to {old}" in refusal.message


def test_widening_that_rechecks_a_constraint_needs_the_opt_in() -> None:
    facts = Facts(rechecks=(("c", "check constraint c_short"), ("c", "index c_lower")))
    refused = _plan("text", "character varying(10)", facts=facts)
    (refusal,) = refused.refusals
    assert refusal.reason is RefusalReason.TABLE_REWRITE
    assert "check constraint c_short, index c_lower" in refusal.message
    (op,) = _plan("text", "character varying(10)", allow=True, facts=facts).operations
    assert isinstance(op, RecheckColumnType) and op.scans and not op.rewrites


def test_the_drift_sweep_never_changes_a_type() -> None:
    for new, old in (("varchar(20)", "character varying(10)"), ("bigint", "integer")):
        repaired = plan_repair(_plan(new, old, allow=True))
        assert repaired.operations == ()
        assert [r.reason for r in repaired.refusals] == [RefusalReason.DRIFTED]


def test_retype_follows_a_rename_of_the_table_and_the_column() -> None:
    spec = {"tableName": "t2", "columns": [{"ID": "integer"}, {"D": "varchar(20)"}],
            "primaryKey": "ID", "columnOptions": {"D": {"previousNames": ["C"]}}}
    plan = plan_reconcile(parse_spec(spec), OWNER, _table("character varying(10)"), None)
    assert [(type(op).__name__, op.table) for op in plan.operations] == [
        ("RenameTable", "t"), ("RenameColumn", "t2"), ("WidenColumnType", "t2")]
    assert plan.operations[-1].column == "d"


def test_adopted_table_is_never_retyped() -> None:
    spec = {"tableName": "t", "columns": [{"ID": "integer"}, {"C": "text"}], "primaryKey": "ID",
            "adoptExistingTable": True}
    occupant = ActualTable("public", "t", _table("character varying(10)").columns, ("id",),
                           "t_pkey", None, comment='{"databaseTableOperator": {"adoptBy": '
                                                    '"default/retype"}}')
    plan = plan_reconcile(parse_spec(spec), OWNER, None, occupant)
    assert plan.operations == ()
    assert [r.reason for r in plan.refusals] == [RefusalReason.CONFLICT]


def test_identity_from_the_server_is_used_when_known() -> None:
    table = ActualTable("public", "t", (
        ActualColumn("id", "integer"),
        ActualColumn("c", "character varying(10)", TypeIdentity(1043, 14))), ("id",), "t_pkey",
        OWNER)
    spec = parse_spec({"tableName": "t", "columns": [{"ID": "integer"}, {"C": "text"}],
                       "primaryKey": "ID"})
    plan = plan_reconcile(spec, OWNER, table, None)
    assert [type(op).__name__ for op in plan.operations] == ["WidenColumnType"]
