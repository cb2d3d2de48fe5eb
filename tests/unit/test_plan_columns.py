"""Every row of "Changing a table": the plan for each change, its refusals, its SQL (the
options of an existing column, NOT NULL, defaults and unique: test_plan_column_options.py)."""
from __future__ import annotations

import pytest

from dbtable.column_operations import DropColumn, RenameColumn, SetDefault
from dbtable.defaults import parse_default
from dbtable.plan import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey, Facts, Plan,
                          RefusalReason, plan_reconcile, plan_repair)
from dbtable.spec import parse_spec
from tests.support.plan_columns import COLUMNS, OWNER, actual, col, desired, plan, sql_of


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
