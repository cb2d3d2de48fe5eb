"""The admission pattern (the CRD's check of a column type, in the API server): it lets
through every text the grammar accepts and keeps out what could carry SQL, here by example and
by property, and behaves the same in Go's regexp engine as in Python's."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dbtable.types import ADMISSION_PATTERN, ColumnType, TypeSyntaxError, parse_type
from tests.support.column_types import REFUSED, accepted_texts, assert_sql_is_built_from_safe_parts


@pytest.mark.parametrize("text", accepted_texts())
def test_accepted_type_passes_the_admission_pattern(text: str) -> None:
    assert re.fullmatch(ADMISSION_PATTERN, text)


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
