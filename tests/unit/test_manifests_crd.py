"""The CRD, checked without a cluster: its schema read as data by a small validator and Python
renderings of its CEL rules (tests/support/admission.py) show that the seed's example is
accepted, that bad specs are refused, and that admission agrees with the operator's own parser
(dbtable/spec.py)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.support.admission import (CEL_IN_PYTHON, NOT_CHECKED, SEED_SPEC,
                                     TRANSITION_IN_PYTHON, admission_errors, seed_with, walk)
from tests.support.hostile import HostileCase, load_hostile_cases
from tests.support.manifests import crd, example, spec_schema, version  # noqa: F401 (fixtures)


def test_crd_names_group_version_and_scope(crd: dict[str, Any], version: dict[str, Any]) -> None:
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == "databasetables.kopf.demo"
    assert crd["spec"]["group"] == "kopf.demo"
    assert crd["spec"]["scope"] == "Namespaced"
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["singular"]) == (
        "DatabaseTable", "databasetables", "databasetable")
    assert names["shortNames"] == ["dbt", "dbtable"]
    assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
    assert version["subresources"] == {"status": {}}


def test_every_spec_field_has_a_type_and_a_description(spec_schema: dict[str, Any]) -> None:
    undocumented = [path for path, node in walk(spec_schema, "spec")
                    if not node.get("type") or not node.get("description")]
    assert undocumented == []


def test_nothing_under_spec_or_status_preserves_unknown_fields(version: dict[str, Any]) -> None:
    root = version["schema"]["openAPIV3Schema"]
    for part in ("spec", "status"):
        assert [path for path, node in walk(root["properties"][part], part)
                if "x-kubernetes-preserve-unknown-fields" in node] == []


def test_spec_requires_the_seed_fields_and_defaults_the_new_ones(
        spec_schema: dict[str, Any]) -> None:
    assert spec_schema["required"] == ["tableName", "columns", "primaryKey"]
    fields = spec_schema["properties"]
    assert set(fields) == {"tableName", "columns", "primaryKey", "deletionPolicy",
                           "adoptExistingTable", "allowTableRewrite", "columnOptions",
                           "dropColumns", "foreignKeys", "indexes"}
    assert fields["deletionPolicy"]["enum"] == ["Drop", "Retain"]
    # No default: absent means Drop for a created table, Retain for an adopted one.
    assert "default" not in fields["deletionPolicy"]
    assert fields["adoptExistingTable"] == {**fields["adoptExistingTable"],
                                            "type": "boolean", "default": False}
    assert fields["allowTableRewrite"] == {**fields["allowTableRewrite"],
                                           "type": "boolean", "default": False}
    assert (fields["columns"]["minItems"], fields["columns"]["maxItems"]) == (1, 1600)


def test_spec_fields_match_what_the_operator_parses(spec_schema: dict[str, Any]) -> None:
    from dbtable import spec as parser

    assert tuple(spec_schema["properties"]) == parser.KNOWN_FIELDS
    assert spec_schema["properties"]["columns"]["maxItems"] == parser.MAX_COLUMNS


def test_names_follow_the_operators_identifier_rule(spec_schema: dict[str, Any]) -> None:
    from dbtable.names import IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH

    table_name = spec_schema["properties"]["tableName"]
    assert table_name["pattern"] == IDENTIFIER_PATTERN
    assert table_name["maxLength"] == MAX_IDENTIFIER_LENGTH


def test_column_type_pattern_is_the_operators_admission_pattern(
        spec_schema: dict[str, Any]) -> None:
    from dbtable.types import ADMISSION_PATTERN

    item = spec_schema["properties"]["columns"]["items"]
    assert item["additionalProperties"]["pattern"] == ADMISSION_PATTERN


@pytest.mark.parametrize("column_type", [
    "integer", "varchar(50)", "numeric(10,2)", "timestamp(3) with time zone",
    "double precision", "text[]", "myschema.mytype", "character varying(100)", "int[][]",
    "vector(1536)", "geometry(Point,4326)", "public.geography(PointZ, 4326)[]", "_int4",
])
def test_column_type_pattern_accepts_type_names(spec_schema: dict[str, Any],
                                                column_type: str) -> None:
    assert admission_errors(spec_schema, seed_with(columns=[{"USER_ID": column_type}])) == []


@pytest.mark.parametrize("column_type", [
    "", "integer; DROP TABLE x", "text -- comment", "integer\n", "varchar(50)\nDROP",
    "'text'", '"text"', "text)", "int--", "x" * 129,
])
def test_column_type_pattern_rejects_sql_that_is_not_a_type(spec_schema: dict[str, Any],
                                                            column_type: str) -> None:
    assert admission_errors(spec_schema, seed_with(columns=[{"USER_ID": column_type}])) != []


def test_seed_example_is_unchanged_and_admitted(example: dict[str, Any],
                                                spec_schema: dict[str, Any]) -> None:
    assert example == {"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
                       "metadata": {"name": "website-users"}, "spec": SEED_SPEC}
    assert admission_errors(spec_schema, example["spec"]) == []


@pytest.mark.parametrize("spec", [
    seed_with(tableName="1USERS"),
    seed_with(tableName="website-users"),
    seed_with(tableName="x" * 64),
    seed_with(tableName=""),
    seed_with(tableName=42),
    seed_with(columns=[]),
    seed_with(columns={"USER_ID": "integer"}),
    seed_with(columns=[{}]),
    seed_with(columns=[{"USER_ID": "integer", "USER_NAME": "text"}]),
    seed_with(columns=[{"USER-ID": "integer"}]),
    seed_with(columns=[{"USER_ID": 5}]),
    seed_with(columns=[{"C" * 64: "integer"}], primaryKey="C"),
    seed_with(primaryKey="NOPE"),
    seed_with(primaryKey="USER_ID, NOPE"),
    seed_with(primaryKey="USER_ID,"),
    seed_with(primaryKey=["USER_ID"]),
    seed_with(primaryKey=", ".join(["USER_ID"] * 33)),
    seed_with(deletionPolicy="Delete"),
    seed_with(adoptExistingTable="yes"),
    seed_with(owner="me"),
    {key: value for key, value in SEED_SPEC.items() if key != "primaryKey"},
], ids=lambda spec: repr(spec)[:60])
def test_bad_specs_are_refused_by_admission_and_by_the_parser(
        spec_schema: dict[str, Any], spec: dict[str, Any]) -> None:
    from dbtable.errors import InvalidSpec
    from dbtable.spec import parse_spec

    assert admission_errors(spec_schema, spec) != []
    with pytest.raises(InvalidSpec):
        parse_spec(spec)


@pytest.mark.parametrize("spec", [
    SEED_SPEC,
    seed_with(primaryKey="user_id"),
    seed_with(columns=[{"ORDER_ID": "integer"}, {"line_no": "smallint"}, {"x$1": "text"}],
              primaryKey="ORDER_ID, LINE_NO"),
    seed_with(columns=[{"A": "integer"}, {"B": "integer"}], primaryKey=" a ,b "),
    seed_with(columns=[{f"C{i}": "integer"} for i in range(32)],
              primaryKey=",".join(f"c{i}" for i in range(32))),
    seed_with(tableName="_" + "x" * 62, deletionPolicy="Retain", adoptExistingTable=True),
], ids=lambda spec: repr(spec)[:60])
def test_good_specs_are_accepted_by_admission_and_by_the_parser(
        spec_schema: dict[str, Any], spec: dict[str, Any]) -> None:
    from dbtable.spec import parse_spec

    assert admission_errors(spec_schema, spec) == []
    parse_spec(spec)


def test_case_folded_duplicate_columns_are_refused_by_admission_and_by_the_parser(
        spec_schema: dict[str, Any]) -> None:
    from dbtable.errors import InvalidSpec
    from dbtable.spec import parse_spec

    spec = seed_with(columns=[{"ID": "integer"}, {"id": "text"}], primaryKey="ID")
    assert any("differ after folding" in e for e in admission_errors(spec_schema, spec))
    with pytest.raises(InvalidSpec, match="duplicates"):
        parse_spec(spec)


def test_cel_rules_point_at_the_field_they_judge(spec_schema: dict[str, Any]) -> None:
    *column_rules, key_rule = spec_schema["x-kubernetes-validations"]
    assert [r["fieldPath"] for r in column_rules] == [".columns", ".columnOptions",
                                                       ".dropColumns", ".columnOptions",
                                                       ".indexes", ".indexes", ".columns",
                                                       ".foreignKeys", ".foreignKeys",
                                                       ".foreignKeys"]
    assert all("oldSelf" not in r["messageExpression"] for r in column_rules
               if "messageExpression" in r)
    assert key_rule["fieldPath"] == ".primaryKey"
    assert key_rule["message"] and "primaryKey names" in key_rule["messageExpression"]
    (count_rule,) = spec_schema["properties"]["primaryKey"]["x-kubernetes-validations"]
    assert "32" in count_rule["message"]
    (column_rule,) = spec_schema["properties"]["columns"]["items"]["x-kubernetes-validations"]
    assert "63" in column_rule["message"]


@pytest.mark.parametrize("case", [c for c in load_hostile_cases() if c.at_admission],
                         ids=lambda case: case.name)
def test_hostile_cases_marked_for_admission_are_refused_by_the_rules(
        spec_schema: dict[str, Any], case: HostileCase) -> None:
    assert any(e.startswith(case.field) for e in admission_errors(spec_schema, case.spec))


@pytest.mark.parametrize("options, key", [
    ({}, {"name": "a", "columns": ["USER_NAME"], "onDelete": "SetNull"}),
    ({"user_name": {"nullable": True}}, {"columns": ["user_name"], "onUpdate": "SetNull"}),
    ({"USER_NAME": {"nullable": False}}, {"columns": ["user_name"], "onDelete": "Cascade"}),
])
def test_set_null_on_a_nullable_column_is_admitted(spec_schema: dict[str, Any],
                                                   options: dict[str, Any],
                                                   key: dict[str, Any]) -> None:
    fk = {**key, "references": {"table": "t", "columns": ["id"]}}
    assert admission_errors(spec_schema, seed_with(columnOptions=options, foreignKeys=[
        fk, {**fk, "name": "b"}])) == []


def test_cel_rules_each_have_a_python_rendering(version: dict[str, Any]) -> None:
    """A changed rule must change its rendering above, or the admission tests test nothing."""
    root = version["schema"]["openAPIV3Schema"]
    rules = {" ".join(rule["rule"].split()) for _, node in walk(root, "")
             for rule in node.get("x-kubernetes-validations", ())}
    assert rules == set(CEL_IN_PYTHON) | set(TRANSITION_IN_PYTHON)


def test_an_exception_in_a_cel_rendering_fails_instead_of_passing(
        spec_schema: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    key_rule = spec_schema["x-kubernetes-validations"][-1]

    def broken(spec: Any) -> bool:
        raise KeyError("a rendering that does not understand the spec")

    monkeypatch.setitem(CEL_IN_PYTHON, " ".join(key_rule["rule"].split()), broken)
    with pytest.raises(KeyError, match="does not understand"):
        admission_errors(spec_schema, SEED_SPEC)


def test_cel_rules_run_after_a_pattern_error_but_not_after_a_blocking_one(
        spec_schema: dict[str, Any]) -> None:
    # A pattern error (Invalid) does not stop the API server's CEL rules...
    errors = admission_errors(spec_schema, seed_with(tableName="1USERS", primaryKey="NOPE"))
    assert any(e.startswith("spec.tableName: does not match") for e in errors)
    assert any(e.startswith("spec.primaryKey: ") for e in errors)
    # ...an enum (NotSupported) error does: the rules are reported as not checked.
    errors = admission_errors(spec_schema, seed_with(deletionPolicy="Delete", primaryKey="NOPE"))
    assert errors == ["spec.deletionPolicy: must be one of ['Drop', 'Retain']", NOT_CHECKED]


def test_status_declares_what_the_operator_writes(version: dict[str, Any]) -> None:
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert set(status) == {"conditions", "observedGeneration", "tableName", "columns",
                           "primaryKey", "uniqueConstraints", "lastHandled", "indexes",
                           "foreignKeys"}
    # Kopf's diff base (dbtable/diffbase.py): kept, not pruned, or every event looks new.
    assert set(status["lastHandled"]["properties"]) == {"uid", "spec", "rest"}
    conditions = status["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    condition = conditions["items"]["properties"]
    assert set(condition) == {"type", "status", "reason", "message", "observedGeneration",
                              "lastTransitionTime"}
    assert condition["status"]["enum"] == ["True", "False", "Unknown"]
    assert condition["observedGeneration"]["format"] == "int64"
    assert condition["lastTransitionTime"]["format"] == "date-time"
    assert set(status["columns"]["items"]["properties"]) == {"name", "type", "nullable",
                                                             "default"}


def test_printer_columns_show_table_readiness_and_age(version: dict[str, Any]) -> None:
    columns = {c["name"].upper(): c for c in version["additionalPrinterColumns"]}
    assert columns["TABLE"]["jsonPath"] == ".status.tableName"
    assert columns["READY"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["REASON"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].reason'
    assert (columns["AGE"]["jsonPath"], columns["AGE"]["type"]) == (
        ".metadata.creationTimestamp", "date")
    assert columns["MESSAGE"]["priority"] == 1
