"""Parsing spec.columnOptions and spec.dropColumns: every reference checked, errors named."""
from __future__ import annotations

from typing import Any

import pytest

from dbtable.defaults import DefaultKind
from dbtable.errors import InvalidSpec
from dbtable.model import ColumnOptions
from dbtable.spec import parse_spec

BASE: dict[str, Any] = {
    "tableName": "ORDERS",
    "columns": [{"ID": "bigint"}, {"CUSTOMER_ID": "bigint"}, {"EMAIL": "varchar(200)"},
                {"STATUS": "text"}, {"CREATED_AT": "timestamptz"}],
    "primaryKey": "ID",
}


def errors_of(**changes: Any) -> list[str]:
    with pytest.raises(InvalidSpec) as raised:
        parse_spec({**BASE, **changes})
    return [str(e) for e in raised.value.errors]


def test_the_seed_shape_has_no_options_and_no_drops() -> None:
    desired = parse_spec(BASE)
    assert all(c.options == ColumnOptions() for c in desired.columns)
    assert desired.drop_columns == ()


def test_the_issues_example_parses() -> None:
    desired = parse_spec({**BASE, "columnOptions": {
        "EMAIL": {"nullable": False},
        "status": {"nullable": False, "default": "'new'"},
        "CREATED_AT": {"default": "now()"},
        "CUSTOMER_ID": {"previousNames": ["CUST_ID"]}},
        "dropColumns": ["LEGACY_FLAG"]})
    options = {c.name: c.options for c in desired.columns}
    assert options["email"].nullable is False and options["email"].default is None
    assert options["status"].default.kind is DefaultKind.STRING
    assert options["status"].default.value == "new"
    assert options["created_at"].default.value == "now()"
    assert options["created_at"].nullable is None
    assert options["customer_id"].previous_names == ("cust_id",)
    assert options["id"] == ColumnOptions()
    assert desired.drop_columns == ("legacy_flag",)


@pytest.mark.parametrize("changes, expected", [
    ({"columnOptions": ["EMAIL"]}, "spec.columnOptions: must be a map"),
    ({"columnOptions": {"NOPE": {}}}, "spec.columnOptions.NOPE: 'NOPE' is not one of the "
                                      "declared columns"),
    ({"columnOptions": {"EMAIL": {}, "email": {}}}, "spec.columnOptions.email: duplicates"),
    ({"columnOptions": {"a b": {}}}, "spec.columnOptions.a b: column name"),
    ({"columnOptions": {"EMAIL": "NOT NULL"}}, "spec.columnOptions.EMAIL: must be a map"),
    ({"columnOptions": {"EMAIL": {"references": "T"}}},
     "spec.columnOptions.EMAIL.references: unknown"),
    ({"columnOptions": {"EMAIL": {"unique": "yes"}}},
     "spec.columnOptions.EMAIL.unique: must be true or false"),
    ({"columnOptions": {"EMAIL": {"nullable": "false"}}},
     "spec.columnOptions.EMAIL.nullable: must be true or false"),
    ({"columnOptions": {"ID": {"nullable": True}}},
     "spec.columnOptions.ID.nullable: a primary key column is always NOT NULL"),
    ({"columnOptions": {"STATUS": {"default": "new"}}},
     "spec.columnOptions.STATUS.default: 'new' is not a default"),
    ({"columnOptions": {"STATUS": {"default": 5}}},
     "spec.columnOptions.STATUS.default: must be a string"),
    ({"columnOptions": {"STATUS": {"previousNames": "OLD"}}},
     "spec.columnOptions.STATUS.previousNames: must be a list"),
    ({"columnOptions": {"STATUS": {"previousNames": ["x;y"]}}},
     "spec.columnOptions.STATUS.previousNames[0]: column name"),
    ({"columnOptions": {"STATUS": {"previousNames": ["OLD", "old"]}}},
     "spec.columnOptions.STATUS.previousNames[1]: names 'old' twice"),
    ({"columnOptions": {"STATUS": {"previousNames": ["EMAIL"]}}},
     "spec.columnOptions.STATUS.previousNames: 'email' is a declared column"),
    ({"columnOptions": {"STATUS": {"previousNames": [f"P{i}" for i in range(17)]}}},
     "spec.columnOptions.STATUS.previousNames: has 17 names"),
    ({"columnOptions": {"STATUS": {"previousNames": ["OLD"]}}, "dropColumns": ["old"]},
     "spec.columnOptions.STATUS.previousNames: 'old' is also listed in spec.dropColumns"),
    ({"columnOptions": {"STATUS": {"previousNames": ["OLD"]},
                        "EMAIL": {"previousNames": ["OLD"]}}},
     "spec.columnOptions.EMAIL.previousNames: 'old' is also a previous name of column "
     "'status'"),
    ({"dropColumns": "LEGACY"}, "spec.dropColumns: must be a list"),
    ({"dropColumns": ["email"]}, "spec.dropColumns[0]: 'email' is still declared"),
    ({"dropColumns": ["X", "x"]}, "spec.dropColumns[1]: names column 'x' twice"),
    ({"dropColumns": ["x; DROP TABLE y"]}, "spec.dropColumns[0]: column name"),
])
def test_bad_options_are_refused_naming_the_field(changes: dict[str, Any],
                                                  expected: str) -> None:
    assert any(e.startswith(expected) for e in errors_of(**changes)), errors_of(**changes)


def test_a_key_spelled_in_another_case_names_the_declared_column() -> None:
    desired = parse_spec({**BASE, "columnOptions": {"Email": {"nullable": False}}})
    assert next(c for c in desired.columns if c.name == "email").options.nullable is False
