"""Parse ``spec.columnOptions`` and ``spec.dropColumns`` (pure; part of dbtable/spec.py).

Every reference must hold: a columnOptions key names a declared column, a previous name and a
dropped column do not. Errors are collected, each naming its field.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from dbtable.defaults import DefaultSyntaxError, parse_default
from dbtable.errors import FieldError
from dbtable.model import ColumnOptions, DesiredColumn
from dbtable.names import InvalidName, describe_type, fold_identifier

OPTION_FIELDS = ("nullable", "default", "unique", "previousNames")
MAX_PREVIOUS_NAMES = 16


def parse_drop_columns(value: object, columns: list[DesiredColumn],
                       errors: list[FieldError]) -> tuple[str, ...]:
    """``dropColumns``: names of columns to drop, none of them declared in ``columns``."""
    field = "spec.dropColumns"
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append(FieldError(field, f"must be a list of column names, got "
                                        f"{describe_type(value)}"))
        return ()
    declared = {c.name for c in columns}
    drops: list[str] = []
    for index, item in enumerate(value):
        here = f"{field}[{index}]"
        try:
            name = fold_identifier(item)
        except InvalidName as e:
            errors.append(FieldError(here, f"column name {e}"))
            continue
        if name in declared:
            errors.append(FieldError(here, f"{item!r} is still declared in spec.columns: a "
                                           "column is dropped only once it is removed from "
                                           "spec.columns"))
        elif name in drops:
            errors.append(FieldError(here, f"names column {item!r} twice (names are folded "
                                           "to lower case)"))
        else:
            drops.append(name)
    return tuple(drops)


def parse_column_options(value: object, columns: list[DesiredColumn], key: tuple[str, ...],
                         drops: tuple[str, ...], errors: list[FieldError]
                         ) -> list[DesiredColumn]:
    """``columns`` with each one's ``columnOptions`` entry parsed into its ``options``."""
    field = "spec.columnOptions"
    if value is None:
        return columns
    if not isinstance(value, Mapping):
        errors.append(FieldError(field, "must be a map from a declared column's name to its "
                                        f"options, got {describe_type(value)}"))
        return columns
    declared = {c.name for c in columns}
    options: dict[str, ColumnOptions] = {}
    first_seen: dict[str, str] = {}
    claimed: dict[str, str] = {}  # previous name -> the column that claims it
    for raw_name, raw_options in value.items():
        here = f"{field}.{raw_name}"
        try:
            name = fold_identifier(raw_name)
        except InvalidName as e:
            errors.append(FieldError(here, f"column name {e}"))
            continue
        if name in first_seen:
            errors.append(FieldError(here, f"duplicates {first_seen[name]!r}: names are "
                                           f"folded to lower case, so both are {name!r}"))
            continue
        first_seen[name] = raw_name
        if columns and name not in declared:
            errors.append(FieldError(here, f"{raw_name!r} is not one of the declared columns "
                                           "(names are compared in lower case)"))
            continue
        parsed = _parse_options(raw_options, here, name in key, errors)
        if parsed is None:
            continue
        for old in parsed.previous_names:
            _check_previous_name(old, name, here, declared, drops, claimed, errors)
        options[name] = parsed
    return [dataclasses.replace(c, options=options[c.name]) if c.name in options else c
            for c in columns]


def _parse_options(value: object, field: str, in_key: bool,
                   errors: list[FieldError]) -> ColumnOptions | None:
    if not isinstance(value, Mapping):
        errors.append(FieldError(field, "must be a map of options (nullable, default, "
                                        f"unique, previousNames), got {describe_type(value)}"))
        return None
    before = len(errors)
    for key in value:
        if key not in OPTION_FIELDS:
            errors.append(FieldError(f"{field}.{key}", "unknown option; known options are "
                                     + ", ".join(OPTION_FIELDS)))
    nullable = value.get("nullable")
    if nullable is not None and not isinstance(nullable, bool):
        errors.append(FieldError(f"{field}.nullable",
                                 f"must be true or false, got {describe_type(nullable)}"))
    elif nullable is True and in_key:
        errors.append(FieldError(f"{field}.nullable", "a primary key column is always NOT "
                                                      "NULL: remove nullable: true"))
    unique = value.get("unique", False)
    if not isinstance(unique, bool):
        errors.append(FieldError(f"{field}.unique",
                                 f"must be true or false, got {describe_type(unique)}"))
    default = None
    if "default" in value:
        try:
            default = parse_default(value["default"])
        except DefaultSyntaxError as e:
            errors.append(FieldError(f"{field}.default", str(e)))
    previous = _parse_previous_names(value.get("previousNames"), f"{field}.previousNames",
                                     errors)
    if len(errors) > before:
        return None
    return ColumnOptions(nullable=nullable, default=default, unique=unique,
                         previous_names=previous)


def _parse_previous_names(value: object, field: str,
                          errors: list[FieldError]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append(FieldError(field, f"must be a list of column names, got "
                                        f"{describe_type(value)}"))
        return ()
    if len(value) > MAX_PREVIOUS_NAMES:
        errors.append(FieldError(field, f"has {len(value)} names; at most "
                                        f"{MAX_PREVIOUS_NAMES} are allowed"))
        return ()
    names: list[str] = []
    for index, item in enumerate(value):
        try:
            name = fold_identifier(item)
        except InvalidName as e:
            errors.append(FieldError(f"{field}[{index}]", f"column name {e}"))
            continue
        if name in names:
            errors.append(FieldError(f"{field}[{index}]", f"names {item!r} twice"))
            continue
        names.append(name)
    return tuple(names)


def _check_previous_name(old: str, column: str, field: str, declared: set[str],
                         drops: tuple[str, ...], claimed: dict[str, str],
                         errors: list[FieldError]) -> None:
    here = f"{field}.previousNames"
    if old in declared:
        errors.append(FieldError(here, f"{old!r} is a declared column: a previous name must "
                                       "be a name the column no longer has"))
    elif old in drops:
        errors.append(FieldError(here, f"{old!r} is also listed in spec.dropColumns: rename "
                                       "it or drop it, not both"))
    elif old in claimed:
        errors.append(FieldError(here, f"{old!r} is also a previous name of column "
                                       f"{claimed[old]!r}: one old column can become only "
                                       "one new column"))
    else:
        claimed[old] = column
