"""Which column type changes PostgreSQL makes without rewriting the table, which ones it makes
losslessly by rewriting it, and which ones lose data (pure).

Each "widen" rule below was proven on the server (tests/integration/test_type_changes.py):
after ``ALTER COLUMN ... TYPE`` the table's and its plain indexes' ``relfilenode`` are unchanged,
no sequential scan happened and the data is intact. PostgreSQL skips the rewrite there because
the new type is binary-compatible (varchar -> text, cidr -> inet) or its length/precision
coercion is a no-op for every old value (the types' support functions say so). A validated
CHECK constraint or an expression or partial index on the column is still re-checked or
rebuilt by a scan under the ACCESS EXCLUSIVE lock: the planner treats that like a rewrite.

The "rewrite" rules are lossless (every old value converts exactly) but write a new copy of
the table and all its indexes under ACCESS EXCLUSIVE: made only with allowTableRewrite.
Anything else (a narrowing, another type, arrays, user-defined types) is refused.
"""
from __future__ import annotations

import enum

from dbtable.column_type import ColumnType
from dbtable.type_grammar import parse_type  # it reads format_type's spelling too
from dbtable.type_words import TypeSyntaxError

# Types of PostgreSQL's own catalog have oids below FirstNormalObjectId.
FIRST_USER_OID = 16384


class TypeChange(enum.Enum):
    WIDEN = "widen"  # no rewrite, no scan (unless a check or expression index needs one)
    REWRITE = "rewrite"  # lossless, rewrites the table and its indexes
    REFUSED = "refused"  # loses data, or a change the operator does not make


_VARCHAR, _TEXT, _NUMERIC, _VARBIT = "character varying", "text", "numeric", "bit varying"
# Types whose one modifier is a precision of fractional seconds (6 is the largest, and the
# same as none: timestamp -> timestamp(6) is a no-op too, proven).
_TEMPORAL = frozenset({"timestamp", "time", "interval", "interval second",
                       "interval day to second", "interval hour to second",
                       "interval minute to second"})
_MAX_PRECISION = 6
# Integer types -> the decimal digits of their largest value (a numeric must hold them all).
_INTEGER_DIGITS = {"smallint": 5, "integer": 10, "bigint": 19}
_INTEGER_RANK = {"smallint": 0, "integer": 1, "bigint": 2}


def classify(old: ColumnType, new: ColumnType) -> TypeChange:
    """How ``old`` (the catalog's type, parsed) becomes ``new`` (the spec's)."""
    if old.user_defined or new.user_defined or old.array or new.array:
        return TypeChange.REFUSED
    if _widens(old, new):
        return TypeChange.WIDEN
    if _rewrites_losslessly(old, new):
        return TypeChange.REWRITE
    return TypeChange.REFUSED


def classify_catalog(old_text: str, old_oid: int | None, new: ColumnType,
                     new_oid: int | None) -> TypeChange:
    """``classify`` for a column as the catalog prints it (format_type): only PostgreSQL's own
    types take part, proven by their oids when the server was asked."""
    if any(oid is not None and oid >= FIRST_USER_OID for oid in (old_oid, new_oid)):
        return TypeChange.REFUSED
    try:
        old = parse_type(old_text)
    except TypeSyntaxError:
        return TypeChange.REFUSED
    return classify(old, new)


def _widens(old: ColumnType, new: ColumnType) -> bool:
    o, n = old.keyword, new.keyword
    if o == _VARCHAR and n == _TEXT or o == _TEXT and n == _VARCHAR and not new.modifiers:
        return True
    if (o, n) == ("cidr", "inet"):
        return True
    if o != n or old.suffix != new.suffix:
        return False
    if o in (_VARCHAR, _VARBIT):
        return _limit_grows(old.modifiers, new.modifiers)
    if o == _NUMERIC:
        return bool(old.modifiers) and (not new.modifiers or (
            new.modifiers[1] == old.modifiers[1] and new.modifiers[0] >= old.modifiers[0]))
    if o in _TEMPORAL:
        return _precision(old) <= _precision(new) and old.modifiers != new.modifiers
    return False


def _limit_grows(old: tuple[int | str, ...], new: tuple[int | str, ...]) -> bool:
    """A length limit removed or raised (never added: that may cut values)."""
    return bool(old) and (not new or int(new[0]) >= int(old[0])) and old != new


def _precision(column_type: ColumnType) -> int:
    return int(column_type.modifiers[0]) if column_type.modifiers else _MAX_PRECISION


def _rewrites_losslessly(old: ColumnType, new: ColumnType) -> bool:
    o, n = old.keyword, new.keyword
    if o in _INTEGER_RANK and n in _INTEGER_RANK:
        return _INTEGER_RANK[n] > _INTEGER_RANK[o]
    if (o, n) == ("real", "double precision"):
        return True
    if o in _INTEGER_DIGITS and n == _NUMERIC:
        return _holds_digits(new, _INTEGER_DIGITS[o], 0)
    if o == n == _NUMERIC and old.modifiers:
        precision, scale = (int(m) for m in old.modifiers)
        return _holds_digits(new, precision - scale, scale)
    return False


def _holds_digits(numeric: ColumnType, whole: int, fraction: int) -> bool:
    """Whether ``numeric`` holds every value with ``whole`` digits before the point and
    ``fraction`` after it (unconstrained numeric holds all)."""
    if not numeric.modifiers:
        return True
    precision, scale = (int(m) for m in numeric.modifiers)
    return scale >= max(fraction, 0) and precision - scale >= whole
