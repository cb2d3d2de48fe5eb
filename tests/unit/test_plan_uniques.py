"""How the operator names its unique constraints and keeps their names right (issue 9's two
bugs): the table is in the name, a new table gets its constraint as it is created, and a name
that changes (the old scheme, a renamed table or column) is renamed in place, never rebuilt."""
from __future__ import annotations

import dataclasses
import hashlib

from dbtable.plan import Facts, Plan, RefusalReason, plan_reconcile, plan_repair
from dbtable.render import render, to_text
from tests.unit.test_plan_columns import OWNER, actual, col, desired, plan, sql_of

UNIQUE = {"columnOptions": {"EMAIL": {"unique": True}}}


def legacy(column: str) -> str:
    """The name the operator gave before the table was part of it."""
    return f"dbt_uq_{column[:40]}_{hashlib.sha256(column.encode()).hexdigest()[:8]}"


def created_name(table: str) -> str:
    """The name a plan of the spec (unique email) on table ``table`` builds."""
    spec = desired(**UNIQUE, tableName=table)
    table_now = dataclasses.replace(actual(), name=table.lower())
    (build, _) = plan(spec, table_now, Facts(rows=3)).operations
    return build.name


def test_two_tables_with_unique_on_the_same_column_get_two_names() -> None:
    assert created_name("ORDERS") != created_name("CUSTOMERS")


def test_the_name_stays_within_63_bytes_and_never_cuts_a_character() -> None:
    from dbtable.unique_operations import unique_name

    for table, column in (("t" * 63, "é" * 63), ("ü" * 31, "a" * 63), ("x", "y")):
        name = unique_name(table, column)
        assert len(name.encode()) <= 63 and name.startswith("dbt_uq_")
        name.encode().decode("utf-8")  # whole characters only
    assert unique_name("a", "é" * 63) != unique_name("b", "é" * 63)


def test_a_new_table_gets_its_unique_constraint_in_the_creating_transaction() -> None:
    p = plan_reconcile(desired(**UNIQUE), OWNER, None, None)
    first, rest = p.first_transaction()
    assert rest == ()
    statements = [to_text(s) for s in render(first, "public")]
    assert statements[0].startswith('CREATE TABLE "public"."orders"')
    assert any(" UNIQUE (\"email\")" in s and "CONCURRENTLY" not in s for s in statements), \
        statements


def test_a_constraint_under_the_old_name_is_renamed_in_place_not_rebuilt() -> None:
    from dbtable.unique_operations import unique_name

    table = dataclasses.replace(actual(), uniques=((legacy("email"), ("email",)),),
                                unique_indexes=((legacy("email"), True),))
    assert sql_of(plan(desired(**UNIQUE), table)) == [
        f'ALTER TABLE "public"."orders" RENAME CONSTRAINT "{legacy("email")}" TO '
        f'"{unique_name("orders", "email")}"']


def test_an_index_built_under_the_old_name_is_attached_under_the_new_one() -> None:
    """A run of the old code stopped between the build and the attach: ADD CONSTRAINT ...
    USING INDEX renames the index to the constraint's name; nothing is built again."""
    from dbtable.unique_operations import unique_name

    table = dataclasses.replace(actual(), unique_indexes=((legacy("email"), True),))
    name = unique_name("orders", "email")
    assert sql_of(plan(desired(**UNIQUE), table)) == [
        f'ALTER TABLE "public"."orders" ADD CONSTRAINT "{name}" UNIQUE USING INDEX '
        f'"{legacy("email")}"']


def test_renaming_the_table_renames_the_constraint() -> None:
    from dbtable.unique_operations import unique_name

    table = dataclasses.replace(actual(), name="old_orders", uniques=(
        (unique_name("old_orders", "email"), ("email",)),))
    assert sql_of(plan(desired(**UNIQUE), table)) == [
        'ALTER TABLE "public"."old_orders" RENAME TO "orders"',
        f'ALTER TABLE "public"."orders" RENAME CONSTRAINT "{unique_name("old_orders", "email")}"'
        f' TO "{unique_name("orders", "email")}"']


def test_renaming_the_column_renames_the_constraint() -> None:
    from dbtable.unique_operations import unique_name

    table = dataclasses.replace(actual(col("id", not_null=True), col("mail"), col("status")),
                                uniques=((unique_name("orders", "mail"), ("mail",)),))
    spec = desired(columnOptions={"EMAIL": {"unique": True, "previousNames": ["MAIL"]}})
    assert sql_of(plan(spec, table)) == [
        'ALTER TABLE "public"."orders" RENAME COLUMN "mail" TO "email"',
        f'ALTER TABLE "public"."orders" RENAME CONSTRAINT "{unique_name("orders", "mail")}" '
        f'TO "{unique_name("orders", "email")}"']


def test_the_drift_sweep_renames_a_constraint_to_its_name() -> None:
    """Renaming the operator's own constraint takes nothing away (same constraint, same
    index): the periodic check may do it, so tables made before the table was in the name
    move to the new names without a spec change."""
    table = dataclasses.replace(actual(), uniques=((legacy("email"), ()),),
                                unique_indexes=((legacy("email"), True),))
    p = plan(desired(**UNIQUE), table, Facts())
    assert len(p.operations) == 1 and plan_repair(p) == p


def test_a_name_held_by_someone_else_is_refused_and_nothing_is_touched() -> None:
    from dbtable.unique_operations import unique_name

    name = unique_name("orders", "email")
    facts = Facts(rows=0, unique_names_taken=((name, f"the index {name} of table other"),))
    for table in (actual(),
                  dataclasses.replace(actual(), uniques=((legacy("email"), ("email",)),))):
        p = plan(desired(**UNIQUE), table, facts)
        (refusal,) = p.refusals
        assert p.operations == () and refusal.reason is RefusalReason.CONFLICT
        assert refusal.field == "spec.columnOptions.email.unique"
        assert f"the index {name} of table other" in refusal.message
    p = plan_reconcile(desired(**UNIQUE), OWNER, None, None, facts=facts)
    assert p.operations == () and p.refusals[0].reason is RefusalReason.CONFLICT


def test_a_constraint_of_a_dropped_column_is_left_to_drop_column() -> None:
    """DROP COLUMN takes the column's constraint with it; dropping it again would fail."""
    from dbtable.unique_operations import unique_name

    table = dataclasses.replace(actual(), uniques=((unique_name("orders", "status"),
                                                    ("status",)),))
    p = plan(desired(columns=[{"ID": "bigint"}, {"EMAIL": "text"}], dropColumns=["STATUS"]),
             table)
    assert sql_of(p) == ['ALTER TABLE "public"."orders" DROP COLUMN "status"']


def test_someone_elses_constraint_is_never_renamed_or_dropped() -> None:
    table = dataclasses.replace(actual(), uniques=(("email_key", ("email",)),
                                                   ("dbt_uq_status_deadbeef", ("status",))))
    p = plan(desired(), table)
    assert p == Plan()
