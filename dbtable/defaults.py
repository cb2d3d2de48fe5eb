"""The grammar of ``columnOptions.<column>.default`` (pure).

A default is one of: a number (``42``, ``-1.5``), a single-quoted string literal (``'new'``,
``'it''s'``), ``true``/``false``/``null``, or one argument-less function from a short allow-list
(``now()``, ``current_timestamp``, ``gen_random_uuid()``, ...). Nothing else: no expressions,
no casts, no operators, no other functions. Rendering never formats the text into SQL: numbers
and strings become ``sql.Literal`` values, keywords and functions come from ``_SQL`` below.
``null`` means "no default" (PostgreSQL stores no default for DEFAULT NULL).
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from decimal import Decimal

from psycopg2 import sql

MAX_DEFAULT_LENGTH = 1024


class DefaultKind(str, enum.Enum):
    NUMBER = "number"
    STRING = "string"
    KEYWORD = "keyword"  # true, false, null
    FUNCTION = "function"


# Spelling (lower case) -> the SQL we write, and whether the value differs per row (a volatile
# function: adding a column with such a default would rewrite the table).
_SQL: dict[str, tuple[str, bool]] = {
    "true": ("true", False),
    "false": ("false", False),
    "null": ("NULL", False),
    "now()": ("now()", False),
    "current_timestamp": ("CURRENT_TIMESTAMP", False),
    "current_date": ("CURRENT_DATE", False),
    "current_time": ("CURRENT_TIME", False),
    "localtimestamp": ("LOCALTIMESTAMP", False),
    "localtime": ("LOCALTIME", False),
    "transaction_timestamp()": ("transaction_timestamp()", False),
    "statement_timestamp()": ("statement_timestamp()", False),
    "clock_timestamp()": ("clock_timestamp()", True),
    "gen_random_uuid()": ("gen_random_uuid()", True),
}
KEYWORDS = ("true", "false", "null")
FUNCTIONS = tuple(k for k in _SQL if k not in KEYWORDS)

_NUMBER = r"-?(?:0|[1-9][0-9]{0,37})(?:\.[0-9]{1,37})?"
_STRING = r"'(?:[^'\x00]|'')*'"


def _caseless(word: str) -> str:
    """``now()`` as ``[Nn][Oo][Ww]\\(\\)``: RE2 and Python agree on this, unlike flags."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


_WORDS = "|".join(_caseless(w) for w in sorted(_SQL, key=len, reverse=True))
# The admission pattern (crd.yaml) is exactly the grammar: the API server refuses everything
# the parser would refuse, with the pattern in its message.
# tests/unit/test_manifests_column_options.py keeps the two equal.
ADMISSION_PATTERN = f"^(?:{_NUMBER}|{_STRING}|{_WORDS})$"
_GRAMMAR = re.compile(ADMISSION_PATTERN, re.ASCII)


class DefaultSyntaxError(ValueError):
    """The text is not a default this operator accepts; str() says why."""


@dataclass(frozen=True)
class ColumnDefault:
    """A parsed default. ``value`` is the number (Decimal), the string's content, or the
    lower-case keyword or function spelling."""

    kind: DefaultKind
    value: Decimal | str

    @property
    def is_null(self) -> bool:
        return self.kind is DefaultKind.KEYWORD and self.value == "null"

    @property
    def volatile(self) -> bool:
        """Differs per row (``gen_random_uuid()``): ADD COLUMN with it rewrites the table."""
        return self.kind is DefaultKind.FUNCTION and _SQL[str(self.value)][1]

    @property
    def canonical(self) -> str:
        """The spelling the plan, the status and the tests show."""
        if self.kind is DefaultKind.STRING:
            return "'" + str(self.value).replace("'", "''") + "'"
        return str(self.value)

    def sql(self) -> sql.Composable:
        if self.kind is DefaultKind.NUMBER:
            return sql.Literal(self.value)
        if self.kind is DefaultKind.STRING:
            return sql.Literal(self.value)
        return sql.SQL(_SQL[str(self.value)][0])

    def as_text(self) -> str | None:
        """The value as text, for the server to read as the column's type (a constant), or
        None for a function, which has no constant value."""
        if self.kind is DefaultKind.FUNCTION or self.is_null:
            return None
        return str(self.value)


def parse_default(text: object) -> ColumnDefault:
    if not isinstance(text, str):
        raise DefaultSyntaxError(
            "must be a string such as \"'new'\", \"0\", \"true\" or \"now()\"")
    if len(text) > MAX_DEFAULT_LENGTH:
        raise DefaultSyntaxError(f"is {len(text)} characters long; at most "
                                 f"{MAX_DEFAULT_LENGTH} are allowed")
    if not _GRAMMAR.fullmatch(text):
        raise DefaultSyntaxError(
            f"{text!r} is not a default this operator accepts: use a number (42, -1.5), a "
            "single-quoted string ('new', 'it''s'), true, false, null, or one of "
            + ", ".join(FUNCTIONS))
    if text.startswith("'"):
        return ColumnDefault(DefaultKind.STRING, text[1:-1].replace("''", "'"))
    lower = text.lower()
    if lower in _SQL:
        kind = DefaultKind.KEYWORD if lower in KEYWORDS else DefaultKind.FUNCTION
        return ColumnDefault(kind, lower)
    return ColumnDefault(DefaultKind.NUMBER, Decimal(text))


# --- what the catalog says -------------------------------------------------------------------
# pg_get_expr() prints a stored default as e.g. 'new'::text, 42, '-1'::integer, true, now(),
# CURRENT_TIMESTAMP, '2024-01-01 00:00:00'::timestamp without time zone. The planner compares
# a desired default with it after both are brought to one form: the constant's text as the
# column's type prints it (the server casts the desired one: dbtable/resolve.py), or the
# function's lower-case spelling.
_CAST = re.compile(r"::[a-z_][a-z0-9_ $.\"]*(?:\([0-9, ]*\))?(?:\[\])*$")
_QUOTED = re.compile(r"'((?:[^']|'')*)'")


def normalize_catalog_default(expression: str | None) -> str | None:
    """The constant's text or the function's spelling of a default read from the catalog;
    None when there is none. Anything outside the grammar comes back as is (it then differs
    from every desired default, and the planner replaces it)."""
    if expression is None:
        return None
    text = expression.strip()
    while True:
        stripped = _CAST.sub("", text)
        if stripped == text:
            break
        text = stripped.strip()
    if text.startswith("(") and text.endswith(")") and text.count("(") == 1:
        text = text[1:-1]
    quoted = _QUOTED.fullmatch(text)
    if quoted:
        return quoted.group(1).replace("''", "'")
    lower = text.lower()
    if lower in _SQL:
        return lower
    return text
