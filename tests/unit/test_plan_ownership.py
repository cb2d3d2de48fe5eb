"""Planning who owns a table: consented adoption, reclaiming after a restore, keeping the
users' comment, retention and the delete policy of adopted tables. No database."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dbtable.model import ActualColumn, ActualTable, DeletionPolicy, Owner
from dbtable.ownership import Marker
from dbtable.plan import (AddColumn, DropTable, MarkOwned, MarkRetained, Plan, ReclaimTable,
                          RefusalReason, RenameTable, Unmark, plan_delete, plan_reconcile)
from dbtable.spec import parse_spec

OWNER = Owner("hr", "payroll", "uid-new")
EARLIER = Owner("hr", "payroll", "uid-old")
PAYROLL = (("id", "integer"), ("employee", "text"), ("salary", "numeric(12,2)"))
SPEC = {"tableName": "payroll", "primaryKey": "id",
        "columns": [{"ID": "integer"}, {"EMPLOYEE": "text"}, {"SALARY": "numeric(12,2)"}]}


def desired(**changes: object):
    return parse_spec({**SPEC, **changes})


def table(name: str = "payroll", comment: str | None = None,
          columns: tuple[tuple[str, str], ...] = PAYROLL) -> ActualTable:
    return ActualTable(schema="public", name=name,
                       columns=tuple(ActualColumn(n, t) for n, t in columns),
                       primary_key=("id",), primary_key_constraint=f"{name}_pkey",
                       owner=Owner.from_marker(comment), comment=comment)


def test_refused_adoption_never_shows_the_tables_columns_or_types() -> None:
    probe = desired(adoptExistingTable=True, columns=[{"ID": "integer"}])
    for comment in (None, "HR: do not touch", OWNER.consent()):
        plan = plan_reconcile(probe, OWNER, None, table(comment=comment))
        (refusal,) = plan.refusals
        assert plan.operations == () and refusal.reason is RefusalReason.CONFLICT
        for secret in ("employee", "salary", "numeric", "text"):
            assert secret not in refusal.message


def test_adoption_without_consent_says_what_the_dba_must_run() -> None:
    plan = plan_reconcile(desired(adoptExistingTable=True), OWNER, None, table())
    (refusal,) = plan.refusals
    assert refusal.reason is RefusalReason.CONFLICT and plan.operations == ()
    assert ("""COMMENT ON TABLE "public"."payroll" IS """
            """'{"databaseTableOperator": {"adoptBy": "hr/payroll"}}';""") in refusal.message


def test_consent_for_another_resource_is_no_consent() -> None:
    other = Owner("hr", "payroll-probe", "uid-3").consent()
    plan = plan_reconcile(desired(adoptExistingTable=True), OWNER, None, table(comment=other))
    assert plan.refused and "adoptBy" in plan.refusals[0].message


def test_consent_without_adopt_existing_table_is_still_a_conflict() -> None:
    plan = plan_reconcile(desired(), OWNER, None, table(comment=OWNER.consent()))
    (refusal,) = plan.refusals
    assert "spec.adoptExistingTable: true" in refusal.message


def test_consented_adoption_marks_adopted_and_keeps_the_users_comment() -> None:
    comment = "HR: do not touch\n" + OWNER.consent()
    plan = plan_reconcile(desired(adoptExistingTable=True), OWNER, None, table(comment=comment))
    assert plan == Plan(operations=(
        MarkOwned("payroll", OWNER, keep="HR: do not touch", adopted=True),))
    assert plan.operations[0].comment() == "HR: do not touch\n" + Marker(OWNER, True).text()


@pytest.mark.parametrize("comment", [None, OWNER.consent()])
def test_rename_onto_an_unowned_table_is_refused_even_with_adoption(comment) -> None:
    mine = table(name="mine", comment=OWNER.marker())
    plan = plan_reconcile(desired(adoptExistingTable=True), OWNER, mine, table(comment=comment))
    (refusal,) = plan.refusals
    assert plan.operations == () and "cannot rename table mine to payroll" in refusal.message


def test_marker_of_an_earlier_object_of_the_same_resource_is_reclaimed() -> None:
    restored = table(comment="HR: do not touch\n" + EARLIER.marker())
    plan = plan_reconcile(desired(columns=SPEC["columns"] + [{"BONUS": "integer"}]), OWNER,
                          restored, None)
    assert plan.operations[0] == ReclaimTable("payroll", OWNER, "HR: do not touch",
                                              previous_uid="uid-old")
    assert isinstance(plan.operations[1], AddColumn)
    assert "uid-old" in plan.operations[0].describe()


def test_reclaim_keeps_the_adopted_flag() -> None:
    restored = table(comment=Marker(EARLIER, adopted=True).text())
    (op,) = plan_reconcile(desired(), OWNER, restored, None).operations
    assert op.comment() == Marker(OWNER, adopted=True).text()


def test_own_marker_needs_no_reclaim() -> None:
    assert plan_reconcile(desired(), OWNER, table(comment=OWNER.marker()), None) == Plan()


def test_table_kept_aside_is_reclaimed_and_renamed_back() -> None:
    aside = table(name="payroll_retained_x",
                  comment=Marker(EARLIER, retained_until="2026-11-28T05:00:00Z").text())
    plan = plan_reconcile(desired(), OWNER, aside, None)
    assert plan.operations == (ReclaimTable("payroll_retained_x", OWNER, previous_uid="uid-old"),
                               RenameTable("payroll_retained_x", "payroll"))
    assert "retainedUntil" not in plan.operations[0].comment()


def test_adopted_table_is_retained_unless_the_spec_says_drop() -> None:
    adopted = table(comment="HR: do not touch\n" + Marker(OWNER, adopted=True).text())
    assert plan_delete(adopted, None).operations == (Unmark("payroll", "HR: do not touch"),)
    assert plan_delete(adopted, DeletionPolicy.DROP).operations == (DropTable("payroll"),)
    created = table(comment=OWNER.marker())
    assert plan_delete(created, None).operations == (DropTable("payroll"),)
    assert plan_delete(created, DeletionPolicy.RETAIN).operations == (Unmark("payroll"),)


def test_drop_with_retention_renames_aside_and_marks_it_retained() -> None:
    until = datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc)
    plan = plan_delete(table(comment="note\n" + OWNER.marker()), None, retain_until=until)
    rename, mark = plan.operations
    assert isinstance(rename, RenameTable) and rename.table == "payroll"
    assert mark == MarkRetained(rename.new_name, OWNER, "note", False, "2026-11-28T05:00:00Z")
    assert mark.comment() == "note\n" + Marker(OWNER, retained_until="2026-11-28T05:00:00Z").text()
    # A second run of the same deletion finds the table already aside and does nothing.
    aside = table(name=rename.new_name, comment=mark.comment())
    assert plan_delete(aside, None, retain_until=until) == Plan()
