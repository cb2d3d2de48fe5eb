"""The column-type grammar's tokens: words, numbers and ``( ) [ ] ,``; every other character
is refused by name (quotes, ';', comments, line breaks, non-ASCII). Pure."""
from __future__ import annotations

import re
from typing import NamedTuple

from dbtable.type_words import MAX_NUMBER_DIGITS, WORD_RE, TypeSyntaxError

class Token(NamedTuple):
    kind: str  # "word" (maybe schema-qualified), "number" or a punctuation character
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split into words, numbers and ``( ) [ ] ,``; refuse every other character by name."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
        elif c in "()[],":
            tokens.append(Token(c, c, i, i + 1))
            i += 1
        elif c.isascii() and (c.isalpha() or c == "_"):
            end = WORD_RE.match(text, i).end()  # type: ignore[union-attr]
            if end < n and text[end] == ".":
                second = WORD_RE.match(text, end + 1)
                if second is None:
                    raise TypeSyntaxError(
                        f"has {text[i:end + 1]!r} with no type name after the dot; "
                        "write schema.type without spaces"
                    )
                end = second.end()
                if end < n and text[end] == ".":
                    dotted = re.match(r"[A-Za-z0-9_$.]*", text[i:])
                    raise TypeSyntaxError(
                        f"has {dotted.group() if dotted else text[i:]!r}; a type name may be "
                        "qualified by a schema only (schema.type), not by a database"
                    )
            tokens.append(Token("word", text[i:end], i, end))
            i = end
        elif c.isascii() and c.isdigit() or (c == "-" and text[i + 1 : i + 2].isdigit()):
            end = i + 1
            while end < n and text[end].isascii() and text[end].isdigit():
                end += 1
            if end < n and (text[end].isalnum() or text[end] in "_$."):
                junk = re.match(r"-?[^\s()\[\],]*", text[i:])
                raise TypeSyntaxError(
                    f"has {junk.group() if junk else text[i:]!r}, which is not a plain decimal number"
                )
            digits = text[i:end].lstrip("-")
            if len(digits) > MAX_NUMBER_DIGITS:
                raise TypeSyntaxError(f"has the number {text[i:end]}, which is far too large")
            tokens.append(Token("number", text[i:end], i, end))
            i = end
        else:
            raise TypeSyntaxError(_bad_character_message(text, i))
    return tokens


def _bad_character_message(text: str, i: int) -> str:
    c = text[i]
    pair = text[i : i + 2]
    if pair in ("--", "/*", "*/"):
        return "must not contain SQL comments (--, /* */)"
    if c in "'\"`":
        return "must not contain quotes; write type names without quoting them"
    if c == ";":
        return "must not contain ';'; a column type is a single type name, not a statement"
    if c == ".":
        return "has a '.' that is not part of a schema.type name; write schema.type without spaces"
    if c in "\r\n":
        return "must be on one line"
    if not c.isascii():
        return (
            f"contains the non-ASCII character {c!r} (U+{ord(c):04X}); "
            "only ASCII letters, digits, spaces and ( ) [ ] , are allowed"
        )
    if not c.isprintable():
        return f"contains the control character U+{ord(c):04X}"
    return f"contains {c!r}, which cannot appear in a column type"
