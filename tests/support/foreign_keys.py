"""The orders/customers tables, specs and plans that the pure foreign key tests share
(tests/unit/test_foreign_keys.py and tests/unit/test_foreign_key_renames.py)."""
from __future__ import annotations

from typing import Any

import pytest

from dbtable.errors import InvalidSpec
from dbtable.fk_model import ActualForeignKey, FkAction, ReferencedTable, foreign_key_name
from dbtable.model import ActualColumn, ActualTable, Owner
from dbtable.plan import Facts, Plan, plan_reconcile
from dbtable.render import render, to_text
from dbtable.spec import parse_spec


OWNER = Owner("default", "orders", "uid-1")
COLUMNS = [{"ID": "bigint"}, {"CUSTOMER_ID": "bigint"}, {"NOTE": "text"}]
FK = {"columns": ["CUSTOMER_ID"], "references": {"table": "CUSTOMERS", "columns": ["ID"]}}
CUSTOMERS = ReferencedTable("customers", ("id", "name"), (("id",),))
KNOWN = Facts(rows=0, references=(("customers", CUSTOMERS),))
NAME = foreign_key_name(("customer_id",), "customers", ("id",))


def desired(*keys: dict[str, Any], columns: list[dict[str, str]] = COLUMNS, **changes: Any):
    return parse_spec({"tableName": "ORDERS", "columns": columns, "primaryKey": "ID",
                       "foreignKeys": list(keys), **changes})


def errors_of(*keys: Any, **changes: Any) -> list[str]:
    with pytest.raises(InvalidSpec) as caught:
        desired(*keys, **changes)
    return [str(e) for e in caught.value.errors]


def fk(name: str = NAME, columns: tuple[str, ...] = ("customer_id",), ref: str = "customers",
       on_delete: FkAction = FkAction.NO_ACTION, validated: bool = True,
       managed: bool = True) -> ActualForeignKey:
    return ActualForeignKey(name, columns, "public", ref, ("id",), on_delete,
                            FkAction.NO_ACTION, validated, managed)


def actual(*keys: ActualForeignKey, columns: tuple[str, ...] = ("id", "customer_id", "note")
           ) -> ActualTable:
    return ActualTable(schema="public", name="orders",
                       columns=tuple(ActualColumn(c, "text" if c == "note" else "bigint",
                                                  not_null=c == "id") for c in columns),
                       primary_key=("id",), primary_key_constraint="orders_pkey", owner=OWNER,
                       foreign_keys=keys)


def plan(spec, table, facts: Facts = KNOWN) -> Plan:
    return plan_reconcile(spec, OWNER, table, None, facts=facts)


def sql_of(p: Plan) -> list[str]:
    return [to_text(s) for s in render(p.operations, "public")]
