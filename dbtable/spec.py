"""Parse a DatabaseTable ``spec`` into a DesiredTable, or say exactly which fields are wrong.

The API server already checks most of this at admission (see crd.yaml); this parser is the
authority, because the plan command reads files that never met an API server and because a
CRD can be installed without its validation. Every error names its field.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dbtable.columns import parse_column_options, parse_drop_columns
from dbtable.errors import FieldError, InvalidSpec
from dbtable.index_spec import parse_indexes
from dbtable.fk_spec import parse_foreign_keys
from dbtable.model import DeletionPolicy, DesiredColumn, DesiredTable
from dbtable.names import InvalidName, describe_type, fold_identifier
from dbtable.types import TypeSyntaxError, parse_type

MAX_COLUMNS = 1600  # PostgreSQL's limit on columns per table
MAX_KEY_COLUMNS = 32  # PostgreSQL's INDEX_MAX_KEYS
KNOWN_FIELDS = ("tableName", "columns", "primaryKey", "deletionPolicy", "adoptExistingTable",
                "allowTableRewrite", "columnOptions", "dropColumns", "foreignKeys", "indexes")


def parse_spec(spec: object) -> DesiredTable:
    """Validate the whole spec, collecting every error, and return the desired table."""
    errors: list[FieldError] = []
    if not isinstance(spec, Mapping):
        raise InvalidSpec([FieldError("spec", f"must be a map, got {describe_type(spec)}")])
    for key in spec:
        if key not in KNOWN_FIELDS:
            errors.append(FieldError(f"spec.{key}", "unknown field; known fields are "
                                     + ", ".join(KNOWN_FIELDS)))
    name = _parse_table_name(spec.get("tableName"), errors)
    columns = _parse_columns(spec.get("columns"), errors)
    key = _parse_primary_key(spec.get("primaryKey"), columns, errors)
    policy = _parse_deletion_policy(spec.get("deletionPolicy"), errors)
    adopt = _parse_flag(spec, "adoptExistingTable", errors)
    rewrite = _parse_flag(spec, "allowTableRewrite", errors)
    drops = parse_drop_columns(spec.get("dropColumns"), columns, errors)
    columns = parse_column_options(spec.get("columnOptions"), columns, key, drops, errors)
    indexes = parse_indexes(spec.get("indexes"), name, {c.name for c in columns}, errors)
    foreign_keys = parse_foreign_keys(spec.get("foreignKeys"), columns, key, errors)
    if errors:
        raise InvalidSpec(errors)
    return DesiredTable(name=name, columns=tuple(columns), primary_key=key,
                        deletion_policy=policy, adopt_existing=adopt, drop_columns=drops,
                        allow_table_rewrite=rewrite, indexes=indexes,
                        foreign_keys=foreign_keys)


def _parse_flag(spec: Mapping[str, object], field: str, errors: list[FieldError]) -> bool:
    """An optional boolean, false when not given; anything but true/false is an error."""
    value = spec.get(field, False)
    if not isinstance(value, bool):
        errors.append(FieldError(f"spec.{field}",
                                 f"must be true or false, got {describe_type(value)}"))
        return False
    return value


def _parse_table_name(value: object, errors: list[FieldError]) -> str:
    if value is None:
        errors.append(FieldError("spec.tableName", "is required"))
        return ""
    try:
        return fold_identifier(value)
    except InvalidName as e:
        errors.append(FieldError("spec.tableName", str(e)))
        return ""


def _parse_columns(value: object, errors: list[FieldError]) -> list[DesiredColumn]:
    field = "spec.columns"
    if value is None:
        errors.append(FieldError(field, "is required: list at least one column as `- NAME: type`"))
        return []
    if not isinstance(value, list):
        errors.append(FieldError(field, f"must be a list of `NAME: type` entries, "
                                        f"got {describe_type(value)}"))
        return []
    if not value:
        errors.append(FieldError(field, "must list at least one column"))
    if len(value) > MAX_COLUMNS:
        errors.append(FieldError(field, f"has {len(value)} columns; PostgreSQL allows at most "
                                        f"{MAX_COLUMNS}"))
        return []
    columns: list[DesiredColumn] = []
    first_seen: dict[str, str] = {}
    for index, item in enumerate(value):
        column = _parse_column(item, f"{field}[{index}]", errors)
        if column is None:
            continue
        original = next(iter(item))
        if column.name in first_seen:
            errors.append(FieldError(
                f"{field}[{index}]",
                f"column {original!r} duplicates {first_seen[column.name]!r}: names are folded "
                f"to lower case, so both are {column.name!r}"))
            continue
        first_seen[column.name] = original
        columns.append(column)
    return columns


def _parse_column(item: object, field: str, errors: list[FieldError]) -> DesiredColumn | None:
    if not isinstance(item, Mapping) or len(item) != 1:
        got = (f"a map with {len(item)} keys" if isinstance(item, Mapping)
               else describe_type(item))
        errors.append(FieldError(field, f"must be a single `NAME: type` entry, got {got}"))
        return None
    ((raw_name, raw_type),) = item.items()
    ok = True
    try:
        name = fold_identifier(raw_name)
    except InvalidName as e:
        errors.append(FieldError(field, f"column name {e}"))
        ok = False
    type_field = f"{field}.{raw_name}" if isinstance(raw_name, str) else field
    if not isinstance(raw_type, str):
        errors.append(FieldError(type_field, f"column type must be a string such as "
                                             f"'integer', got {describe_type(raw_type)}"))
        return None
    try:
        column_type = parse_type(raw_type)
    except TypeSyntaxError as e:
        errors.append(FieldError(type_field, f"column type {e}"))
        return None
    return DesiredColumn(name, column_type) if ok else None


def _parse_primary_key(value: object, columns: list[DesiredColumn],
                       errors: list[FieldError]) -> tuple[str, ...]:
    """One column (``USER_ID``) or a comma-separated composite key (``ORDER_ID, LINE_NO``)."""
    field = "spec.primaryKey"
    if value is None:
        errors.append(FieldError(field, "is required: name the key column(s), e.g. USER_ID"))
        return ()
    if not isinstance(value, str):
        errors.append(FieldError(field, "must be a column name or a comma-separated list of "
                                        f"column names, got {describe_type(value)}"))
        return ()
    parts = [p.strip() for p in value.split(",")]
    if len(parts) > MAX_KEY_COLUMNS:
        errors.append(FieldError(field, f"has {len(parts)} columns; PostgreSQL allows at most "
                                        f"{MAX_KEY_COLUMNS} in a key"))
        return ()
    key: list[str] = []
    declared = {c.name for c in columns}
    for part in parts:
        try:
            name = fold_identifier(part)
        except InvalidName as e:
            errors.append(FieldError(field, f"key column {e}"))
            continue
        if name in key:
            errors.append(FieldError(field, f"names column {part!r} twice"))
        elif declared and name not in declared:
            errors.append(FieldError(field, f"{part!r} is not one of the declared columns"))
        key.append(name)
    return tuple(key)


def _parse_deletion_policy(value: Any, errors: list[FieldError]) -> DeletionPolicy | None:
    if value is None:  # not given: the planner decides by how the table came to be ours
        return None
    try:
        return DeletionPolicy(value)
    except ValueError:
        errors.append(FieldError("spec.deletionPolicy",
                                 f"must be 'Drop' or 'Retain', got {value!r}"))
        return DeletionPolicy.DROP
