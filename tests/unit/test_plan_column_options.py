"""The rows of "Changing a table" for a column's options (NOT NULL, defaults, unique): the
plan for each change, its refusals, its SQL."""
from __future__ import annotations

import dataclasses

import pytest

from dbtable.column_operations import (AddNotNullCheck, DropDefault, DropNotNull, DropNotNullCheck,
                                       SetDefault, SetNotNull, ValidateNotNullCheck,
                                       not_null_check_name)
from dbtable.defaults import parse_default
from dbtable.plan import Facts, Plan, RefusalReason, plan_repair
from dbtable.unique_operations import unique_name
from tests.support.plan_columns import actual, col, desired, plan, sql_of


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
