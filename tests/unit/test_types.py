"""The column type grammar: what it accepts, what it refuses and what SQL it builds."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from psycopg2 import sql

from dbtable.types import ADMISSION_PATTERN, ColumnType, TypeSyntaxError, parse_type

# (text as a user writes it, what format_type prints for a column of that type).
# The integration tests create a column for every row and hold PostgreSQL to the second value.
ACCEPTED: list[tuple[str, str]] = [
    ("smallint", "smallint"),
    ("int2", "smallint"),
    ("integer", "integer"),
    ("INTEGER", "integer"),
    ("int", "integer"),
    ("Int4", "integer"),
    ("bigint", "bigint"),
    ("int8", "bigint"),
    ("smallserial", "smallint"),
    ("serial2", "smallint"),
    ("serial", "integer"),
    ("SERIAL4", "integer"),
    ("bigserial", "bigint"),
    ("serial8", "bigint"),
    ("real", "real"),
    ("float4", "real"),
    ("double precision", "double precision"),
    ("DOUBLE \t  PRECISION", "double precision"),
    ("float8", "double precision"),
    ("float", "double precision"),
    ("float(1)", "real"),
    ("float(24)", "real"),
    ("float(25)", "double precision"),
    ("float(53)", "double precision"),
    ("numeric", "numeric"),
    ("numeric(10)", "numeric(10,0)"),
    ("numeric(10,2)", "numeric(10,2)"),
    ("NUMERIC( 10 , 2 )", "numeric(10,2)"),
    ("decimal(5, 2)", "numeric(5,2)"),
    ("dec(7,3)", "numeric(7,3)"),
    ("numeric(1000,1000)", "numeric(1000,1000)"),
    ("numeric(2,-3)", "numeric(2,-3)"),
    ("numeric(5,6)", "numeric(5,6)"),
    ("money", "money"),
    ("boolean", "boolean"),
    ("bool", "boolean"),
    ("text", "text"),
    ("Text", "text"),
    ("varchar", "character varying"),
    ("varchar(50)", "character varying(50)"),
    ("VARCHAR (100)", "character varying(100)"),
    ("character varying", "character varying"),
    ("character varying(20)", "character varying(20)"),
    ("char varying(3)", "character varying(3)"),
    ("varchar(10485760)", "character varying(10485760)"),
    ("char", "character(1)"),
    ("char(10)", "character(10)"),
    ("character", "character(1)"),
    ("character(3)", "character(3)"),
    ("bpchar", "bpchar"),
    ("bpchar(5)", "character(5)"),
    ("bytea", "bytea"),
    ("date", "date"),
    ("time", "time without time zone"),
    ("time(3)", "time(3) without time zone"),
    ("time with time zone", "time with time zone"),
    ("time(0) without time zone", "time(0) without time zone"),
    ("time(3)with time zone", "time(3) with time zone"),
    ("timetz", "time with time zone"),
    ("timetz(2)", "time(2) with time zone"),
    ("timestamp", "timestamp without time zone"),
    ("timestamp(6)", "timestamp(6) without time zone"),
    ("timestamp with time zone", "timestamp with time zone"),
    ("timestamp(3) with time zone", "timestamp(3) with time zone"),
    ("TIMESTAMP WITHOUT TIME ZONE", "timestamp without time zone"),
    ("timestamptz", "timestamp with time zone"),
    ("timestamptz(3)", "timestamp(3) with time zone"),
    ("interval", "interval"),
    ("interval(3)", "interval(3)"),
    ("interval year", "interval year"),
    ("interval month", "interval month"),
    ("interval day", "interval day"),
    ("interval hour", "interval hour"),
    ("interval minute", "interval minute"),
    ("interval second", "interval second"),
    ("interval second(2)", "interval second(2)"),
    ("interval year to month", "interval year to month"),
    ("interval day to hour", "interval day to hour"),
    ("interval day to minute", "interval day to minute"),
    ("interval day to second", "interval day to second"),
    ("interval day to second(3)", "interval day to second(3)"),
    ("interval hour to minute", "interval hour to minute"),
    ("interval hour to second (0)", "interval hour to second(0)"),
    ("interval minute to second", "interval minute to second"),
    ("uuid", "uuid"),
    ("json", "json"),
    ("jsonb", "jsonb"),
    ("xml", "xml"),
    ("inet", "inet"),
    ("cidr", "cidr"),
    ("macaddr", "macaddr"),
    ("macaddr8", "macaddr8"),
    ("tsvector", "tsvector"),
    ("tsquery", "tsquery"),
    ("point", "point"),
    ("line", "line"),
    ("lseg", "lseg"),
    ("box", "box"),
    ("path", "path"),
    ("polygon", "polygon"),
    ("circle", "circle"),
    ("bit", "bit(1)"),
    ("bit(8)", "bit(8)"),
    ("bit varying", "bit varying"),
    ("bit varying(64)", "bit varying(64)"),
    ("varbit", "bit varying"),
    ("varbit(7)", "bit varying(7)"),
    ("oid", "oid"),
    ("integer[]", "integer[]"),
    ("int[3]", "integer[]"),
    ("int[3][4]", "integer[]"),
    ("integer [ ] [ ]", "integer[]"),
    ("text[]", "text[]"),
    ("varchar(50)[]", "character varying(50)[]"),
    ("numeric(10,2)[5]", "numeric(10,2)[]"),
    ("timestamp(3) with time zone[]", "timestamp(3) with time zone[]"),
    ("double precision[][]", "double precision[]"),
    ("interval year to month[]", "interval year to month[]"),
    ("bit varying(3)[]", "bit varying(3)[]"),
    ("jsonb[]", "jsonb[]"),
    ("  uuid  ", "uuid"),
    ("\tdate\t", "date"),
]

# User-defined names: (text, canonical). Created as real types in the integration tests.
ACCEPTED_USER_DEFINED: list[tuple[str, str]] = [
    ("mood", "mood"),
    ("Mood", "mood"),
    ("mood[]", "mood[]"),
    ("dbt_app.mood", "dbt_app.mood"),
    ("DBT_App.Mood[]", "dbt_app.mood[]"),
    ("my$type", '"my$type"'),
    ("_private_type", "_private_type"),
    ("citext", "citext"),
    ("int4range", "int4range"),
    ("_int4", "_int4"),  # integer[] by its internal name: the server resolves it
    # Extension types with modifiers (pgvector, PostGIS): numbers and plain names, folded.
    ("vector(1536)", "vector(1536)"),
    ("geometry(Point,4326)", "geometry(point,4326)"),
    ("GEOMETRY( POINT , 4326 )[]", "geometry(point,4326)[]"),
    ("public.geography(PointZ, 4326)", "public.geography(pointz,4326)"),
    ("app.vec(3)[2]", "app.vec(3)[]"),
    ("t(-1,0,a$b)", "t(-1,0,a$b)"),
]

# (text, a fragment of the message that must explain why).
REFUSED: list[tuple[str, str]] = [
    ("integer); DROP TABLE x; --", "';'"),
    ("integer; DROP TABLE x", "';'"),
    ("text DEFAULT now()", "'DEFAULT' after the type 'text'"),
    ("text default 'x'", "quotes"),
    ("integer references t", "'references' after the type 'integer'"),
    ("integer not null", "'not' after the type 'integer'"),
    ("int primary key", "'primary' after the type 'int'"),
    ("int unique", "'unique' after"),
    ("int check (true)", "'check' after"),
    ('text collate "C"', "quotes"),
    ("text collate C", "'collate' after"),
    ("int generated always as identity", "'generated' after"),
    ("int -- comment", "comments"),
    ("int /* comment */", "comments"),
    ("int*/", "comments"),
    ("'integer'", "quotes"),
    ('"integer"', "quotes"),
    ("`integer`", "quotes"),
    ("int, text", "',' after 'int'"),
    ("varchar(50), x int", "',' after 'varchar(50)'"),
    ("int\nnot null", "one line"),
    ("int\r", "one line"),
    ("int\x00", "control character U+0000"),
    ("in\x1bt", "control character U+001B"),
    ("ｉnt", "non-ASCII character 'ｉ' (U+FF49)"),
    ("int\u00a0", "U+00A0"),
    ("\u0430rray", "U+0430"),  # Cyrillic a
    ("ſerial", "U+017F"),  # long s: case-folds to 's' in both regex engines
    ("", "is empty"),
    ("   ", "is empty"),
    ("\t", "is empty"),
    ("varchar(" + "9" * 200 + ")", "at most 128"),
    ("x" * 129, "129 characters"),
    ("varchar(50", "missing a closing ')'"),
    ("varchar(50 x)", "',' or a closing ')'"),
    ("varchar()", "a number must follow"),
    ("numeric(", "a number must follow"),
    ("numeric(1,2,3)", "takes at most 2 modifiers"),
    ("varchar(5,5)", "takes at most 1 modifier"),
    ("timestamp with time", "incomplete time zone clause"),
    ("time with zone", "incomplete time zone clause"),
    ("text[", "closing ']'"),
    ("text[3", "closing ']'"),
    ("text]", "']' after the type 'text'"),
    ("double", "'double' without 'precision'"),
    ("double int", "'double' without 'precision'"),
    ("character varying varying", "'varying' after the type 'character varying'"),
    ("bit varying varying", "'varying' after"),
    ("not", "SQL key word 'not'"),
    ("null", "SQL key word 'null'"),
    ("default", "SQL key word 'default'"),
    ("references", "SQL key word 'references'"),
    ("primary", "SQL key word 'primary'"),
    ("check", "SQL key word 'check'"),
    ("unique", "SQL key word 'unique'"),
    ("collate", "SQL key word 'collate'"),
    ("constraint", "SQL key word 'constraint'"),
    ("select", "SQL key word 'select'"),
    ("table", "SQL key word 'table'"),
    ("national", "SQL key word 'national'"),
    ("generated", "belongs to a column constraint"),
    ("stored", "belongs to a column constraint"),
    ("user.mood", "SQL key word 'user'"),
    ("varchar(0)", "length 0, which must be between 1 and 10485760"),
    ("varchar(99999999)", "length 99999999"),
    ("char(10485761)", "length 10485761"),
    ("bit(0)", "length 0"),
    ("numeric(0)", "precision 0"),
    ("numeric(1001)", "precision 1001"),
    ("numeric(10,1001)", "scale 1001"),
    ("numeric(10,-1001)", "scale -1001"),
    ("varchar(-1)", "length -1"),
    ("float(0)", "between 1 and 53"),
    ("float(54)", "between 1 and 53"),
    ("time(7)", "precision 7, which must be between 0 and 6"),
    ("timestamptz(7)", "precision 7"),
    ("interval(7)", "precision 7"),
    ("interval second(7)", "precision 7"),
    ("interval year(3)", "takes none"),
    ("interval(3) year", "'year' after the type 'interval(3)'"),
    ("interval year to second", "'second' after 'interval year to'"),
    ("interval day to", "'hour' or 'minute' or 'second' must follow"),
    ("interval month to year", "'to' after the type 'interval month'"),
    ("varchar(5.5)", "'5.5', which is not a plain decimal number"),
    ("varchar(1e3)", "'1e3'"),
    ("varchar(0x10)", "'0x10'"),
    ("varchar(12345678901)", "far too large"),
    ("varchar(+5)", "'+'"),
    ("serial[]", "array of serial"),
    ("bigserial[3]", "array of bigserial"),
    ("mood()", "a number or a name must follow"),
    ("geometry(a.b, 4326)", "a number or a name must follow"),
    ("geometry(not, 4326)", "key word 'not' as a type modifier"),
    ("geometry(default)", "key word 'default' as a type modifier"),
    ("geometry(stored)", "key word 'stored' as a type modifier"),
    ("geometry(point 4326)", "',' or a closing ')'"),
    ("geometry(point,", "a number or a name must follow"),
    ("geometry(point", "missing a closing ')'"),
    ("geometry('point',4326)", "quotes"),
    ("geometry(\"point\",4326)", "quotes"),
    ("t(1,2,3,4,5,6,7,8,9)", "9 modifiers; at most 8"),
    ("t(" + "m" * 64 + ")", "modifier 'mmmmmmmmmmmmmmmmmmmm'... of 64 characters"),
    ("mood(3)(4)", "has modifiers in a place where 'mood(3)' takes none"),
    ("mood[](3)", "has modifiers in a place where 'mood[]' takes none"),
    ("varchar(point)", "a number must follow"),
    ("pg_catalog.pg_sleep(10)", "pg_catalog"),
    ("a.b.c", "qualified by a schema only"),
    ("int.", "no type name after the dot"),
    ("public . mood", "'.' that is not part of a schema.type name"),
    ("pg_catalog.int4", "pg_catalog"),
    ("int[0]", "array size 0"),
    ("int[][][][][][][]", "more than 6 array dimensions"),
    ("int[]x", "'x' after the type 'int[]'"),
    ("(int)", "must start with a type name"),
    ("[]", "must start with a type name"),
    ("5", "must start with a type name"),
    ("1abc", "'1abc', which is not a plain decimal number"),
    ("a" * 64, "at most 63"),
    ("s" * 64 + ".t", "at most 63"),
    ("int4 -", "'-'"),
    ("int\\", "'\\\\'"),
    ("text % 2", "'%'"),
    ("int array", "'array' after the type 'int'"),
]


def accepted_texts() -> list[str]:
    return [text for text, _ in ACCEPTED + ACCEPTED_USER_DEFINED]


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


@pytest.mark.parametrize("text", accepted_texts())
def test_accepted_type_passes_the_admission_pattern(text: str) -> None:
    assert re.fullmatch(ADMISSION_PATTERN, text)


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


# A regex cannot check ranges or tell a key word from a type name, but it must keep out
# everything that could carry SQL: statements, comments, quotes, clauses after the type.
REFUSED_BY_ADMISSION = [
    t for t, _ in REFUSED
    if re.search(r"[;'\"`\n\r\x00*%\\+]|--|\S \.|[^\x00-\x7f]", t)
    or re.search(r"(?i)\s(not|null|default|references|primary|unique|check|collate|generated|array|int)\b", t)
    or t.strip() in ("", "text[", "text[3", "text]", "varchar(50", "mood()", "int, text", "a.b.c",
                     "int[][][][][][][]", "int[]x", "(int)", "[]", "5", "1abc", "a" * 64)
]


def test_admission_pattern_is_checked_against_most_refused_texts() -> None:
    assert len(REFUSED_BY_ADMISSION) >= 40


@pytest.mark.parametrize("text", REFUSED_BY_ADMISSION)
def test_admission_pattern_refuses_text_that_could_carry_sql(text: str) -> None:
    assert not re.fullmatch(ADMISSION_PATTERN, text)


# -- SQL ----------------------------------------------------------------------------------


def test_sql_of_varchar_is_whitelisted_keyword_and_int_literal() -> None:
    assert parse_type("VarChar( 50 )").sql() == sql.Composed(
        [sql.SQL("character varying"), sql.SQL("("), sql.Literal(50), sql.SQL(")")]
    )


def test_sql_of_numeric_has_precision_and_scale() -> None:
    assert parse_type("decimal(10)").sql() == sql.Composed(
        [sql.SQL("numeric"), sql.SQL("("), sql.Literal(10), sql.SQL(","), sql.Literal(0), sql.SQL(")")]
    )


def test_sql_of_timestamp_spells_out_the_time_zone() -> None:
    assert parse_type("timestamptz(3)[]").sql() == sql.Composed(
        [sql.SQL("timestamp"), sql.SQL("("), sql.Literal(3), sql.SQL(")"),
         sql.SQL(" with time zone"), sql.SQL("[]")]
    )


def test_sql_of_serial_keeps_the_sequence_creating_keyword() -> None:
    assert parse_type("serial4").sql() == sql.Composed([sql.SQL("serial")])


def test_sql_of_user_defined_type_quotes_its_name() -> None:
    assert parse_type("Mood").sql() == sql.Composed([sql.Identifier("mood")])


def test_sql_of_schema_qualified_array_type_quotes_both_names() -> None:
    assert parse_type("App.Mood[3][]").sql() == sql.Composed(
        [sql.Identifier("app", "mood"), sql.SQL("[]")]
    )


def test_sql_of_user_defined_type_with_modifiers_has_int_literals_and_quoted_names() -> None:
    assert parse_type("Geometry(Point, 4326)[]").sql() == sql.Composed(
        [sql.Identifier("geometry"), sql.SQL("("),
         sql.Composed([sql.Identifier("point"), sql.SQL(","), sql.Literal(4326)]),
         sql.SQL(")"), sql.SQL("[]")]
    )


def test_lookup_of_user_defined_type_leaves_modifiers_to_typmod_in() -> None:
    column_type = parse_type("Public.Geometry(Point, 4326)[]")
    assert column_type.lookup == "public.geometry[]"
    assert column_type.typmod_input == ("point", "4326")
    assert parse_type('My$Type').lookup == '"my$type"'
    assert parse_type("varchar(50)[]").lookup == "character varying(50)[]"
    assert parse_type("varchar(50)").typmod_input == ()


def test_sql_of_array_drops_sizes_and_dimensions_as_postgresql_does() -> None:
    assert parse_type("int[3][4]").sql() == sql.Composed([sql.SQL("integer"), sql.SQL("[]")])


def render_offline(composable: sql.Composable) -> str:
    """Render without a connection, as psycopg2 would for these three kinds of parts."""
    if isinstance(composable, sql.Composed):
        return "".join(render_offline(part) for part in composable.seq)
    if isinstance(composable, sql.SQL):
        return composable.string
    if isinstance(composable, sql.Literal):
        assert type(composable.wrapped) is int
        return str(composable.wrapped)
    if isinstance(composable, sql.Identifier):
        return ".".join('"' + s.replace('"', '""') + '"' for s in composable.strings)
    raise AssertionError(f"unexpected part {composable!r}")


@pytest.mark.parametrize(("text", "canonical"), ACCEPTED)
def test_sql_of_builtin_type_renders_as_its_canonical_form(text: str, canonical: str) -> None:
    column_type = parse_type(text)
    rendered = render_offline(column_type.sql())
    if column_type.keyword.endswith("serial"):
        assert rendered == column_type.keyword
    else:
        assert rendered == canonical


def sql_parts(composable: sql.Composable) -> list[sql.Composable]:
    if isinstance(composable, sql.Composed):
        return [p for part in composable.seq for p in sql_parts(part)]
    return [composable]


def assert_sql_is_built_from_safe_parts(column_type: ColumnType) -> None:
    for part in sql_parts(column_type.sql()):
        if isinstance(part, sql.SQL):
            assert re.fullmatch(r"[a-z ()\[\],0-9]+", part.string), part
        elif isinstance(part, sql.Literal):
            assert type(part.wrapped) is int
        else:
            assert isinstance(part, sql.Identifier)


def test_column_type_refuses_keywords_outside_the_whitelist() -> None:
    with pytest.raises(ValueError):
        ColumnType(canonical="integer", keyword="integer; DROP TABLE x")
    with pytest.raises(ValueError):
        ColumnType(canonical="integer", keyword="integer", suffix="not null")
    with pytest.raises(ValueError):
        ColumnType(canonical="numeric(1,2)", keyword="numeric", modifiers=("1", "2"))  # type: ignore[arg-type]
    for modifier in ("Point", "a b", "x); drop table t; --", "not", "1", "", "m" * 64):
        with pytest.raises(ValueError):
            ColumnType(canonical="geometry", name="geometry", modifiers=(modifier,))


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


# -- properties -----------------------------------------------------------------------------

_SPACE = st.sampled_from(["", " ", "  ", "\t", " \t "])
_GAP = st.sampled_from([" ", "  ", "\t", " \t"])


def _random_case(draw: st.DrawFn, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if flip else c for c, flip in zip(word, flips))


@st.composite
def type_texts(draw: st.DrawFn) -> str:
    """Texts built from the grammar, with random case, spacing, modifiers and arrays."""
    words = draw(st.sampled_from([
        ["smallint"], ["int"], ["integer"], ["bigint"], ["int8"], ["serial"], ["real"],
        ["double", "precision"], ["float"], ["numeric"], ["decimal"], ["dec"], ["text"],
        ["varchar"], ["character", "varying"], ["char", "varying"], ["character"], ["char"],
        ["bpchar"], ["bit"], ["bit", "varying"], ["varbit"], ["time"], ["timestamp"],
        ["timetz"], ["timestamptz"], ["interval"], ["interval", "day", "to", "second"],
        ["interval", "year", "to", "month"], ["interval", "second"], ["uuid"], ["jsonb"],
        ["mood"], ["app.mood"], ["x$y"], ["bool"],
    ]))
    text = draw(_SPACE) + draw(_GAP).join(_random_case(draw, w) for w in words)
    if draw(st.booleans()):
        number = st.one_of(st.integers(0, 12), st.integers(-1001, 10_485_761))
        numbers = draw(st.lists(number.map(str), min_size=0, max_size=3))
        text += draw(_SPACE) + "(" + draw(_SPACE) + ("," + draw(_SPACE)).join(numbers) + ")"
    if draw(st.booleans()):
        zone = draw(st.sampled_from([["with", "time", "zone"], ["without", "time", "zone"], ["with", "time"]]))
        text += draw(_GAP) + draw(_GAP).join(_random_case(draw, w) for w in zone)
    for _ in range(draw(st.integers(0, 7))):
        size = draw(st.one_of(st.just(""), st.integers(0, 99).map(str)))
        text += draw(_SPACE) + "[" + draw(_SPACE) + size + draw(_SPACE) + "]"
    return text + draw(_SPACE)


def _accepts(text: str) -> ColumnType | None:
    try:
        return parse_type(text)
    except TypeSyntaxError:
        return None


@settings(max_examples=2000)
@given(type_texts())
@example("Timestamp ( 3 )With\tTime Zone [ 2 ][]")
def test_every_accepted_grammar_text_passes_the_admission_pattern(text: str) -> None:
    column_type = _accepts(text)
    if column_type is not None:
        assert re.fullmatch(ADMISSION_PATTERN, text), text
        assert_sql_is_built_from_safe_parts(column_type)
        assert column_type.matches(column_type.canonical)


@settings(max_examples=2000)
@given(st.text(alphabet=st.sampled_from(list("aAiInNtT ()[],.-09$_;'\"\n\tſ\u0130")), max_size=30))
def test_every_accepted_random_text_passes_the_admission_pattern(text: str) -> None:
    column_type = _accepts(text)
    if column_type is not None:
        assert re.fullmatch(ADMISSION_PATTERN, text), text
        assert_sql_is_built_from_safe_parts(column_type)


@settings(max_examples=500)
@given(st.text(max_size=200))
def test_parse_type_only_ever_raises_type_syntax_error(text: str) -> None:
    column_type = _accepts(text)
    if column_type is not None:
        assert text.isascii() and "\n" not in text and len(text) <= 128


# -- the pattern in the API server's engine --------------------------------------------------

_GO_CHECK = """
package main

