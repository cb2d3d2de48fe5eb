"""The column type grammar: what it accepts, what it refuses, and how it compares with the
catalog's spelling (its SQL: test_types_sql.py; the admission pattern: test_types_admission.py)."""
from __future__ import annotations

import pytest

from dbtable.types import TypeSyntaxError, parse_type
from tests.support.column_types import ACCEPTED, ACCEPTED_USER_DEFINED, REFUSED


# -- accepted -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "canonical"), ACCEPTED + ACCEPTED_USER_DEFINED)
def test_accepted_type_has_format_type_spelling_as_canonical(text: str, canonical: str) -> None:
    assert parse_type(text).canonical == canonical


@pytest.mark.parametrize(("text", "canonical"), ACCEPTED + ACCEPTED_USER_DEFINED)
def test_accepted_type_matches_its_own_canonical_form(text: str, canonical: str) -> None:
    assert parse_type(text).matches(canonical)


# serial's canonical form names the underlying integer type, which has no sequence.
@pytest.mark.parametrize(("text", "canonical"), [c for c in ACCEPTED if "serial" not in c[0].lower()])
def test_canonical_form_of_builtin_type_parses_to_itself(text: str, canonical: str) -> None:
    assert parse_type(canonical) == parse_type(text)


def test_spelling_variants_of_one_type_parse_to_equal_values() -> None:
    variants = ["varchar(50)", "VARCHAR(50)", "character varying(50)", "char  varying ( 50 )",
                "Character\tVarying(050)"]
    assert len({parse_type(v) for v in variants}) == 1


def test_bare_char_is_one_character_but_bare_bpchar_is_unbounded() -> None:
    assert parse_type("char").modifiers == (1,)
    assert parse_type("bpchar").modifiers == ()


# -- refused ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "fragment"), REFUSED)
def test_refused_type_explains_why(text: str, fragment: str) -> None:
    with pytest.raises(TypeSyntaxError) as caught:
        parse_type(text)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message
    assert message[0].islower(), "the caller prefixes 'column type ', so no capital letter"


@pytest.mark.parametrize("value", [None, 5, ["int"], {"int": 1}])
def test_non_text_type_is_refused(value: object) -> None:
    with pytest.raises(TypeSyntaxError, match="must be text"):
        parse_type(value)  # type: ignore[arg-type]


def test_type_syntax_error_is_a_value_error() -> None:
    assert issubclass(TypeSyntaxError, ValueError)


# -- matches ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "catalog_type", "expected"),
    [
        ("varchar(50)", "character varying(50)", True),
        ("varchar(50)", "character varying(51)", False),
        ("varchar(50)", "character varying", False),
        ("int", "integer", True),
        ("int", "bigint", False),
        ("int[]", "integer", False),
        ("int", "integer[]", False),
        ("serial", "integer", True),
        ("mood", "mood", True),
        ("mood", "app.mood", True),  # not on the search_path of the reading session
        ("public.mood", "mood", True),  # visible, so format_type leaves the schema out
        ("app.mood", "app.mood", True),
        ("app.mood", "other.mood", False),
        ("app.mood", "mood[]", False),
        ("app.mood[]", "mood[]", True),
        ("mood", "moods", False),
        ("my$type", '"my$type"', True),
        ("my$type", "my$type", False),
        ("app.mood", '"app"."mood"', True),
        ("mood", "MOOD", False),
        ("mood", '"MOOD"', False),
        ("mood", "mood; drop table x", False),
        ("geometry(Point,4326)", "geometry(Point,4326)", True),  # typmod_out's own spelling
        ("geometry(point, 4326)[]", "public.geometry(Point,4326)[]", True),
        ("geometry(Point,4326)", "geometry(Point,3857)", False),
        ("geometry(Point,4326)", "geometry", False),
        ("geometry", "geometry(Point,4326)", False),
        ("vector(1536)", "vector(1536)", True),
        ("vector(1536)", "vector(768)", False),
        ("vector(1536)", "vector(1536)[]", False),
    ],
)
def test_matches_compares_with_format_type_output(text: str, catalog_type: str, expected: bool) -> None:
    assert parse_type(text).matches(catalog_type) is expected
