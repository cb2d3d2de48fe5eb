"""The CRD's coarse admission pattern for a column type, generated from the same limits as the
grammar's parser (pure; see dbtable/types.py for the whole picture). Apart from
dbtable/type_grammar.py because it is a regex for the API server, not the parser: it only keeps
out what can never be a type, and parse_type decides the rest."""
from __future__ import annotations

from dbtable.names import MAX_IDENTIFIER_LENGTH
from dbtable.type_words import MAX_ARRAY_DIMENSIONS, MAX_NUMBER_DIGITS, MAX_USER_TYPE_MODIFIERS


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def _admission_pattern() -> str:
    """A coarse regex for the CRD, so the API server refuses junk before the operator sees it.

    It must stay within what both Go's RE2 (the API server) and Python's re understand: no
    lookaround, no backreferences, no \\z. Case-insensitivity is spelled out as [Aa] classes
    rather than (?i), because (?i) lets the Kelvin sign match 'k' in both engines. The exact
    grammar (which words follow which, the ranges) is parse_type's job; this only keeps out
    what can never be a type: quotes, semicolons, comments, line breaks, clause words.
    """
    identifier = f"[A-Za-z_][A-Za-z0-9_$]{{0,{MAX_IDENTIFIER_LENGTH - 1}}}"
    name = f"{identifier}(?:\\.{identifier})?"
    follow_words = (
        "precision", "varying", "without", "with", "time", "zone", "to",
        "year", "month", "day", "hour", "minute", "second",
    )
    word = "(?:" + "|".join(_any_case(w) for w in follow_words) + ")"
    space, gap = "[ \t]*", "[ \t]+"
    number = f"-?[0-9]{{1,{MAX_NUMBER_DIGITS}}}"
    item = f"(?:{number}|{identifier})"
    modifiers = (f"\\({space}{item}{space}"
                 f"(?:,{space}{item}{space}){{0,{MAX_USER_TYPE_MODIFIERS - 1}}}\\)")
    brackets = f"(?:{space}\\[{space}(?:[0-9]{{1,{MAX_NUMBER_DIGITS}}}{space})?\\]){{0,{MAX_ARRAY_DIMENSIONS}}}"
    return (
        f"^{space}{name}(?:{gap}{word}){{0,3}}"
        f"(?:{space}{modifiers})?"
        f"(?:{space}{word}(?:{gap}{word}){{0,2}})?"
        f"{brackets}{space}$"
    )


ADMISSION_PATTERN: str = _admission_pattern()
