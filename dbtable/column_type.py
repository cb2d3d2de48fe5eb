"""A parsed column type, ``ColumnType``: what goes into DDL and what the catalog prints back.

The user's text is never copied into SQL: ``ColumnType.sql()`` is rebuilt from the parsed
structure, with keywords from this module's own whitelist, modifiers as ``int`` and
user-defined type names through ``sql.Identifier``. ``canonical`` is what PostgreSQL's
``format_type(atttypid, atttypmod)`` prints for a column of a built-in type (pure).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg2 import sql

from dbtable.names import MAX_IDENTIFIER_LENGTH
from dbtable.type_words import (CLAUSE_WORDS, MODIFIER_NAME_RE, RESERVED_KEY_WORDS,
                                SAFE_IDENTIFIER_RE)

# Every piece of SQL text a ColumnType may emit. ColumnType checks its fields against these
# on construction, so sql() is safe even for a ColumnType built by hand.
_DDL_KEYWORDS = frozenset(
    """
    smallint integer bigint smallserial serial bigserial real money boolean text bytea date
    uuid json jsonb xml inet cidr macaddr macaddr8 tsvector tsquery point line lseg box path
    polygon circle oid numeric bpchar character bit time timestamp interval
    """.split()
) | frozenset(
    {"double precision", "character varying", "bit varying"}
    | {f"interval {fields}" for fields in (
        "year", "month", "day", "hour", "minute", "second", "year to month", "day to hour",
        "day to minute", "day to second", "hour to minute", "hour to second",
        "minute to second",
    )}
)
_DDL_SUFFIXES = frozenset({"", "with time zone", "without time zone"})


@dataclass(frozen=True)
class ColumnType:
    """A parsed column type: what to write in DDL and what the catalog will say back.

    Built-in types carry ``keyword`` (DDL text from this module's whitelist), ``modifiers``
    and ``suffix``; user-defined types carry ``name`` and maybe ``schema`` (both folded to
    lower case), and maybe ``modifiers``: integers and names, as PostgreSQL hands them to
    the type's typmod_in function (``geometry(Point,4326)``: ``point`` and ``4326``). ``array`` says whether any ``[]`` followed: PostgreSQL ignores array sizes
    and the number of dimensions alike (``int[3][4]`` is just ``integer[]``), so they are not
    kept, and two spellings of the same type compare equal.
    """

    canonical: str
    keyword: str = ""
    modifiers: tuple[int | str, ...] = ()
    suffix: str = ""
    name: str | None = None
    schema: str | None = None
    array: bool = False

    def __post_init__(self) -> None:
        if self.name is None:
            if self.keyword not in _DDL_KEYWORDS or self.suffix not in _DDL_SUFFIXES:
                raise ValueError(f"not a whitelisted built-in type: {self.keyword!r} {self.suffix!r}")
            if not all(type(m) is int for m in self.modifiers):
                raise ValueError("type modifiers must be int")
        elif self.keyword or self.suffix:
            raise ValueError("a user-defined type has no keyword or suffix")
        elif not all(type(m) is int or (type(m) is str and is_modifier_name(m))
                     for m in self.modifiers):
            raise ValueError("user-defined type modifiers must be int or lower-case names")

    @property
    def user_defined(self) -> bool:
        return self.name is not None

    @property
    def lookup(self) -> str:
        """The type without modifiers, for the server's ``to_regtype(%s)`` (a parameter, never
        SQL text): modifiers are checked by the type's own typmod_in (see ``typmod_input``)."""
        if self.name is None:
            return self.canonical
        text = quote_identifier(self.name)
        if self.schema is not None:
            text = quote_identifier(self.schema) + "." + text
        return text + ("[]" if self.array else "")

    @property
    def typmod_input(self) -> tuple[str, ...]:
        """A user-defined type's modifiers as PostgreSQL passes them to typmod_in (cstring[])."""
        return tuple(str(m) for m in self.modifiers) if self.name is not None else ()

    def sql(self) -> sql.Composable:
        """The type as it goes into DDL: whitelisted constants, ``int`` literals and identifiers."""
        parts: list[sql.Composable] = []
        if self.name is not None:
            names = (self.schema, self.name) if self.schema is not None else (self.name,)
            parts.append(sql.Identifier(*names))
            parts.extend(_modifier_list(self.modifiers))
        else:
            parts.append(sql.SQL(self.keyword))
            if self.modifiers:
                parts.append(sql.SQL("("))
                for index, modifier in enumerate(self.modifiers):
                    if index:
                        parts.append(sql.SQL(","))
                    parts.append(sql.Literal(modifier))
                parts.append(sql.SQL(")"))
            if self.suffix:
                parts.append(sql.SQL(" " + self.suffix))
        if self.array:
            parts.append(sql.SQL("[]"))
        return sql.Composed(parts)

    def matches(self, catalog_type: str) -> bool:
        """Whether a column whose ``format_type(atttypid, atttypmod)`` is ``catalog_type`` has this type.

        This is the spelling-only approximation for when no server can be asked (the offline
        plan command); with a server, the planner compares type oids and typmods instead
        (dbtable/resolve.py), which is exact. format_type qualifies a user-defined type with
        its schema only when the schema is not on the search_path, so ``public.mood`` may come
        back as ``mood`` and ``mood`` as ``app.mood``: a missing schema on either side matches.
        A type's typmod_out prints its modifiers its own way (``geometry(Point,4326)``), so
        they are compared folded to lower case.
        """
        if catalog_type == self.canonical:
            return True
        if self.name is None:
            return False
        parsed = _parse_catalog_name(catalog_type)
        if parsed is None:
            return False
        schema, name, modifiers, is_array = parsed
        if name != self.name or is_array != self.array:
            return False
        if modifiers.lower() != ",".join(str(m) for m in self.modifiers):
            return False
        return schema is None or self.schema is None or schema == self.schema


