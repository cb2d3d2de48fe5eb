"""The column-type grammar's parser, ``parse_type`` (pure; see dbtable/types.py for the whole
picture; the CRD's coarse admission pattern, generated from the same limits, is
dbtable/type_admission.py)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from dbtable.column_type import ColumnType, quote_identifier
from dbtable.names import MAX_IDENTIFIER_LENGTH
from dbtable.type_builtins import BUILTIN_RULES, check_range
from dbtable.type_tokens import Token, tokenize
from dbtable.type_words import (CLAUSE_WORDS, MAX_ARRAY_BOUND, MAX_ARRAY_DIMENSIONS,
                                MAX_TYPE_LENGTH, MAX_USER_TYPE_MODIFIERS, RESERVED_KEY_WORDS,
                                TypeSyntaxError)

_Item = TypeVar("_Item")


class Parser:
    """Recursive descent over the tokens; each ``_parse_*`` method is one grammar rule."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.position = 0

    # token helpers

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def peek_word(self) -> str | None:
        token = self.peek()
        return token.text.lower() if token is not None and token.kind == "word" else None

    def advance(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def accept_word(self, *words: str) -> str | None:
        word = self.peek_word()
        if word in words:
            self.position += 1
            return word
        return None

    def consumed(self) -> str:
        """The text read so far, for messages that say where the problem is."""
        if self.position == 0:
            return ""
        return " ".join(self.text[: self.tokens[self.position - 1].end].split())

    def found(self) -> str:
        token = self.peek()
        return "the end of the text" if token is None else repr(token.text)

    def fail_expected(self, expected: str) -> TypeSyntaxError:
        if self.peek() is None:
            return TypeSyntaxError(f"is incomplete: {expected} must follow {self.consumed()!r}")
        return TypeSyntaxError(f"has {self.found()} after {self.consumed()!r} where {expected} must follow")

    # rules

    def parse(self) -> ColumnType:
        first = self.peek()
        if first is None or first.kind != "word":
            raise TypeSyntaxError(f"must start with a type name, not {self.found()}")
        word = first.text.lower()
        rule = BUILTIN_RULES.get(word)
        if rule is None:
            return self._parse_user_defined()
        self.advance()
        builtin = rule(self, word)
        is_serial = builtin.catalog_keyword is not None
        dimensions = self._parse_array_brackets()
        if dimensions and is_serial:
            raise TypeSyntaxError(
                f"asks for an array of {word}, which PostgreSQL does not implement; "
                f"use {builtin.catalog_keyword}[] instead"
            )
        self._expect_end()
        catalog = builtin.catalog_keyword or builtin.keyword
        if builtin.modifiers:
            catalog += "(" + ",".join(str(m) for m in builtin.modifiers) + ")"
        if builtin.suffix:
            catalog += " " + builtin.suffix
        if dimensions:
            catalog += "[]"
        return ColumnType(
            canonical=catalog,
            keyword=builtin.keyword,
            modifiers=builtin.modifiers,
            suffix=builtin.suffix,
            array=dimensions > 0,
        )

    def _parse_user_defined(self) -> ColumnType:
        token = self.advance()
        *schema_part, name_part = token.text.lower().split(".")
        for part in (*schema_part, name_part):
            if len(part) > MAX_IDENTIFIER_LENGTH:
                raise TypeSyntaxError(
                    f"has the name {part[:20]!r}... of {len(part)} characters; "
                    f"PostgreSQL names have at most {MAX_IDENTIFIER_LENGTH}"
                )
            if part in RESERVED_KEY_WORDS:
                raise TypeSyntaxError(
                    f"uses the SQL key word {part!r} as a type or schema name, which is not allowed"
                )
            if part in CLAUSE_WORDS:
                raise TypeSyntaxError(
                    f"uses {part!r} as a type or schema name, but {part!r} belongs to a "
                    "column constraint or option, which a column type must not contain"
                )
        schema = schema_part[0] if schema_part else None
        if schema == "pg_catalog":
            raise TypeSyntaxError(
                "names a type in pg_catalog; write built-in types without the schema, e.g. 'integer'"
            )
        modifiers = self._parse_user_modifiers(token.text)
        dimensions = self._parse_array_brackets()
        self._expect_end()
        canonical = quote_identifier(name_part)
        if schema is not None:
            canonical = quote_identifier(schema) + "." + canonical
        if modifiers:
            canonical += "(" + ",".join(str(m) for m in modifiers) + ")"
        if dimensions:
            canonical += "[]"
        return ColumnType(canonical=canonical, name=name_part, schema=schema,
                          modifiers=modifiers, array=dimensions > 0)

    def _parse_user_modifiers(self, type_name: str) -> tuple[int | str, ...]:
        """``(1536)`` or ``(Point, 4326)``: numbers and plain names, which PostgreSQL hands to the
        type's typmod_in; whether the type takes them, and these, only the server can say."""
        values = self._parenthesized(self._user_modifier)
        if len(values) > MAX_USER_TYPE_MODIFIERS:
            raise TypeSyntaxError(
                f"gives {type_name!r} {len(values)} modifiers; at most "
                f"{MAX_USER_TYPE_MODIFIERS} are allowed")
        return tuple(values)

    def _user_modifier(self) -> int | str:
        token = self.peek()
        if token is not None and token.kind == "number":
            return int(self.advance().text)
        if token is not None and token.kind == "word" and "." not in token.text:
            return self._modifier_name(self.advance().text)
        raise self.fail_expected("a number or a name")

    def _number(self) -> int:
        token = self.peek()
        if token is None or token.kind != "number":
            raise self.fail_expected("a number")
        return int(self.advance().text)

    def _parenthesized(self, item: Callable[[], _Item]) -> list[_Item]:
        """``(item[, item...])`` when a ``(`` follows, each read by ``item``; else nothing."""
        token = self.peek()
        if token is None or token.kind != "(":
            return []
        self.advance()
        values = [item()]
        while (token := self.peek()) is not None and token.kind == ",":
            self.advance()
            values.append(item())
        if token is not None and token.kind == ")":
            self.advance()
            return values
        if token is None:
            raise TypeSyntaxError(f"is missing a closing ')' after {self.consumed()!r}")
        raise self.fail_expected("',' or a closing ')'")

    @staticmethod
    def _modifier_name(text: str) -> str:
        name = text.lower()
        if len(name) > MAX_IDENTIFIER_LENGTH:
            raise TypeSyntaxError(
                f"has the modifier {name[:20]!r}... of {len(name)} characters; "
                f"PostgreSQL names have at most {MAX_IDENTIFIER_LENGTH}")
        if name in RESERVED_KEY_WORDS or name in CLAUSE_WORDS:
            raise TypeSyntaxError(
                f"uses the key word {name!r} as a type modifier; a modifier is a number or "
                "a plain name such as Point")
        return name

    def _parse_array_brackets(self) -> int:
        dimensions = 0
        while (token := self.peek()) is not None and token.kind == "[":
            self.advance()
            token = self.peek()
            if token is not None and token.kind == "number":
                bound = int(self.advance().text)
                if not 1 <= bound <= MAX_ARRAY_BOUND:
                    raise TypeSyntaxError(
                        f"has the array size {bound}, which must be between 1 and {MAX_ARRAY_BOUND}"
                    )
            token = self.peek()
            if token is None or token.kind != "]":
                raise self.fail_expected("a closing ']'")
            self.advance()
            dimensions += 1
            if dimensions > MAX_ARRAY_DIMENSIONS:
                raise TypeSyntaxError(
                    f"has more than {MAX_ARRAY_DIMENSIONS} array dimensions, more than PostgreSQL supports"
                )
        return dimensions

    def _expect_end(self) -> None:
        token = self.peek()
        if token is None:
            return
        if token.kind == ",":
            raise TypeSyntaxError(
                f"has ',' after {self.consumed()!r}; commas belong only inside a modifier list "
                "such as numeric(10,2)"
            )
        if token.kind == "(":
            raise TypeSyntaxError(f"has modifiers in a place where {self.consumed()!r} takes none")
        raise TypeSyntaxError(
            f"has {token.text!r} after the type {self.consumed()!r}; only a type name with "
            "optional modifiers and array brackets is allowed, not constraints, defaults or other clauses"
        )

    def parse_modifiers(self, label: str, names: tuple[str, ...]) -> tuple[int, ...]:
        """An optional ``(n[, n...])`` list with at most ``len(names)`` entries."""
        values = self._parenthesized(self._number)
        if len(values) > len(names):
            takes = " and ".join(names)
            plural = "modifier" if len(names) == 1 else "modifiers"
            raise TypeSyntaxError(
                f"gives {label} {len(values)} modifiers, but it takes at most {len(names)} {plural} ({takes})"
            )
        return tuple(values)

    def parse_one_modifier(self, label: str, what: str, low: int, high: int) -> int | None:
        values = self.parse_modifiers(label, (what,))
        if not values:
            return None
        check_range(label, what, values[0], low, high)
        return values[0]

    def parse_time_zone(self, label: str) -> str:
        """``with time zone`` / ``without time zone``; format_type spells out the default."""
        choice = self.accept_word("with", "without")
        if choice is None:
            return "without time zone"
        if self.accept_word("time") is None or self.accept_word("zone") is None:
            raise TypeSyntaxError(
                f"has an incomplete time zone clause in {self.consumed()!r}; "
                f"write '{label} with time zone' or '{label} without time zone'"
            )
        return f"{choice} time zone"


def parse_type(text: str) -> ColumnType:
    """Parse a column type as a user writes it; raise TypeSyntaxError for anything else."""
    if not isinstance(text, str):
        raise TypeSyntaxError(f"must be text, not {type(text).__name__}")
    if len(text) > MAX_TYPE_LENGTH:
        raise TypeSyntaxError(f"is {len(text)} characters long; at most {MAX_TYPE_LENGTH} are allowed")
    stripped = text.strip(" \t")
    if not stripped:
        raise TypeSyntaxError("is empty; name a type such as 'integer' or 'varchar(50)'")
    return Parser(stripped, tokenize(stripped)).parse()
