"""Identifier folding: what a table, column or key name may be, and the error when it is not."""
from __future__ import annotations

import pytest

from dbtable.errors import InvalidSpec
from dbtable.names import InvalidName, fold_identifier
from dbtable.spec import parse_spec


@pytest.mark.parametrize("text", ["\ud800ID", "ID\udfff", "\udc80"])
def test_lone_surrogate_is_an_invalid_name_not_an_encoding_crash(text: str) -> None:
    # YAML and JSON can carry a lone surrogate (an escaped "\ud800"); it has no UTF-8 form.
    with pytest.raises(InvalidName, match="not a valid name"):
        fold_identifier(text)


def test_lone_surrogate_in_the_primary_key_is_refused_naming_the_field() -> None:
    # The exact input hypothesis found with --hypothesis-seed=1.
    spec = {"tableName": "T", "columns": [{"ID": "integer"}, {"NAME": "text"}],
            "primaryKey": "\ud800ID"}
    with pytest.raises(InvalidSpec) as raised:
        parse_spec(spec)
    assert [e.field for e in raised.value.errors] == ["spec.primaryKey"]


@pytest.mark.parametrize(("text", "folded"), [("ID", "id"), ("Web$Users_2", "web$users_2"),
                                              ("_" * 63, "_" * 63)])
def test_valid_name_is_folded_to_lower_case(text: str, folded: str) -> None:
    assert fold_identifier(text) == folded


def test_name_of_64_bytes_is_refused_by_its_length() -> None:
    with pytest.raises(InvalidName, match="64 bytes"):
        fold_identifier("x" * 64)
