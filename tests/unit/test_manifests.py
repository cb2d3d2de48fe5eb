"""The deployment manifests, checked without a cluster.

The CRD's schema is read as data: a small validator for the subset of OpenAPI it uses, plus
Python renderings of its CEL rules, show that the seed's example is accepted, that bad specs
are refused, and that admission agrees with the operator's own parser (dbtable/spec.py).
RBAC is pinned rule by rule, so widening it fails here first.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.hostile import HostileCase, load_hostile_cases

ROOT = Path(__file__).resolve().parents[2]


def load_all(name: str) -> list[dict[str, Any]]:
    with open(ROOT / name, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def load_one(name: str) -> dict[str, Any]:
    (doc,) = load_all(name)
    return doc


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return load_one("crd.yaml")


@pytest.fixture(scope="module")
def version(crd: dict[str, Any]) -> dict[str, Any]:
    (v1,) = crd["spec"]["versions"]
    return v1


@pytest.fixture(scope="module")
def spec_schema(version: dict[str, Any]) -> dict[str, Any]:
    return version["schema"]["openAPIV3Schema"]["properties"]["spec"]


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return load_one("example-cr.yaml")


@pytest.fixture(scope="module")
def rbac() -> list[dict[str, Any]]:
    return load_all("service-account.yaml")


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    return load_one("deploy/deployment.yaml")


# --- A validator for the OpenAPI subset crd.yaml uses, and its CEL rules in Python ---------------

def re2_match(pattern: str, text: str) -> bool:
    """Match as the API server's Go regexp does: ASCII classes, and ``$`` only at the very end."""
    m = re.search(pattern, text, re.ASCII)
    return m is not None and m.end() == len(text)


# The kinds of structural error after which the API server does not run the CEL rules at all
# (apiextensions-apiserver, customresource strategy: hasBlockingErr, which looks for
# NotSupported, Required, TooLong, TooMany and TypeInvalid; an unknown field is refused
# before validation under kubectl's strict field validation). Pattern and minimum-length
# errors (Invalid) do not block: the CEL rules still run.
BLOCKING = frozenset({"type", "enum", "required", "too long", "too many", "unknown field"})
NOT_CHECKED = ("some validation rules were not checked because the object was invalid; "
               "correct the existing errors to complete validation")


