"""Parsing DatabaseTable specs: names, columns, keys, policies."""
from __future__ import annotations

import pytest

from dbtable.errors import InvalidSpec
from dbtable.model import DeletionPolicy
from dbtable.spec import parse_spec
from tests.support.seed import seed_spec

SEED = seed_spec()


def errors_of(spec: object) -> list[str]:
    with pytest.raises(InvalidSpec) as raised:
        parse_spec(spec)
    return [str(e) for e in raised.value.errors]


def test_seed_example_parses_with_folded_names() -> None:
    table = parse_spec(SEED)
    assert table.name == "website_users"
    assert [c.name for c in table.columns] == ["user_id", "user_name", "user_email",
                                               "signup_date", "last_login"]
    assert [c.type.canonical for c in table.columns] == [
        "integer", "character varying(50)", "character varying(100)", "date",
        "timestamp without time zone"]
    assert table.primary_key == ("user_id",)
    assert table.deletion_policy is None  # not given: Drop if created, Retain if adopted
    assert table.adopt_existing is False


def test_composite_primary_key_is_comma_separated() -> None:
    table = parse_spec({**SEED, "primaryKey": "USER_ID , user_email"})
    assert table.primary_key == ("user_id", "user_email")


def test_retain_policy_and_adoption_are_read() -> None:
    table = parse_spec({**SEED, "deletionPolicy": "Retain", "adoptExistingTable": True})
    assert table.deletion_policy is DeletionPolicy.RETAIN
    assert table.adopt_existing is True


def test_reserved_words_are_valid_names_because_they_are_always_quoted() -> None:
    table = parse_spec({"tableName": "order", "columns": [{"user": "text"}, {"select": "int"}],
                        "primaryKey": "select"})
    assert table.name == "order"
    assert table.primary_key == ("select",)


def test_name_of_63_bytes_is_accepted_and_64_refused() -> None:
    assert parse_spec({**SEED, "tableName": "t" * 63}).name == "t" * 63
    assert any("63" in e for e in errors_of({**SEED, "tableName": "t" * 64}))


def test_all_errors_are_reported_at_once() -> None:
    errors = errors_of({"tableName": "1x", "columns": [], "primaryKey": 3})
    assert [e.split(":")[0] for e in errors] == ["spec.tableName", "spec.columns",
                                                 "spec.primaryKey"]


def test_unknown_field_is_named() -> None:
    assert errors_of({**SEED, "colums": []}) == [
        "spec.colums: unknown field; known fields are tableName, columns, primaryKey, "
        "deletionPolicy, adoptExistingTable, allowTableRewrite, columnOptions, dropColumns, foreignKeys, "
        "indexes"]


def test_duplicate_column_message_names_both_spellings() -> None:
    (error,) = errors_of({**SEED, "columns": [{"ID": "int"}, {"id": "text"}], "primaryKey": "ID"})
    assert error.startswith("spec.columns[1]: column 'id' duplicates 'ID'")


def test_type_error_names_the_column() -> None:
    (error,) = errors_of({**SEED, "columns": [{"USER_ID": "integer not null"}]})
    assert error.startswith("spec.columns[0].USER_ID: column type")


def test_key_naming_an_undeclared_column_is_refused() -> None:
    (error,) = errors_of({**SEED, "primaryKey": "USER_ID, NOPE"})
    assert error == "spec.primaryKey: 'NOPE' is not one of the declared columns"


def test_too_many_columns_is_refused() -> None:
    columns = [{f"c{i}": "int"} for i in range(1601)]
    (error,) = errors_of({"tableName": "t", "columns": columns, "primaryKey": "c0"})
    assert "1601 columns" in error


def test_1600_columns_are_accepted() -> None:
    columns = [{f"c{i}": "int"} for i in range(1600)]
    assert len(parse_spec({"tableName": "t", "columns": columns, "primaryKey": "c0"}).columns) \
        == 1600


def test_spec_that_is_not_a_map_is_refused() -> None:
    assert errors_of(["tableName"]) == ["spec: must be a map, got a list"]
