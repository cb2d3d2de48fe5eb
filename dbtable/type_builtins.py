"""The built-in types the grammar knows: one rule per leading word, each reading its
modifiers through the parser (dbtable/type_grammar.py) and returning the DDL keyword,
modifiers and suffix. Pure."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from dbtable.type_words import (MAX_BIT_LENGTH, MAX_CHAR_LENGTH, MAX_FLOAT4_BITS,
                                MAX_FLOAT_BITS, MAX_NUMERIC_PRECISION, MAX_NUMERIC_SCALE,
                                MAX_TIME_PRECISION, TypeSyntaxError)

if TYPE_CHECKING:
    from dbtable.type_grammar import Parser


class Builtin(NamedTuple):
    keyword: str  # DDL text
    modifiers: tuple[int, ...] = ()
    suffix: str = ""
    catalog_keyword: str | None = None  # when format_type names it differently (serial)


# Types without modifiers: word -> DDL keyword (which is also how format_type prints them).
_PLAIN_TYPES: dict[str, str] = {
    "smallint": "smallint", "int2": "smallint",
    "integer": "integer", "int": "integer", "int4": "integer",
    "bigint": "bigint", "int8": "bigint",
    "real": "real", "float4": "real",
    "float8": "double precision",
    "money": "money",
    "boolean": "boolean", "bool": "boolean",
    "text": "text", "bytea": "bytea", "date": "date", "uuid": "uuid",
    "json": "json", "jsonb": "jsonb", "xml": "xml",
    "inet": "inet", "cidr": "cidr", "macaddr": "macaddr", "macaddr8": "macaddr8",
    "tsvector": "tsvector", "tsquery": "tsquery",
    "point": "point", "line": "line", "lseg": "lseg", "box": "box", "path": "path",
    "polygon": "polygon", "circle": "circle",
    "oid": "oid",
}
# serial is integer plus a sequence and a default; format_type prints the integer type.
_SERIAL_TYPES: dict[str, tuple[str, str]] = {
    "smallserial": ("smallserial", "smallint"), "serial2": ("smallserial", "smallint"),
    "serial": ("serial", "integer"), "serial4": ("serial", "integer"),
    "bigserial": ("bigserial", "bigint"), "serial8": ("bigserial", "bigint"),
}
_INTERVAL_FIELDS: dict[str, tuple[str, ...]] = {
    # leading field -> fields allowed after TO
    "year": ("month",),
    "month": (),
    "day": ("hour", "minute", "second"),
    "hour": ("minute", "second"),
    "minute": ("second",),
    "second": (),
}


def check_range(label: str, what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise TypeSyntaxError(f"gives {label} the {what} {value}, which must be between {low} and {high}")


# One rule per leading word of a built-in type. Each gets the parser positioned after that
# word and the word itself (lower case), and returns the built-in it read.


def _plain(parser: Parser, word: str) -> Builtin:
    return Builtin(_PLAIN_TYPES[word])


def _serial(parser: Parser, word: str) -> Builtin:
    keyword, catalog_keyword = _SERIAL_TYPES[word]
    return Builtin(keyword, catalog_keyword=catalog_keyword)


def _double(parser: Parser, word: str) -> Builtin:
    if parser.accept_word("precision") is None:
        raise TypeSyntaxError("has 'double' without 'precision'; write 'double precision' or 'float8'")
    return Builtin("double precision")


def _float(parser: Parser, word: str) -> Builtin:
    bits = parser.parse_one_modifier("float", "precision in bits", 1, MAX_FLOAT_BITS)
    return Builtin("real" if bits is not None and bits <= MAX_FLOAT4_BITS else "double precision")


def _numeric(parser: Parser, word: str) -> Builtin:
    values = parser.parse_modifiers(word, ("precision", "scale"))
    if not values:
        return Builtin("numeric")
    precision, scale = values[0], (values[1] if len(values) > 1 else 0)
    check_range(word, "precision", precision, 1, MAX_NUMERIC_PRECISION)
    check_range(word, "scale", scale, -MAX_NUMERIC_SCALE, MAX_NUMERIC_SCALE)
    return Builtin("numeric", (precision, scale))


def _varchar(parser: Parser, word: str) -> Builtin:
    length = parser.parse_one_modifier(word, "length", 1, MAX_CHAR_LENGTH)
    return Builtin("character varying", () if length is None else (length,))


def _character(parser: Parser, word: str) -> Builtin:
    if parser.accept_word("varying"):
        return _varchar(parser, f"{word} varying")
    length = parser.parse_one_modifier(word, "length", 1, MAX_CHAR_LENGTH)
    return Builtin("character", (1 if length is None else length,))


def _bpchar(parser: Parser, word: str) -> Builtin:
    # Bare bpchar is blank-padded text of any length, unlike bare char which is char(1).
    length = parser.parse_one_modifier(word, "length", 1, MAX_CHAR_LENGTH)
    return Builtin("bpchar") if length is None else Builtin("character", (length,))


def _varbit(parser: Parser, word: str) -> Builtin:
    length = parser.parse_one_modifier(word, "length", 1, MAX_BIT_LENGTH)
    return Builtin("bit varying", () if length is None else (length,))


def _bit(parser: Parser, word: str) -> Builtin:
    if parser.accept_word("varying"):
        return _varbit(parser, "bit varying")
    length = parser.parse_one_modifier(word, "length", 1, MAX_BIT_LENGTH)
    return Builtin("bit", (1 if length is None else length,))


def _time(parser: Parser, word: str) -> Builtin:
    precision = parser.parse_one_modifier(word, "precision", 0, MAX_TIME_PRECISION)
    suffix = parser.parse_time_zone(word)
    return Builtin(word, () if precision is None else (precision,), suffix)


def _time_tz(parser: Parser, word: str) -> Builtin:
    keyword = word.removesuffix("tz")
    precision = parser.parse_one_modifier(word, "precision", 0, MAX_TIME_PRECISION)
    return Builtin(keyword, () if precision is None else (precision,), "with time zone")


def _interval(parser: Parser, word: str) -> Builtin:
    """``interval``, ``interval(p)``, or ``interval <fields>`` with (p) only after second."""
    precision = parser.parse_one_modifier(word, "precision", 0, MAX_TIME_PRECISION)
    if precision is not None:
        return Builtin("interval", (precision,))
    first = parser.accept_word(*_INTERVAL_FIELDS)
    if first is None:
        return Builtin("interval")
    fields, last = first, first
    allowed_after = _INTERVAL_FIELDS[first]
    if allowed_after and parser.accept_word("to"):
        last_word = parser.accept_word(*allowed_after)
        if last_word is None:
            options = " or ".join(repr(f) for f in allowed_after)
            raise parser.fail_expected(options)
        last = last_word
        fields = f"{first} to {last}"
    modifiers: tuple[int, ...] = ()
    if last == "second":
        second_precision = parser.parse_one_modifier(
            f"interval {fields}", "precision", 0, MAX_TIME_PRECISION
        )
        if second_precision is not None:
            modifiers = (second_precision,)
    return Builtin(f"interval {fields}", modifiers)


BUILTIN_RULES: dict[str, Callable[[Parser, str], Builtin]] = {
    **{word: _plain for word in _PLAIN_TYPES},
    **{word: _serial for word in _SERIAL_TYPES},
    "double": _double,
    "float": _float,
    "numeric": _numeric, "decimal": _numeric, "dec": _numeric,
    "varchar": _varchar,
    "character": _character, "char": _character,
    "bpchar": _bpchar,
    "bit": _bit,
    "varbit": _varbit,
    "time": _time, "timestamp": _time,
    "timetz": _time_tz, "timestamptz": _time_tz,
    "interval": _interval,
}
