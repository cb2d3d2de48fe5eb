"""Parse ``spec.indexes`` (pure; part of dbtable/spec.py).

Each entry: ``columns`` (declared columns, no repeats, at most 32), an optional ``name``,
``method`` (btree, hash, gin, gist, brin; default btree) and ``unique`` (default false). The
same rules are in crd.yaml for admission; this parser is the authority (older servers, files
read by the plan command). Errors are collected, each naming its field.
"""
from __future__ import annotations

from collections.abc import Mapping

from dbtable.errors import FieldError, column_list
from dbtable.index_model import (MAX_INDEX_COLUMNS, METHODS, RESERVED_PREFIX, DesiredIndex,
                                 generated_index_name)
from dbtable.names import InvalidName, describe_type, fold_identifier

INDEX_FIELDS = ("name", "columns", "method", "unique")
MAX_INDEXES = 64


def parse_indexes(value: object, table: str, declared: set[str],
                  errors: list[FieldError]) -> tuple[DesiredIndex, ...]:
    """The spec's indexes, each with its name (the user's, or generated from the table and
    the definition)."""
    field = "spec.indexes"
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append(FieldError(field, f"must be a list of indexes, got {describe_type(value)}"))
        return ()
    if len(value) > MAX_INDEXES:
        errors.append(FieldError(field, f"has {len(value)} indexes; at most {MAX_INDEXES} "
                                        "are allowed"))
        return ()
    indexes: list[DesiredIndex] = []
    for position, item in enumerate(value):
        index = _parse_index(item, position, table, declared, errors)
        if index is not None and not _repeats(index, indexes, errors):
            indexes.append(index)
    return tuple(indexes)


def _repeats(index: DesiredIndex, seen: list[DesiredIndex], errors: list[FieldError]) -> bool:
    for other in seen:
        if other.name == index.name:
            errors.append(FieldError(f"{index.field}.name", f"{index.name!r} is also the name "
                                     f"of {other.field} (names are folded to lower case)"))
            return True
        if (other.columns, other.method, other.unique) == (index.columns, index.method,
                                                           index.unique):
            errors.append(FieldError(index.field, f"defines the same index as {other.field}: "
                                                  f"{index.describe()}"))
            return True
    return False


def _parse_index(item: object, position: int, table: str, declared: set[str],
                 errors: list[FieldError]) -> DesiredIndex | None:
    here = f"spec.indexes[{position}]"
    if not isinstance(item, Mapping):
        errors.append(FieldError(here, "must be a map with columns (and optionally name, "
                                       f"method, unique), got {describe_type(item)}"))
        return None
    before = len(errors)
    for key in item:
        if key not in INDEX_FIELDS:
            errors.append(FieldError(f"{here}.{key}", "unknown field; known fields are "
                                     + ", ".join(INDEX_FIELDS)))
    columns = _parse_columns(item.get("columns"), f"{here}.columns", declared, errors)
    method = item.get("method", "btree")
    if method not in METHODS:
        errors.append(FieldError(f"{here}.method", f"must be one of {', '.join(METHODS)}, "
                                                   f"got {method!r}"))
    unique = item.get("unique", False)
    if not isinstance(unique, bool):
        errors.append(FieldError(f"{here}.unique",
                                 f"must be true or false, got {describe_type(unique)}"))
    elif unique and method != "btree":
        errors.append(FieldError(f"{here}.unique", "only a btree index can be unique "
                                                   f"(PostgreSQL), got method {method!r}"))
    if method == "hash" and len(columns) > 1:
        errors.append(FieldError(f"{here}.columns", "a hash index has exactly one column "
                                                    "(PostgreSQL)"))
    name = _parse_name(item.get("name"), f"{here}.name", table, errors)
    if len(errors) > before:
        return None
    if name is None:
        return DesiredIndex(generated_index_name(table, columns, method, unique), columns,
                            method, unique, named=False, position=position)
    return DesiredIndex(name, columns, method, unique, named=True, position=position)


def _parse_columns(value: object, field: str, declared: set[str],
                   errors: list[FieldError]) -> tuple[str, ...]:
    items = column_list(value, field, "list the indexed columns", "an index",
                        MAX_INDEX_COLUMNS, errors)
    if items is None:
        return ()
    columns: list[str] = []
    for at, raw in enumerate(items):
        try:
            name = fold_identifier(raw)
        except InvalidName as e:
            errors.append(FieldError(f"{field}[{at}]", f"column name {e}"))
            continue
        if declared and name not in declared:
            errors.append(FieldError(f"{field}[{at}]", f"{raw!r} is not one of the declared "
                                                       "columns (compared in lower case)"))
        elif name in columns:
            errors.append(FieldError(f"{field}[{at}]", f"names column {raw!r} twice (names "
                                                       "are folded to lower case)"))
        columns.append(name)
    return tuple(columns)


def _parse_name(value: object, field: str, table: str,
                errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    try:
        name = fold_identifier(value)
    except InvalidName as e:
        errors.append(FieldError(field, f"index name {e}"))
        return None
    if name.startswith(RESERVED_PREFIX):
        errors.append(FieldError(field, f"names starting with {RESERVED_PREFIX!r} are the "
                                        "operator's own; choose another, or leave the name "
                                        "out to have one generated"))
    elif name == table:
        errors.append(FieldError(field, f"{value!r} is the table's own name; an index and a "
                                        "table cannot share a name"))
    return name
