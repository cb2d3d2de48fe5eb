"""The orders table, its specs and plans that the pure tests of "Changing a table" share
(tests/unit/test_plan_columns.py and tests/unit/test_plan_column_options.py)."""
from __future__ import annotations

from typing import Any

from dbtable.model import ActualColumn, ActualTable, Owner
from dbtable.plan import Facts, Plan, plan_reconcile
from dbtable.render import render, to_text
from dbtable.spec import parse_spec

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
