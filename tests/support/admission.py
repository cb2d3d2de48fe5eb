"""A validator for the subset of OpenAPI crd.yaml uses, and its CEL rules in Python: what the
API server would say of a spec at admission, without a cluster (tests/unit/test_manifests_*.py).

Every CEL rule of the CRD has a Python rendering here (a test fails for one that has none), so
admission can be compared with the operator's own parser (dbtable/spec.py) on any spec.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any


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


# Per kind: the (max, min) size keywords, the error kind past the max, and each message.
_SIZE_BOUNDS = {
    "string": ("maxLength", "minLength", "too long", "too long", "too short"),
    "array": ("maxItems", "minItems", "too many", "too many items", "too few items"),
    "object": ("maxProperties", "minProperties", "too many", "too many properties",
               "too few properties"),
}


def _size_errors(schema: Mapping[str, Any], kind: str, size: int,
                 path: str) -> Iterator[tuple[str, str]]:
    """The length bounds of a string, array or object, as the API server reports them."""
    most, least, over_kind, over, under = _SIZE_BOUNDS[kind]
    if size > schema.get(most, 1e9):
        yield over_kind, f"{path}: {over}"
    if size < schema.get(least, 0):
        yield "invalid", f"{path}: {under}"


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
    if kind in _SIZE_BOUNDS:
        yield from _size_errors(schema, kind, len(value), path)
    if kind == "string":
        if "pattern" in schema and not re2_match(schema["pattern"], value):
            yield "invalid", f"{path}: does not match {schema['pattern']}"
    elif kind == "array":
        for i, item in enumerate(value):
            yield from schema_errors(schema["items"], item, f"{path}[{i}]")
    elif kind == "object":
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
