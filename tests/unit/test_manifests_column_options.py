"""columnOptions and dropColumns in the CRD: their admission rules against the operator's
parser, and how they merge under server-side apply."""
from __future__ import annotations

from typing import Any

import pytest

from tests.support.admission import (TRANSITION_IN_PYTHON, admission_errors, evaluates,
                                     seed_with, walk)
from tests.support.manifests import crd, spec_schema, version  # noqa: F401 (fixtures)


def test_default_pattern_is_the_operators_default_grammar(spec_schema: dict[str, Any]) -> None:
    from dbtable.defaults import ADMISSION_PATTERN

    options = spec_schema["properties"]["columnOptions"]["additionalProperties"]
    assert options["properties"]["default"]["pattern"] == ADMISSION_PATTERN


def test_new_fields_stay_granular_under_server_side_apply(spec_schema: dict[str, Any]) -> None:
    fields = spec_schema["properties"]
    # A map (per-key ownership); sets only of strings, never of maps.
    assert fields["columnOptions"]["type"] == "object"
    assert "x-kubernetes-map-type" not in fields["columnOptions"]
    assert fields["dropColumns"]["x-kubernetes-list-type"] == "set"
    assert fields["dropColumns"]["items"]["type"] == "string"
    previous = fields["columnOptions"]["additionalProperties"]["properties"]["previousNames"]
    assert (previous["x-kubernetes-list-type"], previous["items"]["type"]) == ("set", "string")
    for path, node in walk(spec_schema, "spec"):
        if node.get("x-kubernetes-list-type") == "set":
            assert node["items"]["type"] != "object", path


ORDERS = seed_with(columns=[{"ID": "bigint"}, {"EMAIL": "text"}, {"STATUS": "text"}],
                   primaryKey="ID")


@pytest.mark.parametrize("changes", [
    {"columnOptions": {"EMAIL": {"nullable": False}, "status": {"default": "'new'"}}},
    {"columnOptions": {"STATUS": {"default": "now()", "previousNames": ["STATE", "st"]}}},
    {"columnOptions": {"STATUS": {"default": "-1.5"}}},
    {"dropColumns": ["LEGACY_FLAG", "old"]},
], ids=repr)
def test_good_options_are_accepted_by_admission_and_by_the_parser(
        spec_schema: dict[str, Any], changes: dict[str, Any]) -> None:
    from dbtable.spec import parse_spec

    spec = {**ORDERS, **changes}
    assert admission_errors(spec_schema, spec) == []
    parse_spec(spec)


@pytest.mark.parametrize("changes, error", [
    ({"columnOptions": {"NOPE": {}}}, "spec.columnOptions: every columnOptions key"),
    ({"columnOptions": {"STATUS": {"default": "pg_sleep(10)"}}}, "default: does not match"),
    ({"columnOptions": {"STATUS": {"default": "'a' || 'b'"}}}, "default: does not match"),
    ({"columnOptions": {"STATUS": {"default": "1; DROP TABLE x"}}}, "default: does not match"),
    ({"columnOptions": {"STATUS": {"nullable": "no"}}}, "nullable: must be boolean"),
    ({"columnOptions": {"STATUS": {"references": "T"}}}, "references: unknown field"),
    ({"columnOptions": {"STATUS": {"unique": "yes"}}}, "unique: must be boolean"),
    ({"columnOptions": {"STATUS": {"previousNames": ["a b"]}}}, "previousNames[0]: does not"),
    ({"columnOptions": {"STATUS": {"previousNames": [f"p{i}" for i in range(17)]}}},
     "too many"),
    ({"dropColumns": ["email"]}, "spec.dropColumns: a column listed in spec.dropColumns"),
    ({"dropColumns": ["OLD", "old"]}, "spec.dropColumns: a column listed in spec.dropColumns"),
    ({"columnOptions": {"STATUS": {"previousNames": ["OLD"]}, "EMAIL": {"previousNames": ["old"]}}},
     "spec.columnOptions: a name in spec.columnOptions previousNames"),
    ({"columnOptions": {"STATUS": {"previousNames": ["email"]}}},
     "spec.columnOptions: a name in spec.columnOptions previousNames"),
    ({"columnOptions": {"STATUS": {"previousNames": ["OLD"]}}, "dropColumns": ["old"]},
     "spec.columnOptions: a name in spec.columnOptions previousNames"),
    ({"dropColumns": ["x;y"]}, "spec.dropColumns[0]: does not match"),
], ids=repr)
def test_bad_options_are_refused_by_admission_and_by_the_parser(
        spec_schema: dict[str, Any], changes: dict[str, Any], error: str) -> None:
    from dbtable.errors import InvalidSpec
    from dbtable.spec import parse_spec

    spec = {**ORDERS, **changes}
    errors = admission_errors(spec_schema, spec)
    assert any(error in e for e in errors), errors
    with pytest.raises(InvalidSpec):
        parse_spec(spec)


@pytest.mark.parametrize("new, allowed", [
    ({**ORDERS}, True),
    ({**ORDERS, "columns": ORDERS["columns"] + [{"NOTE": "text"}]}, True),
    ({**ORDERS, "columns": ORDERS["columns"][:2]}, False),
    ({**ORDERS, "columns": ORDERS["columns"][:2], "dropColumns": ["Status"]}, True),
    ({**ORDERS, "columns": [{"ID": "bigint"}, {"EMAIL": "text"}, {"STATE": "text"}]}, False),
    ({**ORDERS, "columns": [{"ID": "bigint"}, {"EMAIL": "text"}, {"STATE": "text"}],
      "columnOptions": {"STATE": {"previousNames": ["STATUS"]}}}, True),
    ({**ORDERS, "columns": [{"id": "bigint"}, {"Email": "text"}, {"STATUS": "text"}]}, True),
], ids=repr)
def test_the_transition_rule_refuses_removing_a_column_without_saying_how(
        version: dict[str, Any], new: dict[str, Any], allowed: bool) -> None:
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    (rule,) = [r for r in spec["x-kubernetes-validations"] if "oldSelf" in r["rule"]]
    transition = TRANSITION_IN_PYTHON[" ".join(rule["rule"].split())]
    assert evaluates(transition, ORDERS, new) is allowed
