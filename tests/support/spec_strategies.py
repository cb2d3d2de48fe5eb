"""Hypothesis strategies for DatabaseTable specs: identifiers (key words and mixed case
included), column type texts, column lists, primary keys drawn from key-capable columns, and
whole specs the parser accepts."""
from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

from dbtable.types import ColumnType, parse_type
from tests.support.column_types import ACCEPTED

IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
# Key words PostgreSQL reserves (or treats specially) that are still valid names here, because
# every name is quoted with sql.Identifier.
KEY_WORDS = ("user", "order", "select", "table", "from", "group", "primary", "key", "default",
             "null", "check", "column", "constraint", "references", "all", "end", "limit",
             "where", "with", "time", "integer", "text", "current_user", "analyse", "do")
# Types without a default btree operator class cannot be in a primary key (PostgreSQL: "data
# type json has no default operator class for access method btree"); arrays could, but are
# kept out of keys on purpose. test_key_capable_types_are_exactly_those_with_a_btree_opclass
# holds this list to the server.
NO_BTREE = frozenset({"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"})


def is_identifier(text: str) -> bool:
    return bool(IDENTIFIER_RE.fullmatch(text)) and len(text.encode("utf-8")) <= 63


def key_capable(column_type: ColumnType) -> bool:
    return not column_type.array and column_type.keyword not in NO_BTREE


@st.composite
def mixed_case(draw: st.DrawFn, words: st.SearchStrategy[str]) -> str:
    word = draw(words)
    upper = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if u else c.lower() for c, u in zip(word, upper))


identifiers = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_$]{0,62}", fullmatch=True),
    mixed_case(st.from_regex(r"[a-z_][a-z0-9_$]{0,8}", fullmatch=True)),
    mixed_case(st.sampled_from(KEY_WORDS)),
)

_builtin_texts = st.one_of(
    st.sampled_from([text for text, _ in ACCEPTED]),
    st.integers(1, 10485760).map(lambda n: f"varchar({n})"),
    st.tuples(st.integers(1, 1000), st.integers(-1000, 1000)).map(
        lambda ps: f"numeric({ps[0]},{ps[1]})"),
    st.integers(0, 6).map(lambda p: f"timestamp({p}) with time zone"),
    st.integers(1, 83886080).map(lambda n: f"bit varying({n})"),
)
type_texts = st.one_of(
    mixed_case(_builtin_texts),
    st.tuples(_builtin_texts, st.lists(st.sampled_from(["[]", "[3]", " [ ]", "[2147483647]"]),
                                       min_size=1, max_size=3))
      .filter(lambda t: "serial" not in t[0].lower())  # no arrays of serial (PostgreSQL)
      .map(lambda t: t[0] + "".join(t[1])),
)
key_type_texts = type_texts.filter(lambda t: key_capable(parse_type(t)))
KEY_SEPARATORS = (",", ", ", " , ", ",\t", "\t,  ")


def column_lists(min_size: int = 1, max_size: int = 6, avoid: frozenset[str] = frozenset()
                 ) -> st.SearchStrategy[list[dict[str, str]]]:
    # Dropping names already taken (rather than filtering draws) keeps hypothesis from giving
    # up on examples; a step may then add no column, which is a valid (empty) change too.
    names = st.lists(identifiers, min_size=min_size, max_size=max_size, unique_by=str.lower).map(
        lambda ns: [n for n in ns if n.lower() not in avoid])
    return names.flatmap(lambda ns: st.tuples(*(type_texts for _ in ns)).map(
        lambda ts: [{n: t} for n, t in zip(ns, ts)]))


@st.composite
def key_text(draw: st.DrawFn, columns: list[dict[str, str]]) -> str:
    """A primary key drawn from the key-capable columns, spelled with any case and spacing."""
    candidates = [n for c in columns for n, t in c.items() if key_capable(parse_type(t))]
    names = draw(st.lists(st.sampled_from(candidates), min_size=1,
                          max_size=min(len(candidates), 4), unique=True))
    spelled = [draw(mixed_case(st.just(n))) for n in names]
    return spelled[0] + "".join(draw(st.sampled_from(KEY_SEPARATORS)) + n for n in spelled[1:])


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    columns = draw(column_lists())
    if not any(key_capable(parse_type(t)) for c in columns for t in c.values()):
        ((name, _),) = columns[0].items()
        columns[0] = {name: draw(key_type_texts)}
    return {"tableName": draw(identifiers), "columns": columns,
            "primaryKey": draw(key_text(columns))}


# The smallest valid spec, for tests that vary one field of it.
BASE = {"tableName": "T", "columns": [{"ID": "integer"}, {"NAME": "text"}], "primaryKey": "ID"}