def is_modifier_name(text: str) -> bool:
    return (bool(MODIFIER_NAME_RE.fullmatch(text)) and len(text) <= MAX_IDENTIFIER_LENGTH
            and text not in RESERVED_KEY_WORDS and text not in CLAUSE_WORDS)


def _modifier_list(modifiers: tuple[int | str, ...]) -> list[sql.Composable]:
    """``(4326)`` or ``(point,4326)``: ints as literals, names quoted (folded, so the same
    name PostgreSQL would pass for them unquoted)."""
    if not modifiers:
        return []
    items = [sql.Literal(m) if type(m) is int else sql.Identifier(str(m)) for m in modifiers]
    return [sql.SQL("("), sql.SQL(",").join(items), sql.SQL(")")]


def quote_identifier(name: str) -> str:
    """Quote a name the way PostgreSQL's quote_identifier() (and so format_type) does."""
    if SAFE_IDENTIFIER_RE.fullmatch(name) and name not in RESERVED_KEY_WORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


_CATALOG_PART = r'(?:[a-z_][a-z0-9_]*|"(?:[^"]|"")+")'
_CATALOG_NAME_RE = re.compile(
    rf"(?:({_CATALOG_PART})\.)?({_CATALOG_PART})(?:\(([^()]*)\))?(\[\])?")


def _parse_catalog_name(text: str) -> tuple[str | None, str, str, bool] | None:
    """(schema, name, modifiers without spaces, is an array) of format_type's output."""
    match = _CATALOG_NAME_RE.fullmatch(text)
    if match is None:
        return None
    schema, name, modifiers, brackets = match.groups()
    return ((_unquote(schema) if schema else None), _unquote(name),
            "".join((modifiers or "").split()), brackets is not None)


def _unquote(part: str) -> str:
    if part.startswith('"'):
        return part[1:-1].replace('""', '"')
    return part
