"""Property-based tests (hypothesis) of the spec parser: any text it accepts as a name or type
is a valid identifier or type; anything else is refused with an error naming its field.
"""
from __future__ import annotations

import re
from typing import Any

import pglast
import pytest
from hypothesis import given, settings, strategies as st
from psycopg2 import sql

from dbtable.errors import InvalidSpec
from dbtable.spec import MAX_KEY_COLUMNS, parse_spec
from dbtable.render import to_text
from dbtable.types import ADMISSION_PATTERN, TypeSyntaxError, parse_type
from tests.support.column_types import ACCEPTED
from tests.support.parsed_sql import assert_plain_column
from tests.support.spec_strategies import BASE, identifiers, is_identifier, type_texts

pytestmark = pytest.mark.integration

METACHARACTERS = list(" \t\n\r;'\"`-/*().,[]{}\\$%&|<>=!?@#:^~+\0\x7f\u00a0\u200béѕі\u212a\u0130")
INTERESTING = ["", " ", "id", "ID ", "x; DROP TABLE y", 'a"b', "a'b", "a--", "a/*b*/", "$$x$$",
               "1a", "$a", "a" * 63, "a" * 64, "é" * 31, "\u212aelvin", "user\n", "user\0",
               "pg_catalog.pg_class", "integer); DROP TABLE x; --", "text DEFAULT now()",
               "int primary key", "varchar(0)", "varchar(99999999)", "numeric(1,2,3)",
               "pg_sleep(10)", "integer[", "int[]]", "text collate \"C\"", "serial[]"]
VALID_TYPE_TEXTS = [text for text, _ in ACCEPTED] + [
    "mood", "app.mood", "my$type[]", "_int4", "vector(1536)", "geometry(Point,4326)",
    "public.geography(PointZ, 4326)[]", "t(-1,0,a$b)"]


@st.composite
def near_misses(draw: st.DrawFn, valid: st.SearchStrategy[str]) -> str:
    """A valid text with one character inserted, replaced or removed."""
    text = draw(valid)
    i = draw(st.integers(0, len(text)))
    c = draw(st.sampled_from(METACHARACTERS) | st.characters())
    edit = draw(st.sampled_from(("insert", "replace", "delete")))
    if edit == "insert" or not text:
        return text[:i] + c + text[i:]
    i = min(i, len(text) - 1)
    return text[:i] + (c if edit == "replace" else "") + text[i + 1:]


def arbitrary_text(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(),
        st.text(alphabet=st.sampled_from(METACHARACTERS + list("aZ_09"))),
        st.sampled_from(INTERESTING),
        valid,
        near_misses(valid),
    )


def refused_fields(spec: dict[str, Any]) -> list[str] | None:
    """The fields parse_spec's errors name, or None when it accepts the spec."""
    try:
        parse_spec(spec)
    except InvalidSpec as e:
        assert all(error.message for error in e.errors)
        return [error.field for error in e.errors]
    return None


@settings(max_examples=400, deadline=None)
@given(text=arbitrary_text(identifiers))
def test_table_name_is_accepted_exactly_when_it_is_an_identifier(text: str) -> None:
    fields = refused_fields({**BASE, "tableName": text})
    if is_identifier(text):
        assert fields is None
        assert parse_spec({**BASE, "tableName": text}).name == text.lower()
    else:
        assert fields == ["spec.tableName"]


@settings(max_examples=400, deadline=None)
@given(text=arbitrary_text(identifiers))
def test_column_name_is_accepted_exactly_when_it_is_a_new_identifier(text: str) -> None:
    spec = {**BASE, "columns": [{"ID": "integer"}, {text: "text"}]}
    fields = refused_fields(spec)
    if is_identifier(text) and text.lower() != "id":
        assert fields is None
        assert parse_spec(spec).columns[1].name == text.lower()
    else:
        assert fields == ["spec.columns[1]"]


@settings(max_examples=600, deadline=None)
@given(text=arbitrary_text(st.sampled_from(VALID_TYPE_TEXTS) | type_texts))
def test_column_type_is_accepted_only_when_the_type_grammar_accepts_it(text: str) -> None:
    spec = {**BASE, "columns": [{"ID": "integer"}, {"NAME": text}]}
    fields = refused_fields(spec)
    try:
        column_type = parse_type(text)
    except TypeSyntaxError:
        assert fields == ["spec.columns[1].NAME"]
        return
    assert fields is None
    assert parse_spec(spec).columns[1].type == column_type
    # What the operator accepts, the API server admits (the CRD's pattern is the coarser one).
    assert re.search(ADMISSION_PATTERN, text), text
    # And it is only a type: one plain column, nothing smuggled in.
    (raw,) = pglast.parse_sql(to_text(sql.SQL("CREATE TABLE t (c {})").format(
        column_type.sql())))
    (column,) = raw.stmt.tableElts
    assert_plain_column(column, "c", column_type)


@settings(max_examples=400, deadline=None)
@given(text=arbitrary_text(st.sampled_from(["ID", "name", "ID, NAME", " name ,\tid "])))
def test_primary_key_is_accepted_only_when_it_names_declared_columns(text: str) -> None:
    fields = refused_fields({**BASE, "primaryKey": text})
    parts = [p.strip() for p in text.split(",")]
    folded = [p.lower() for p in parts]
    valid = (all(is_identifier(p) for p in parts) and set(folded) <= {"id", "name"}
             and len(set(folded)) == len(folded) and len(parts) <= MAX_KEY_COLUMNS)
    if valid:
        assert fields is None
        assert parse_spec({**BASE, "primaryKey": text}).primary_key == tuple(folded)
    else:
        assert fields and set(fields) == {"spec.primaryKey"}