import (
\t"bufio"
\t"fmt"
\t"os"
\t"regexp"
)

func main() {
\tpattern, _ := os.ReadFile(os.Args[1])
\tre := regexp.MustCompile(string(pattern))
\tscanner := bufio.NewScanner(os.Stdin)
\tfor scanner.Scan() {
\t\tfmt.Println(re.MatchString(scanner.Text()))
\t}
}
"""


@pytest.mark.skipif(shutil.which("go") is None, reason="needs the Go toolchain")
def test_admission_pattern_behaves_the_same_in_go_regexp(tmp_path: Path) -> None:
    (tmp_path / "check.go").write_text(_GO_CHECK)
    (tmp_path / "pattern.txt").write_text(ADMISSION_PATTERN)
    samples = [t for t in accepted_texts() + [t for t, _ in REFUSED] if "\n" not in t and "\r" not in t]
    result = subprocess.run(
        ["go", "run", str(tmp_path / "check.go"), str(tmp_path / "pattern.txt")],
        input="\n".join(samples) + "\n", capture_output=True, text=True, timeout=300, check=True,
        env={**os.environ, "GOTOOLCHAIN": "local"},
    )
    in_go = [line == "true" for line in result.stdout.splitlines()]
    in_python = [re.fullmatch(ADMISSION_PATTERN, s) is not None for s in samples]
    assert in_go == in_python