def schema_errors(schema: Mapping[str, Any], value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(kind, message) for each structural error of ``value``; unknown fields count as errors,
    as with kubectl's strict validation."""
    kind = schema["type"]
    python_type = {"object": dict, "array": list, "string": str, "boolean": bool}[kind]
    if not isinstance(value, python_type):
        yield "type", f"{path}: must be {kind}"
        return
    if "enum" in schema and value not in schema["enum"]:
        yield "enum", f"{path}: must be one of {schema['enum']}"
    if kind == "string":
        if len(value) > schema.get("maxLength", 1e9):
            yield "too long", f"{path}: too long"
        if len(value) < schema.get("minLength", 0):
            yield "invalid", f"{path}: too short"
        if "pattern" in schema and not re2_match(schema["pattern"], value):
            yield "invalid", f"{path}: does not match {schema['pattern']}"
    elif kind == "array":
        if len(value) > schema.get("maxItems", 1e9):
            yield "too many", f"{path}: too many items"
        if len(value) < schema.get("minItems", 0):
            yield "invalid", f"{path}: too few items"
        for i, item in enumerate(value):
            yield from schema_errors(schema["items"], item, f"{path}[{i}]")
    elif kind == "object":
        if len(value) > schema.get("maxProperties", 1e9):
            yield "too many", f"{path}: too many properties"
        if len(value) < schema.get("minProperties", 0):
            yield "invalid", f"{path}: too few properties"
        for key in schema.get("required", ()):
            if key not in value:
                yield "required", f"{path}.{key}: required"
        for key, item in value.items():
            if key in schema.get("properties", {}):
                yield from schema_errors(schema["properties"][key], item, f"{path}.{key}")
            elif "additionalProperties" in schema:
                yield from schema_errors(schema["additionalProperties"], item, f"{path}.{key}")
            else:
                yield "unknown field", f"{path}.{key}: unknown field"


def cel_errors(schema: Mapping[str, Any], value: Any, path: str) -> Iterator[str]:
    """The CEL rules of crd.yaml, each rendered in Python by its exact rule text.

    Only called on a value without blocking structural errors, as the API server does, so
    every value has the shape its schema declares: an exception in a rendering is a bug in
    the rendering, and it fails the test instead of counting as a rule that passed.
    """
    for rule in schema.get("x-kubernetes-validations", ()):
        text = " ".join(rule["rule"].split())
        if text in TRANSITION_IN_PYTHON:  # transition rules run on updates only
            continue
        if not evaluates(CEL_IN_PYTHON[text], value):
            yield f"{path}{rule.get('fieldPath', '')}: {rule['message']}"
    if schema["type"] == "array":
        for i, item in enumerate(value):
            yield from cel_errors(schema["items"], item, f"{path}[{i}]")
    elif schema["type"] == "object":
        for key, item in value.items():
            sub = schema.get("properties", {}).get(key, schema.get("additionalProperties"))
            if isinstance(sub, Mapping):
                yield from cel_errors(sub, item, f"{path}.{key}")


def _primary_key_names(primary_key: str) -> list[str]:
    # CEL's split(',', 33) yields at most 33 parts; Python's maxsplit counts splits, not parts.
    return [p.strip() for p in primary_key.lower().split(",", 32)]


def _folded_names(columns: list[dict[str, str]]) -> list[list[str]]:
    return [[k.lower() for k in column] for column in columns]


def lower_ascii(text: str) -> str:
    """CEL's lowerAscii(): only A-Z change."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


class CelError(Exception):
    """What makes the API server's evaluation of a rule fail (the resource is refused)."""


def _declared(spec: Mapping[str, Any]) -> list[str]:
    """``c.map(n, n.lowerAscii())[0]`` of every column: an empty entry fails the rule."""
    if any(not column for column in spec["columns"]):
        raise CelError("index out of range: an empty column entry")
    return [lower_ascii(next(iter(c))) for c in spec["columns"]]


def evaluates(rule: Any, *values: Any) -> bool:
    """A rule's result, an evaluation error counting as a refusal (as at the API server)."""
    try:
        return bool(rule(*values))
    except CelError:
        return False


def _removed_columns_are_accounted_for(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    gone = {lower_ascii(n) for n in new.get("dropColumns", [])}
    for options in new.get("columnOptions", {}).values():
        gone |= {lower_ascii(n) for n in options.get("previousNames", [])}
    return all(name in set(_declared(new)) | gone for name in _declared(old))


def _folded_map(names: list[str]) -> set[str]:
    """transformMapEntry to {folded name: ...}: a repeated key fails the rule."""
    folded = [lower_ascii(n) for n in names]
    if len(set(folded)) != len(folded):
        raise CelError("insert failed: key already exists")
    return set(folded)


def _drops_are_undeclared_and_distinct(spec: Mapping[str, Any]) -> bool:
    drops = _folded_map(spec.get("dropColumns", []))
    return not drops & set(_folded_map_of_columns(spec))


def _folded_map_of_columns(spec: Mapping[str, Any]) -> set[str]:
    return _folded_map(_declared(spec))


def _previous_names_are_free_and_unshared(spec: Mapping[str, Any]) -> bool:
    declared = _folded_map_of_columns(spec)
    drops = _folded_map(spec.get("dropColumns", []))
    previous = _folded_map([n for o in spec.get("columnOptions", {}).values()
                            for n in o.get("previousNames", [])])
    return not previous & (declared | drops)


def _index_names_are_distinct(spec: Mapping[str, Any]) -> bool:
    names = [lower_ascii(x["name"]) for x in spec.get("indexes", []) if "name" in x]
    return all(names.count(n) == 1 and n != lower_ascii(spec["tableName"]) for n in names)


_D = "self.columns.transformMapEntry(i, c, {c.map(n, n.lowerAscii())[0]: i})"
_G = ("(has(self.dropColumns) ? self.dropColumns.transformMapEntry(i, n, {n.lowerAscii(): i}) "
      ": {})")
_P = ("(has(self.columnOptions) ? self.columnOptions.transformMapEntry(k, o, has(o.previousNames)"
      " ? o.previousNames.transformMapEntry(j, n, {n.lowerAscii(): j}) : {}) : {})")
_F = "c.map(n, n.lowerAscii())[0]"
# Rules with oldSelf: (old spec, new spec) -> allowed. Never run on create.
TRANSITION_IN_PYTHON = {
    f"[{_D}].all(d, [{_G}].all(g, [{_P}].all(p, oldSelf.columns.all(i, c, {_F} in d || "
    f"{_F} in g || {_F} in p))))": _removed_columns_are_accounted_for,
}


CEL_IN_PYTHON = {
    "self.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_$]{0,62}$'))":
        lambda column: all(re2_match(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$", k) for k in column),
    "self.split(',', 33).size() <= 32":
        lambda primary_key: len(primary_key.split(",", 32)) <= 32,
    "sets.contains(self.columns.map(c, c.map(k, k.lowerAscii())), "
    "self.primaryKey.lowerAscii().split(',', 33).map(p, p.trim()).filter(p, p != '').map(p, [p]))":
        lambda spec: all([p] in _folded_names(spec["columns"])
                         for p in _primary_key_names(spec["primaryKey"]) if p),
    # The API server fails this rule with "insert failed: key ... already exists" rather than
    # returning false; either way the resource is refused.
    f"{_D}.size() == self.columns.size()":
        lambda spec: len(set(_declared(spec))) == len(spec["columns"]),
    f"!has(self.columnOptions) || [{_D}].all(d, self.columnOptions.all(k, k.lowerAscii() in d))":
        lambda spec: all(lower_ascii(k) in _declared(spec)
                         for k in spec.get("columnOptions", {})),
    f"!has(self.dropColumns) || [{_D}].all(d, [{_G}].all(g, g.size() == self.dropColumns.size() "
    "&& self.dropColumns.all(n, !(n.lowerAscii() in d))))": _drops_are_undeclared_and_distinct,
    f"!has(self.columnOptions) || [{_D}].all(d, [{_G}].all(g, [self.columnOptions"
    ".transformMapEntry(k, o, has(o.previousNames) ? o.previousNames.transformMapEntry(j, n, "
    "{n.lowerAscii(): k}) : {})].all(p, self.columnOptions.all(k, "
    "!has(self.columnOptions[k].previousNames) || self.columnOptions[k].previousNames.all(n, "
    "!(n.lowerAscii() in d) && !(n.lowerAscii() in g) && p[n.lowerAscii()] == k)))))":
        _previous_names_are_free_and_unshared,
    # spec.indexes (issue 9): each item's rules, then the two across the list.
    "!self.lowerAscii().startsWith('dbt_')":
        lambda name: not lower_ascii(name).startswith("dbt_"),
    "self.columns.all(c, self.columns.exists_one(d, d.lowerAscii() == c.lowerAscii()))":
        lambda index: all([lower_ascii(d) for d in index["columns"]].count(lower_ascii(c)) == 1
                          for c in index["columns"]),
    "!has(self.unique) || !self.unique || !has(self.method) || self.method == 'btree'":
        lambda index: not index.get("unique") or index.get("method", "btree") == "btree",
    "!has(self.method) || self.method != 'hash' || self.columns.size() == 1":
        lambda index: index.get("method") != "hash" or len(index["columns"]) == 1,
    f"!has(self.indexes) || [{_D}].all(d, self.indexes.all(x, x.columns.all(c, "
    "c.lowerAscii() in d)))":
        lambda spec: all(lower_ascii(c) in _declared(spec)
                         for x in spec.get("indexes", []) for c in x["columns"]),
    "!has(self.indexes) || self.indexes.all(x, !has(x.name) || (x.name.lowerAscii() != "
    "self.tableName.lowerAscii() && self.indexes.exists_one(y, has(y.name) && "
    "y.name.lowerAscii() == x.name.lowerAscii())))": _index_names_are_distinct,
}


def _foreign_key_columns_are_declared(spec: Mapping[str, Any]) -> bool:
    if "foreignKeys" not in spec:
        return True
    declared = _folded_map_of_columns(spec)
    return all(lower_ascii(n) in declared for key in spec["foreignKeys"] for n in key["columns"])


def _set_null_only_where_nullable(spec: Mapping[str, Any]) -> bool:
    if "foreignKeys" not in spec:
        return True
    not_null = set(_primary_key_names(spec["primaryKey"])) | _folded_map(
        [k for k, o in spec.get("columnOptions", {}).items() if o.get("nullable") is False])
    return all(lower_ascii(n) not in not_null for key in spec["foreignKeys"]
               if "SetNull" in (key.get("onDelete"), key.get("onUpdate"))
               for n in key["columns"])


def _foreign_key_names_are_distinct(spec: Mapping[str, Any]) -> bool:
    names = [lower_ascii(k["name"]) for k in spec.get("foreignKeys", []) if "name" in k]
    return all(names.count(n) == 1 for n in names)


CEL_IN_PYTHON.update({
    # On a foreign key and on its references: no column twice after folding.
    "self.columns.all(i, n, self.columns.all(j, m, i == j || n.lowerAscii() != m.lowerAscii()))":
        lambda key: len({lower_ascii(n) for n in key["columns"]}) == len(key["columns"]),
    "self.columns.size() == self.references.columns.size()":
        lambda key: len(key["columns"]) == len(key["references"]["columns"]),
    f"!has(self.foreignKeys) || [{_D}].all(d, self.foreignKeys.all(f, f.columns.all(n, "
    "n.lowerAscii() in d)))": _foreign_key_columns_are_declared,
    "!has(self.foreignKeys) || [self.primaryKey.lowerAscii().split(',', 33).map(p, p.trim())]"
    ".all(k, [has(self.columnOptions) ? self.columnOptions.transformMapEntry(c, o, "
    "has(o.nullable) && !o.nullable ? {c.lowerAscii(): true} : {}) : {}].all(z, "
    "self.foreignKeys.all(f, !((has(f.onDelete) && f.onDelete == 'SetNull') || "
    "(has(f.onUpdate) && f.onUpdate == 'SetNull')) || f.columns.all(n, "
    "!(n.lowerAscii() in k) && !(n.lowerAscii() in z)))))": _set_null_only_where_nullable,
    "!has(self.foreignKeys) || self.foreignKeys.all(f, !has(f.name) || "
    "self.foreignKeys.exists_one(g, has(g.name) && g.name.lowerAscii() == "
    "f.name.lowerAscii()))": _foreign_key_names_are_distinct,
})


def admission_errors(spec_schema: Mapping[str, Any], spec: Any) -> list[str]:
    structural = list(schema_errors(spec_schema, spec, "spec"))
    messages = [message for _, message in structural]
    if any(kind in BLOCKING for kind, _ in structural):
        return [*messages, NOT_CHECKED]
    return messages + list(cel_errors(spec_schema, spec, "spec"))


def walk(schema: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{key}")
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from walk(schema["additionalProperties"], f"{path}.<name>")


SEED_SPEC: dict[str, Any] = {
    "tableName": "WEBSITE_USERS",
    "columns": [{"USER_ID": "integer"}, {"USER_NAME": "varchar(50)"},
                {"USER_EMAIL": "varchar(100)"}, {"SIGNUP_DATE": "date"},
                {"LAST_LOGIN": "timestamp"}],
    "primaryKey": "USER_ID",
}


def seed_with(**changes: Any) -> dict[str, Any]:
    return {**SEED_SPEC, **changes}


# --- CRD --------------------------------------------------------------------------------------

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


# --- RBAC -------------------------------------------------------------------------------------

def rule_set(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in rules for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def test_role_grants_exactly_what_kopf_and_the_operator_use(rbac: list[dict[str, Any]]) -> None:
    role = by_kind(rbac, "Role")
    assert role["metadata"]["namespace"] == "default"
    assert rule_set(role["rules"]) == {
        ("kopf.demo", "databasetables", "list"),
        ("kopf.demo", "databasetables", "watch"),
        ("kopf.demo", "databasetables", "patch"),
        ("kopf.demo", "databasetables/status", "patch"),
        ("", "events", "create"),
    }


def test_cluster_role_is_read_only_discovery_for_kopf(rbac: list[dict[str, Any]]) -> None:
    assert rule_set(by_kind(rbac, "ClusterRole")["rules"]) == {
        ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
    }


def test_no_rule_touches_secrets_or_names_a_versioned_group(rbac: list[dict[str, Any]]) -> None:
    rules = [r for d in rbac if "rules" in d for r in d["rules"]]
    assert all(resource != "secrets" for _, resource, _ in rule_set(rules))
    assert all("/" not in group for group, _, _ in rule_set(rules))


def test_bindings_give_the_roles_to_the_service_account(rbac: list[dict[str, Any]]) -> None:
    account = by_kind(rbac, "ServiceAccount")["metadata"]
    assert account == {**account, "name": "database-table-operator", "namespace": "default"}
    for kind, role_kind in (("RoleBinding", "Role"), ("ClusterRoleBinding", "ClusterRole")):
        binding = by_kind(rbac, kind)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                                      "name": by_kind(rbac, role_kind)["metadata"]["name"]}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"],
                                        "namespace": account["namespace"]}]


def test_every_rbac_rule_says_who_needs_it() -> None:
    text = (ROOT / "service-account.yaml").read_text(encoding="utf-8")
    rule_count = text.count("- apiGroups:")
    assert rule_count == 5
    assert text.count("needs:") >= rule_count


# --- Deployment -------------------------------------------------------------------------------

def test_deployment_runs_one_standalone_replica(deployment: dict[str, Any],
                                                rbac: list[dict[str, Any]]) -> None:
    assert deployment["metadata"]["name"] == "database-table-operator"
    assert deployment["metadata"]["namespace"] == "default"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "database-table-operator"
    service_account = by_kind(rbac, "ServiceAccount")["metadata"]["name"]
    assert pod["spec"]["serviceAccountName"] == service_account


def test_deployment_is_locked_down(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for context in (pod["securityContext"], container["securityContext"]):
        assert context["runAsNonRoot"] is True
        assert (context["runAsUser"], context["runAsGroup"]) == (1000, 1000)
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == "/tmp"
    assert {"name": mount["name"], "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]


def test_deployment_probes_kopf_and_bounds_resources(deployment: dict[str, Any]) -> None:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "database-table-operator:latest"
    assert container["imagePullPolicy"] == "IfNotPresent"
    probe = container["livenessProbe"]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert (probe["path"], ports[probe["port"]]) == ("/healthz", 8080)
    assert container["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"},
                                      "limits": {"memory": "256Mi"}}


def test_deployment_takes_the_password_from_the_secret(deployment: dict[str, Any]) -> None:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["WATCH_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert {name: env[name]["value"] for name in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")} == {
        "PGHOST": "postgresql", "PGPORT": "5432", "PGDATABASE": "demodb", "PGUSER": "demouser"}
    assert env["PGPASSWORD"] == {"name": "PGPASSWORD", "valueFrom": {
        "secretKeyRef": {"name": "postgresql", "key": "password"}}}


# --- Kustomization, image, licence, docs ------------------------------------------------------

def test_kustomization_installs_the_operator_but_not_the_example() -> None:
    resources = load_one("kustomization.yaml")["resources"]
    assert resources == ["crd.yaml", "service-account.yaml", "deploy/deployment.yaml"]
    assert all((ROOT / r).is_file() for r in resources)


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines  # type: ignore[misc]
            if line and not line.startswith("#")]


def test_dockerfile_builds_in_two_stages_and_runs_as_user_1000() -> None:
    instructions = dockerfile_instructions()
    froms = [arg for op, arg in instructions if op == "FROM"]
    assert froms == ["python:3.11-slim AS builder", "python:3.11-slim"]
    assert [arg for op, arg in instructions if op == "USER"] == ["1000:1000"]
    assert ("WORKDIR", "/src") in instructions
    assert ("EXPOSE", "8080") in instructions
    assert ("COPY", "dbtable/ /src/dbtable/") in instructions
    env = " ".join(arg for op, arg in instructions if op == "ENV")
    for setting in ("WATCH_NAMESPACE=default", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"):
        assert setting in env.split()


def test_dockerfile_command_runs_kopf_standalone_with_liveness() -> None:
    (command,) = [arg for op, arg in dockerfile_instructions() if op == "CMD"]
    # The namespace options it picks: tests/unit/test_cluster_wide_manifests.py runs it.
    assert command.startswith('case "$WATCH_NAMESPACE" in ')
    assert command.endswith('; exec kopf run --standalone "$@" '
                            "--liveness=http://0.0.0.0:8080/healthz "
                            "/src/database_table_operator.py")


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv/", "tests/", ".git/", "**/__pycache__/"} <= set(ignored)


def test_licence_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert text.count("\n") > 190


def test_field_reference_covers_every_spec_field(spec_schema: dict[str, Any]) -> None:
    reference = (ROOT / "docs" / "crd-reference.md").read_text(encoding="utf-8")
    for path, _ in walk(spec_schema, "spec"):
        if path != "spec":
            assert f"`{path}`" in reference, path


# --- columnOptions and dropColumns ------------------------------------------------------------

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
