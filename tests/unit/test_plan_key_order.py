"""A primary key is an ordered list: (a, b) and (b, a) are different keys (different indexes).

Fixed examples: comparing keys as sets was once caught only by a property test on some seeds.
"""
from __future__ import annotations

from dbtable.model import ActualColumn, ActualTable, Owner
from dbtable.plan import (AddPrimaryKey, DropPrimaryKey, Plan, RefusalReason, plan_reconcile,
                          plan_repair)
from dbtable.spec import parse_spec

OWNER = Owner("default", "orders", "uid-1")
COLUMNS = [{"ORDER_ID": "integer"}, {"LINE_NO": "smallint"}, {"NOTE": "text"}]


def desired(key: str):
    return parse_spec({"tableName": "order_lines", "columns": COLUMNS, "primaryKey": key})


def actual(key: tuple[str, ...]) -> ActualTable:
    return ActualTable(schema="public", name="order_lines",
                       columns=(ActualColumn("order_id", "integer"),
                                ActualColumn("line_no", "smallint"),
                                ActualColumn("note", "text")),
                       primary_key=key, primary_key_constraint="order_lines_pkey", owner=OWNER)


def test_reordered_key_columns_replace_the_key() -> None:
    plan = plan_reconcile(desired("LINE_NO, ORDER_ID"), OWNER, actual(("order_id", "line_no")),
                          None)
    assert plan.operations == (
        DropPrimaryKey("order_lines", "order_lines_pkey", ("order_id", "line_no")),
        AddPrimaryKey("order_lines", ("line_no", "order_id")))


def test_key_in_the_same_order_needs_nothing_even_when_it_differs_from_column_order() -> None:
    plan = plan_reconcile(desired("line_no, order_id"), OWNER, actual(("line_no", "order_id")),
                          None)
    assert plan == Plan()


def test_key_reordered_outside_the_operator_is_reported_as_drift() -> None:
    plan = plan_repair(plan_reconcile(desired("ORDER_ID, LINE_NO"), OWNER,
                                      actual(("line_no", "order_id")), None))
    assert plan.operations == ()
    (refusal,) = plan.refusals
    assert refusal.reason is RefusalReason.DRIFTED
    assert "(line_no, order_id)" in refusal.message and "(order_id, line_no)" in refusal.message
