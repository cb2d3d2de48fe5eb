"""The SQL a column type builds: keywords from a whitelist, numbers as literals, names as
identifiers, and for every built-in type the text format_type prints."""
from __future__ import annotations

import pytest
from psycopg2 import sql

from dbtable.types import ColumnType, parse_type
from tests.support.column_types import ACCEPTED


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
