"""Every row of "Changing a table": the plan for each change, its refusals, its SQL."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dbtable.column_operations import (AddNotNullCheck, DropColumn, DropDefault, DropNotNull,
                                       DropNotNullCheck, RenameColumn, SetDefault, SetNotNull,
                                       ValidateNotNullCheck, not_null_check_name)
from dbtable.defaults import parse_default
from dbtable.model import ActualColumn, ActualTable, Owner
from dbtable.plan import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey, Facts, Plan,
                          RefusalReason, plan_reconcile, plan_repair)
from dbtable.render import render, to_text
from dbtable.spec import parse_spec
from dbtable.unique_operations import unique_name

OWNER = Owner("default", "orders", "uid-1")
COLUMNS = [{"ID": "bigint"}, {"EMAIL": "text"}, {"STATUS": "text"}]


def desired(columns: list[dict[str, str]] = COLUMNS, **changes: Any):
    return parse_spec({"tableName": "ORDERS", "columns": columns, "primaryKey": "ID",
                       **changes})


def actual(*columns: ActualColumn, checks: tuple[tuple[str, bool], ...] = (),
           key: tuple[str, ...] = ("id",)) -> ActualTable:
    columns = columns or (col("id", not_null=True), col("email"), col("status"))
    return ActualTable(schema="public", name="orders", columns=columns, primary_key=key,
                       primary_key_constraint="orders_pkey" if key else None, owner=OWNER,
                       checks=checks)


def col(name: str, type_: str = "text", not_null: bool = False,
        default: str | None = None) -> ActualColumn:
    return ActualColumn(name, "bigint" if name == "id" else type_, not_null=not_null,
                        default=default)


def plan(spec, table, facts: Facts = Facts(rows=0)) -> Plan:
    return plan_reconcile(spec, OWNER, table, None, facts=facts)


def sql_of(p: Plan) -> list[str]:
    return [to_text(s) for s in render(p.operations, "public")]


# --- unstated options change nothing ---------------------------------------------------------

def test_options_not_stated_leave_the_table_as_it_is() -> None:
    table = actual(col("id", not_null=True), col("email", not_null=True, default="'x'::text"),
                   col("status"))
    assert plan(desired(), table) == Plan()


# --- creating --------------------------------------------------------------------------------

def test_a_new_table_gets_not_null_and_defaults_in_create_table() -> None:
    spec = desired(columnOptions={"EMAIL": {"nullable": False},
                                  "STATUS": {"nullable": False, "default": "'new'"}})
    p = plan_reconcile(spec, OWNER, None, None)
    assert isinstance(p.operations[0], CreateTable)
    assert sql_of(p)[0] == ('CREATE TABLE "public"."orders" ("id" bigint, "email" text NOT NULL, '
                            '"status" text NOT NULL DEFAULT \'new\', PRIMARY KEY ("id"))')


# --- adding a column -------------------------------------------------------------------------

def test_a_nullable_column_is_added_plainly() -> None:
    spec = desired(COLUMNS + [{"NOTE": "text"}])
    p = plan(spec, actual(), Facts(rows=10))
    assert p.operations == (AddColumn("orders", spec.columns[3]),)
    assert sql_of(p) == ['ALTER TABLE "public"."orders" ADD COLUMN "note" text']


def test_a_not_null_column_with_a_constant_default_is_added_at_once_on_a_full_table() -> None:
    spec = desired(COLUMNS + [{"FLAG": "boolean"}],
                   columnOptions={"FLAG": {"nullable": False, "default": "false"}})
    p = plan(spec, actual(), Facts(rows=1000))
    assert p.operations == (AddColumn("orders", spec.columns[3], not_null=True,
                                      default=parse_default("false")),)
    assert sql_of(p) == ['ALTER TABLE "public"."orders" ADD COLUMN "flag" boolean NOT NULL '
                         'DEFAULT false']


def test_not_null_without_a_default_is_refused_on_a_table_with_rows_and_says_how_many() -> None:
    spec = desired(COLUMNS + [{"FLAG": "boolean"}], columnOptions={"FLAG": {"nullable": False}})
    p = plan(spec, actual(), Facts(rows=3))
    assert p.operations == ()
    (refusal,) = p.refusals
    assert refusal.reason is RefusalReason.ROWS_PRESENT
    assert refusal.field == "spec.columnOptions.flag.nullable"
    assert "3 row(s)" in refusal.message


def test_not_null_without_a_default_is_added_on_an_empty_table() -> None:
    spec = desired(COLUMNS + [{"FLAG": "boolean"}], columnOptions={"FLAG": {"nullable": False}})
    assert plan(spec, actual(), Facts(rows=0)).operations == (
        AddColumn("orders", spec.columns[3], not_null=True),)


def test_a_volatile_default_is_set_after_adding_the_column_never_by_a_rewrite() -> None:
    spec = desired(COLUMNS + [{"TOKEN": "uuid"}],
                   columnOptions={"TOKEN": {"default": "gen_random_uuid()"}})
    p = plan(spec, actual(), Facts(rows=5))
    assert p.operations == (AddColumn("orders", spec.columns[3]),
                            SetDefault("orders", "token", parse_default("gen_random_uuid()")))


# --- NOT NULL --------------------------------------------------------------------------------

NOT_NULL_EMAIL = {"EMAIL": {"nullable": False}}


def test_set_not_null_is_a_not_valid_check_then_validate_in_its_own_transaction() -> None:
    p = plan(desired(columnOptions=NOT_NULL_EMAIL), actual(), Facts(rows=5))
    assert p.operations == (AddNotNullCheck("orders", "email"),
                            ValidateNotNullCheck("orders", "email"),
                            SetNotNull("orders", "email"), DropNotNullCheck("orders", "email"))
    first, rest = p.first_transaction()
    assert first == (AddNotNullCheck("orders", "email"),)
    assert rest[0] == ValidateNotNullCheck("orders", "email")
    check = not_null_check_name("email")
    assert sql_of(p) == [
        f'ALTER TABLE "public"."orders" ADD CONSTRAINT "{check}" CHECK ("email" IS NOT NULL) '
        "NOT VALID",
        f'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "{check}"',
        'ALTER TABLE "public"."orders" ALTER COLUMN "email" SET NOT NULL',
        f'ALTER TABLE "public"."orders" DROP CONSTRAINT "{check}"']
    assert [op.lock for op in p.operations] == ["ACCESS EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
                                                "ACCESS EXCLUSIVE", "ACCESS EXCLUSIVE"]


def test_set_not_null_is_refused_while_nulls_exist_and_says_how_many() -> None:
    p = plan(desired(columnOptions=NOT_NULL_EMAIL), actual(),
             Facts(rows=9, nulls=(("email", 4),)))
    assert p.operations == ()
    (refusal,) = p.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.NULLS_PRESENT,
                                               "spec.columnOptions.email.nullable")
    assert "NULL in 4 row(s)" in refusal.message


def test_set_not_null_resumes_at_validate_when_the_check_exists_unvalidated() -> None:
    checks = ((not_null_check_name("email"), False),)
    p = plan(desired(columnOptions=NOT_NULL_EMAIL), actual(checks=checks))
    assert p.operations == (ValidateNotNullCheck("orders", "email"),
                            SetNotNull("orders", "email"), DropNotNullCheck("orders", "email"))
    assert p.first_transaction() == (p.operations, ())  # validate first: the whole is one


def test_set_not_null_finishes_when_the_check_is_already_valid() -> None:
    checks = ((not_null_check_name("email"), True),)
    p = plan(desired(columnOptions=NOT_NULL_EMAIL), actual(checks=checks))
    assert p.operations == (SetNotNull("orders", "email"), DropNotNullCheck("orders", "email"))


def test_a_left_over_check_of_ours_is_dropped_once_the_column_is_not_null() -> None:
    checks = ((not_null_check_name("email"), True),)
    table = actual(col("id", not_null=True), col("email", not_null=True), col("status"),
                   checks=checks)
    assert plan(desired(columnOptions=NOT_NULL_EMAIL), table).operations == (
        DropNotNullCheck("orders", "email"),)


def test_nullable_true_drops_not_null_but_never_on_a_key_column() -> None:
    table = actual(col("id", not_null=True), col("email", not_null=True), col("status"))
    p = plan(desired(columnOptions={"EMAIL": {"nullable": True}}), table)
    assert p.operations == (DropNotNull("orders", "email"),)
    assert sql_of(p) == ['ALTER TABLE "public"."orders" ALTER COLUMN "email" DROP NOT NULL']


# --- defaults --------------------------------------------------------------------------------

def test_a_missing_default_is_set() -> None:
    p = plan(desired(columnOptions={"STATUS": {"default": "'new'"}}), actual())
    assert sql_of(p) == ['ALTER TABLE "public"."orders" ALTER COLUMN "status" SET DEFAULT '
                         "'new'"]


def test_offline_a_constant_default_is_judged_by_presence_only() -> None:
    """The drift sweep cannot ask the server how the type prints a constant: '2024-01-01' is
    2024-01-01 00:00:00 on a timestamp. It must not see drift that is not there."""
    table = actual(col("id", not_null=True), col("email"),
                   col("status", default="'2024-01-01 00:00:00'::timestamp without time zone"))
    assert plan(desired(columnOptions={"STATUS": {"default": "'2024-01-01'"}}), table) == Plan()
    table = actual(col("id", not_null=True), col("email"), col("status", default="now()"))
    assert plan(desired(columnOptions={"STATUS": {"default": "'x'"}}), table).operations == (
        SetDefault("orders", "status", parse_default("'x'")),)


@pytest.mark.parametrize("wanted, found, changes", [
    ("'new'", "'new'::text", False),
    ("now()", "now()", False),
    ("current_timestamp", "CURRENT_TIMESTAMP", False),
    ("now()", "CURRENT_TIMESTAMP", True),
    ("42", "42", False),
])
def test_a_default_is_changed_only_when_it_differs(wanted: str, found: str,
                                                   changes: bool) -> None:
    table = actual(col("id", not_null=True), col("email"), col("status", default=found))
    p = plan(desired(columnOptions={"STATUS": {"default": wanted}}), table)
    assert p.operations == ((SetDefault("orders", "status", parse_default(wanted)),)
                            if changes else ())


def test_a_default_is_compared_as_the_server_prints_the_constant() -> None:
    import dataclasses

    spec = desired([{"ID": "bigint"}, {"EMAIL": "text"}, {"STATUS": "timestamp"}],
                   columnOptions={"STATUS": {"default": "'2024-01-01'"}})
    status = spec.columns[2]
    resolved = dataclasses.replace(status, options=dataclasses.replace(
        status.options, default_text="2024-01-01 00:00:00"))
    spec = dataclasses.replace(spec, columns=spec.columns[:2] + (resolved,))
    found = "'2024-01-01 00:00:00'::timestamp without time zone"
    table = actual(col("id", not_null=True), col("email"),
                   col("status", "timestamp without time zone", default=found))
    assert plan(spec, table) == Plan()


def test_default_null_drops_the_default() -> None:
    table = actual(col("id", not_null=True), col("email"), col("status", default="'x'::text"))
    p = plan(desired(columnOptions={"STATUS": {"default": "null"}}), table)
    assert p.operations == (DropDefault("orders", "status"),)
    assert sql_of(p) == ['ALTER TABLE "public"."orders" ALTER COLUMN "status" DROP DEFAULT']
    assert plan(desired(columnOptions={"STATUS": {"default": "null"}}), actual()) == Plan()


# --- renames ---------------------------------------------------------------------------------

RENAMED = [{"ID": "bigint"}, {"MAIL": "text"}, {"STATUS": "text"}]


def test_a_previous_name_renames_the_column() -> None:
    p = plan(desired(RENAMED, columnOptions={"MAIL": {"previousNames": ["EMAIL"]}}), actual())
    assert p.operations == (RenameColumn("orders", "email", "mail"),)
    assert sql_of(p) == ['ALTER TABLE "public"."orders" RENAME COLUMN "email" TO "mail"']


def test_a_rename_is_refused_when_both_names_exist() -> None:
    table = actual(col("id", not_null=True), col("email"), col("mail"), col("status"))
    p = plan(desired(RENAMED, columnOptions={"MAIL": {"previousNames": ["EMAIL"]}}), table)
    assert p.operations == ()
    assert [(r.reason, r.field) for r in p.refusals] == [
        (RefusalReason.COLUMN_RENAME, "spec.columnOptions.mail.previousNames")]


def test_a_renamed_column_keeps_the_type_check() -> None:
    table = actual(col("id", not_null=True), col("email", "integer"), col("status"))
    p = plan(desired(RENAMED, columnOptions={"MAIL": {"previousNames": ["EMAIL"]}}), table)
    assert [r.reason for r in p.refusals] == [RefusalReason.TYPE_CHANGED]


def test_a_renamed_column_gets_its_options_in_the_same_plan() -> None:
    p = plan(desired(RENAMED, columnOptions={"MAIL": {"previousNames": ["EMAIL"],
                                                     "default": "'x'"}}), actual())
    assert p.operations == (RenameColumn("orders", "email", "mail"),
                            SetDefault("orders", "mail", parse_default("'x'")))


# --- drops -----------------------------------------------------------------------------------

def test_a_column_listed_in_drop_columns_is_dropped() -> None:
    spec = desired([{"ID": "bigint"}, {"STATUS": "text"}], dropColumns=["EMAIL"])
    p = plan(spec, actual())
    assert p.operations == (DropColumn("orders", "email"),)
    assert sql_of(p) == ['ALTER TABLE "public"."orders" DROP COLUMN "email"']


def test_a_removed_column_not_listed_is_refused_and_the_message_says_how_to_drop_it() -> None:
    p = plan(desired([{"ID": "bigint"}, {"STATUS": "text"}]), actual())
    (refusal,) = p.refusals
    assert refusal.reason is RefusalReason.COLUMN_REMOVED
    assert "spec.dropColumns" in refusal.message


def test_dropping_a_key_column_drops_the_old_key_first() -> None:
    spec = parse_spec({"tableName": "ORDERS", "columns": [{"EMAIL": "text"}, {"STATUS": "text"}],
                       "primaryKey": "EMAIL", "dropColumns": ["ID"]})
    p = plan(spec, actual())
    assert p.operations == (DropPrimaryKey("orders", "orders_pkey", ("id",)),
                            DropColumn("orders", "id"), AddPrimaryKey("orders", ("email",)))


# --- the drift sweep -------------------------------------------------------------------------

@pytest.mark.parametrize("spec, table", [
    (desired([{"ID": "bigint"}, {"STATUS": "text"}], dropColumns=["EMAIL"]), actual()),
    (desired(RENAMED, columnOptions={"MAIL": {"previousNames": ["EMAIL"]}}), actual()),
    (desired(columnOptions={"EMAIL": {"nullable": True}}),
     actual(col("id", not_null=True), col("email", not_null=True), col("status"))),
    (desired(columnOptions={"STATUS": {"default": "null"}}),
     actual(col("id", not_null=True), col("email"), col("status", default="'x'::text"))),
])
def test_the_drift_sweep_never_takes_anything_away_on_its_own(spec, table) -> None:
    p = plan_repair(plan(spec, table))
    assert p.operations == ()
    (refusal,) = p.refusals
    assert refusal.reason is RefusalReason.DRIFTED


def test_the_drift_sweep_restores_what_only_adds() -> None:
    spec = desired(columnOptions={"STATUS": {"default": "'new'"}, "EMAIL": {"nullable": False}})
    p = plan(spec, actual())
    assert plan_repair(p) == p and p.operations


# --- unique ----------------------------------------------------------------------------------

NAME = unique_name("orders", "email")  # the operator's constraint of orders.email

def test_unique_is_built_concurrently_outside_any_transaction_then_attached() -> None:
    from dbtable.unique_operations import AttachUniqueConstraint, CreateUniqueIndex

    p = plan(desired(columnOptions={"EMAIL": {"unique": True}}), actual(), Facts(rows=3))
    name = NAME
    assert p.operations == (CreateUniqueIndex("orders", "email", name),
                            AttachUniqueConstraint("orders", "email", name))
    assert p.first_transaction() == ((CreateUniqueIndex("orders", "email", name),),
                                     (AttachUniqueConstraint("orders", "email", name),))
    assert sql_of(p) == [
        f'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "public"."orders" ("email")',
        f'ALTER TABLE "public"."orders" ADD CONSTRAINT "{name}" UNIQUE USING INDEX "{name}"']
    assert not p.operations[0].transactional and p.operations[1].own_transaction


def test_unique_is_refused_while_values_repeat_and_says_how_many() -> None:
    p = plan(desired(columnOptions={"EMAIL": {"unique": True}}), actual(),
             Facts(rows=9, duplicates=(("email", 2),)))
    (refusal,) = p.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.DUPLICATES_PRESENT,
                                               "spec.columnOptions.email.unique")
    assert "2 row(s)" in refusal.message and p.operations == ()


def test_an_invalid_index_of_ours_is_dropped_and_built_again() -> None:
    from dbtable.unique_operations import (AttachUniqueConstraint, CreateUniqueIndex,
                                           DropUniqueIndex)

    table = dataclasses.replace(actual(), unique_indexes=((NAME, False),))
    p = plan(desired(columnOptions={"EMAIL": {"unique": True}}), table)
    assert p.operations == (DropUniqueIndex("orders", "email", NAME),
                            CreateUniqueIndex("orders", "email", NAME),
                            AttachUniqueConstraint("orders", "email", NAME))
    assert sql_of(p)[0] == f'DROP INDEX CONCURRENTLY IF EXISTS "public"."{NAME}"'


def test_a_valid_index_of_ours_without_its_constraint_is_attached() -> None:
    from dbtable.unique_operations import AttachUniqueConstraint

    table = dataclasses.replace(actual(), unique_indexes=((NAME, True),))
    assert plan(desired(columnOptions={"EMAIL": {"unique": True}}), table).operations == (
        AttachUniqueConstraint("orders", "email", NAME),)


def test_unique_false_drops_only_the_operators_own_constraint() -> None:
    from dbtable.unique_operations import DropUniqueConstraint

    table = dataclasses.replace(actual(), uniques=(
        (NAME, ("email",)), ("status_key", ("status",))))
    p = plan(desired(), table)
    assert p.operations == (DropUniqueConstraint("orders", "email", NAME),)
    assert sql_of(p) == [f'ALTER TABLE "public"."orders" DROP CONSTRAINT "{NAME}"']
    assert plan(desired(columnOptions={"EMAIL": {"unique": True}}), table) == Plan()
    assert plan_repair(p).refusals[0].reason is RefusalReason.DRIFTED
