"""dbtable/fresh_create.py's plan: a new resource's plain table is planned without the
catalog, exactly as the full reconcile plans it when no table exists; a spec the catalog must
answer for gets no such plan."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from dbtable.fresh_create import fresh_plan
from dbtable.model import Owner
from dbtable.plan import CreateTable, MarkOwned, plan_reconcile
from dbtable.spec import parse_spec
from tests.support.seed import seed_spec
from tests.support.spec_strategies import specs

OWNER = Owner("default", "website-users", "uid-1")
SEED = seed_spec()


@given(specs())
def test_a_plain_spec_is_planned_as_the_full_reconcile_plans_a_missing_table(
        spec: dict[str, Any]) -> None:
    desired = parse_spec(spec)
    plan = fresh_plan(desired, OWNER)
    assert plan == plan_reconcile(desired, OWNER, owned=None, occupant=None)
    # One transaction: the table and its marker, nothing create_fresh could not send at once.
    assert plan is not None and plan.operations == (
        CreateTable(desired.name, desired.columns, desired.primary_key),
        MarkOwned(desired.name, OWNER))


@pytest.mark.parametrize("changes", [
    {"columnOptions": {"USER_NAME": {"nullable": False}, "USER_EMAIL": {"nullable": True}}},
    {"deletionPolicy": "Retain"},
    {"deletionPolicy": "Drop", "allowTableRewrite": True},
], ids=["nullable", "Retain", "Drop-and-rewrite"])
def test_fields_that_shape_no_catalog_read_keep_the_plain_table(changes: dict[str, Any]) -> None:
    desired = parse_spec({**SEED, **changes})
    plan = fresh_plan(desired, OWNER)
    assert plan is not None
    assert plan == plan_reconcile(desired, OWNER, owned=None, occupant=None)


@pytest.mark.parametrize("changes", [
    {"indexes": [{"columns": ["USER_NAME"]}]},
    {"foreignKeys": [{"columns": ["USER_ID"], "references": {"table": "T", "columns": ["ID"]}}]},
    {"columnOptions": {"USER_EMAIL": {"unique": True}}},
    {"columnOptions": {"USER_NAME": {"default": "'nobody'"}}},
    {"columnOptions": {"USER_NAME": {"previousNames": ["LOGIN"]}}},
    {"dropColumns": ["OLD"]},
    {"adoptExistingTable": True},
], ids=["indexes", "foreignKeys", "unique", "default", "previousNames", "dropColumns",
        "adoptExistingTable"])
def test_a_spec_the_catalog_must_answer_for_has_no_fresh_plan(changes: dict[str, Any]) -> None:
    assert fresh_plan(parse_spec({**SEED, **changes}), OWNER) is None
