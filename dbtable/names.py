"""PostgreSQL identifiers as this operator accepts them.

Names follow PostgreSQL's rule for unquoted identifiers (ASCII letters, digits, ``_`` and ``$``,
not starting with a digit or ``$``), at most 63 bytes (NAMEDATALEN - 1), and are folded to lower
case exactly as PostgreSQL folds an unquoted name: ``WEBSITE_USERS`` becomes ``website_users``.
In SQL they are always quoted with ``psycopg2.sql.Identifier``, so a reserved word such as
``user`` or ``order`` is a valid name (it is quoted, never spliced in).
"""
from __future__ import annotations

import re

MAX_IDENTIFIER_LENGTH = 63
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_$]*"  # one unquoted identifier, unanchored
IDENTIFIER_PATTERN = f"^{IDENTIFIER}$"  # the same, as crd.yaml's pattern for tableName
_IDENTIFIER = re.compile(IDENTIFIER)


class InvalidName(ValueError):
    """The text is not an identifier this operator accepts; str() says why."""


def fold_identifier(text: object) -> str:
    """Return the identifier folded to lower case, or raise InvalidName explaining why not."""
    if not isinstance(text, str):
        raise InvalidName(f"must be a string, got {describe_type(text)}")
    if not text:
        raise InvalidName("must not be empty")
    # surrogatepass: a lone surrogate (YAML's "\ud800") has no UTF-8 form, and must end in
    # the invalid-name error below rather than a UnicodeEncodeError.
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_IDENTIFIER_LENGTH:
        raise InvalidName(
            f"is {size} bytes long; PostgreSQL allows at most {MAX_IDENTIFIER_LENGTH}")
    if not _IDENTIFIER.fullmatch(text):
        raise InvalidName(
            f"{text!r} is not a valid name: use ASCII letters, digits, '_' and '$', "
            "starting with a letter or '_'")
    return text.lower()


def describe_type(value: object) -> str:
    """Name a YAML value's type the way a manifest author thinks of it."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list",
            dict: "a map"}.get(type(value), type(value).__name__)
