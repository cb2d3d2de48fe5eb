"""Parse ``spec.foreignKeys`` (pure; part of dbtable/spec.py).

Every column of a key must be declared, no column twice, as many referenced columns as
columns, and ``SetNull`` never on a column that cannot be NULL. Whether the referenced table
and columns exist, and whether the types fit, only the database can say: the planner asks it.
"""
from __future__ import annotations

from collections.abc import Mapping

from dbtable.errors import FieldError, column_list
from dbtable.fk_model import DesiredForeignKey, FkAction, foreign_key_name
from dbtable.model import DesiredColumn
from dbtable.names import InvalidName, describe_type, fold_identifier

FOREIGN_KEY_FIELDS = ("name", "columns", "references", "onDelete", "onUpdate")
REFERENCE_FIELDS = ("table", "columns")
MAX_FOREIGN_KEYS = 64
MAX_KEY_COLUMNS = 32  # PostgreSQL's INDEX_MAX_KEYS
ACTIONS = ", ".join(a.value for a in FkAction)


def parse_foreign_keys(value: object, columns: list[DesiredColumn], key: tuple[str, ...],
                       errors: list[FieldError]) -> tuple[DesiredForeignKey, ...]:
    field = "spec.foreignKeys"
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append(FieldError(field, f"must be a list of foreign keys, got "
                                        f"{describe_type(value)}"))
        return ()
    if len(value) > MAX_FOREIGN_KEYS:
        errors.append(FieldError(field, f"has {len(value)} foreign keys; at most "
                                        f"{MAX_FOREIGN_KEYS} are allowed"))
        return ()
    not_null = set(key) | {c.name for c in columns if c.options.nullable is False}
    declared = {c.name for c in columns}
    keys: list[DesiredForeignKey] = []
    for index, item in enumerate(value):
        parsed = _parse_one(item, index, declared, not_null, errors)
        if parsed is None:
            continue
        if any(k.name == parsed.name for k in keys):
            errors.append(FieldError(f"{field}[{index}].name", (
                f"{parsed.name!r} is the name of another foreign key in spec.foreignKeys"
                " (a generated name repeats when two keys link the same columns to the same"
                " table and columns)")))
            continue
        keys.append(parsed)
    return tuple(keys)


def _parse_one(item: object, index: int, declared: set[str], not_null: set[str],
               errors: list[FieldError]) -> DesiredForeignKey | None:
    field = f"spec.foreignKeys[{index}]"
    if not isinstance(item, Mapping):
        errors.append(FieldError(field, "must be a map with columns and references, got "
                                        f"{describe_type(item)}"))
        return None
    before = len(errors)
    for key in item:
        if key not in FOREIGN_KEY_FIELDS:
            errors.append(FieldError(f"{field}.{key}", "unknown field; known fields are "
                                     + ", ".join(FOREIGN_KEY_FIELDS)))
    name = None
    if item.get("name") is not None:
        name = _identifier(item["name"], f"{field}.name", "constraint name", errors)
    columns = _names(item.get("columns"), f"{field}.columns", errors)
    for position, column in enumerate(columns):
        if declared and column not in declared:
            errors.append(FieldError(f"{field}.columns[{position}]", (
                f"{column!r} is not one of the declared columns (names are compared in "
                "lower case)")))
    table, ref_columns = _parse_references(item.get("references"), f"{field}.references",
                                           errors)
    if columns and ref_columns and len(columns) != len(ref_columns):
        errors.append(FieldError(f"{field}.references.columns", (
            f"lists {len(ref_columns)} column(s) but {field}.columns lists {len(columns)}: "
            "each column references one column, in order")))
    on_delete = _action(item.get("onDelete"), f"{field}.onDelete", errors)
    on_update = _action(item.get("onUpdate"), f"{field}.onUpdate", errors)
    for action, where in ((on_delete, "onDelete"), (on_update, "onUpdate")):
        stuck = [c for c in columns if c in not_null]
        if action is FkAction.SET_NULL and stuck:
            errors.append(FieldError(f"{field}.{where}", (
                f"SetNull cannot apply to column {stuck[0]!r}: it is NOT NULL (a primary key "
                "column or nullable: false in columnOptions); choose another action or make "
                "the column nullable")))
    if len(errors) > before or table is None or not columns:
        return None
    return DesiredForeignKey(name=name or foreign_key_name(columns, table, ref_columns),
                             columns=columns, ref_table=table, ref_columns=ref_columns,
                             on_delete=on_delete, on_update=on_update, index=index)


def _parse_references(value: object, field: str, errors: list[FieldError]
                      ) -> tuple[str | None, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        got = "nothing" if value is None else describe_type(value)
        errors.append(FieldError(field, "is required: a map with table and columns, e.g. "
                                        f"{{table: CUSTOMERS, columns: [ID]}}, got {got}"))
        return None, ()
    for key in value:
        if key not in REFERENCE_FIELDS:
            errors.append(FieldError(f"{field}.{key}", "unknown field; known fields are "
                                     + ", ".join(REFERENCE_FIELDS)))
    table = None
    if value.get("table") is None:
        errors.append(FieldError(f"{field}.table", "is required: the referenced table's name "
                                                   "(in the operator's schema)"))
    else:
        table = _identifier(value["table"], f"{field}.table", "table name", errors)
    return table, _names(value.get("columns"), f"{field}.columns", errors)


def _names(value: object, field: str, errors: list[FieldError]) -> tuple[str, ...]:
    items = column_list(value, field, "a list of column names", "a foreign key",
                        MAX_KEY_COLUMNS, errors)
    if items is None:
        return ()
    names: list[str] = []
    for position, item in enumerate(items):
        name = _identifier(item, f"{field}[{position}]", "column name", errors)
        if name is None:
            continue
        if name in names:
            errors.append(FieldError(f"{field}[{position}]", (
                f"names column {item!r} twice (names are folded to lower case)")))
            continue
        names.append(name)
    return tuple(names) if len(names) == len(items) else ()


def _identifier(value: object, field: str, what: str, errors: list[FieldError]) -> str | None:
    try:
        return fold_identifier(value)
    except InvalidName as e:
        errors.append(FieldError(field, f"{what} {e}"))
        return None


def _action(value: object, field: str, errors: list[FieldError]) -> FkAction:
    if value is None:
        return FkAction.NO_ACTION
    try:
        return FkAction(value)
    except ValueError:
        errors.append(FieldError(field, f"must be one of {ACTIONS}, got {value!r}"))
        return FkAction.NO_ACTION
