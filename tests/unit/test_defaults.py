"""The grammar of columnOptions.<column>.default, and how a default reaches SQL."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from dbtable.defaults import (ADMISSION_PATTERN, FUNCTIONS, DefaultKind, DefaultSyntaxError,
                              normalize_catalog_default, parse_default)
from dbtable.render import to_text


@pytest.mark.parametrize("text, kind, value, rendered", [
    ("0", DefaultKind.NUMBER, Decimal("0"), "0"),
    ("42", DefaultKind.NUMBER, Decimal("42"), "42"),
    ("-1.5", DefaultKind.NUMBER, Decimal("-1.5"), " -1.5"),
    ("3.14159", DefaultKind.NUMBER, Decimal("3.14159"), "3.14159"),
    ("'new'", DefaultKind.STRING, "new", "'new'"),
    ("''", DefaultKind.STRING, "", "''"),
    ("'it''s'", DefaultKind.STRING, "it's", "'it''s'"),
    ("'a; DROP TABLE x; --'", DefaultKind.STRING, "a; DROP TABLE x; --",
     "'a; DROP TABLE x; --'"),
    ("'back\\slash'", DefaultKind.STRING, "back\\slash", "'back\\slash'"),
    ("'2024-01-01'", DefaultKind.STRING, "2024-01-01", "'2024-01-01'"),
    ("true", DefaultKind.KEYWORD, "true", "true"),
    ("FALSE", DefaultKind.KEYWORD, "false", "false"),
    ("null", DefaultKind.KEYWORD, "null", "NULL"),
    ("now()", DefaultKind.FUNCTION, "now()", "now()"),
    ("NOW()", DefaultKind.FUNCTION, "now()", "now()"),
    ("current_timestamp", DefaultKind.FUNCTION, "current_timestamp", "CURRENT_TIMESTAMP"),
    ("Current_Date", DefaultKind.FUNCTION, "current_date", "CURRENT_DATE"),
    ("gen_random_uuid()", DefaultKind.FUNCTION, "gen_random_uuid()", "gen_random_uuid()"),
])
def test_the_grammar_accepts_and_renders(text: str, kind: DefaultKind, value: object,
                                         rendered: str) -> None:
    default = parse_default(text)
    assert (default.kind, default.value) == (kind, value)
    assert to_text(default.sql()) == rendered


@pytest.mark.parametrize("text", [
    "", " 1", "1 ", "+1", "1e5", "1.", ".5", "01", "0x10", "1,5", "- 1", "--1",
    "new", "\"new\"", "'unterminated", "'a'b'", "'a' || 'b'", "'x'::text", "E'\\n'",
    "$$x$$", "'nul\0'", "now", "now( )", "now();", "now() -- c", "NOW() + interval '1 day'",
    "current_timestamp()", "pg_sleep(10)", "nextval('s')", "random()", "gen_random_uuid(1)",
    "lower('A')", "(1)", "1; DROP TABLE x", "true; DROP TABLE x", "null::int",
    "current_user", "session_user", "'a'\n", "1\n", "tru", "yes",
])
def test_the_grammar_refuses_everything_else(text: str) -> None:
    with pytest.raises(DefaultSyntaxError):
        parse_default(text)


@pytest.mark.parametrize("value", [5, 1.5, True, None, ["now()"], {"a": 1}])
def test_a_default_must_be_a_string(value: object) -> None:
    with pytest.raises(DefaultSyntaxError, match="must be a string"):
        parse_default(value)


def test_an_overlong_default_is_refused() -> None:
    with pytest.raises(DefaultSyntaxError, match="1025 characters"):
        parse_default("'" + "x" * 1023 + "'")


def test_every_function_is_argument_less_and_volatile_ones_are_marked() -> None:
    assert all(f.endswith("()") or "(" not in f for f in FUNCTIONS)
    assert parse_default("gen_random_uuid()").volatile
    assert parse_default("clock_timestamp()").volatile
    assert not parse_default("now()").volatile
    assert not parse_default("'x'").volatile


def test_the_admission_pattern_is_the_grammar() -> None:
    import re
    for text in ("42", "'it''s'", "NOW()", "null"):
        assert re.fullmatch(ADMISSION_PATTERN, text)
    for text in ("now", "'a'b'", "1e5", "pg_sleep(1)"):
        assert not re.fullmatch(ADMISSION_PATTERN, text)


@given(st.text(max_size=40).filter(lambda s: "\0" not in s))
def test_any_string_without_nul_round_trips_through_the_grammar(content: str) -> None:
    quoted = "'" + content.replace("'", "''") + "'"
    default = parse_default(quoted)
    assert default.value == content
    assert default.canonical == quoted
    assert to_text(default.sql()) == quoted


@given(st.text(max_size=30))
def test_text_the_grammar_accepts_renders_to_a_literal_or_a_known_word(text: str) -> None:
    try:
        default = parse_default(text)
    except DefaultSyntaxError:
        return
    rendered = to_text(default.sql())
    if default.kind is DefaultKind.STRING:
        assert rendered.startswith("'") and rendered.endswith("'")
        assert "'" not in rendered[1:-1].replace("''", "")
    elif default.kind is DefaultKind.NUMBER:
        assert Decimal(rendered) == default.value
    else:
        assert rendered.lower() in {"true", "false", "null", *FUNCTIONS}


@pytest.mark.parametrize("expression, normal", [
    (None, None),
    ("'new'::text", "new"),
    ("'it''s'::character varying", "it's"),
    ("42", "42"),
    ("'-1'::integer", "-1"),
    ("1.50", "1.50"),
    ("true", "true"),
    ("now()", "now()"),
    ("CURRENT_TIMESTAMP", "current_timestamp"),
    ("'2024-01-01 00:00:00'::timestamp without time zone", "2024-01-01 00:00:00"),
    ("nextval('t_id_seq'::regclass)", "nextval('t_id_seq'::regclass)"),
])
def test_catalog_defaults_are_normalized(expression: str | None, normal: str | None) -> None:
    assert normalize_catalog_default(expression) == normal
