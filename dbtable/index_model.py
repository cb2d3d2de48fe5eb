"""Indexes as the spec wants them and as the catalog has them, and how the operator names and
marks its own (pure).

An index is the operator's own when its name starts with ``dbt_ix_`` (the names it generates,
and the temporary names it builds under) or when its comment is the operator's index marker
(a user-named index, written by the operator right after building it). Neither depends on
memory: both are in the catalog. Every other index is someone else's: reported, never dropped.

Index names share the schema's namespace with tables, so a generated name carries a digest of
the table's name as well as of the definition: two tables with an index on ``email`` get two
names.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

INDEX_PREFIX = "dbt_ix_"
RESERVED_PREFIX = "dbt_"  # every name the operator derives starts with it; users' names may not
BUILD_INFIX = "build_"
INDEX_MARKER = '{"managedBy": "database-table-operator", "kind": "index"}'
METHODS = ("btree", "hash", "gin", "gist", "brin")
MAX_NAME_BYTES = 63
MAX_INDEX_COLUMNS = 32  # PostgreSQL's INDEX_MAX_KEYS


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _truncate(text: str, size: int) -> str:
    """At most ``size`` bytes of UTF-8, never cutting a character in two."""
    return text.encode("utf-8", "surrogatepass")[:size].decode("utf-8", errors="ignore")


def generated_index_name(table: str, columns: tuple[str, ...], method: str,
                         unique: bool) -> str:
    """``dbt_ix_<columns>_<digest>``, within 63 bytes: the digest covers the table and the
    whole definition, so a changed definition gets a new name (built before the old one is
    dropped) and two tables never share one."""
    digest = _digest(table, method, "unique" if unique else "", *columns)[:8]
    room = MAX_NAME_BYTES - len(INDEX_PREFIX) - len(digest) - 1
    return f"{INDEX_PREFIX}{_truncate('_'.join(columns), room)}_{digest}"


def build_name(table: str, name: str) -> str:
    """Where a user-named index is built before it takes its name: the operator's by prefix,
    so a crash between the build and the marker leaves nothing that looks hand-made."""
    return f"{INDEX_PREFIX}{BUILD_INFIX}{_digest(table, name)[:12]}"


@dataclass(frozen=True)
class DesiredIndex:
    """One entry of ``spec.indexes``; ``name`` is the user's (folded) or the generated one."""

    name: str
    columns: tuple[str, ...]
    method: str = "btree"
    unique: bool = False
    named: bool = False  # the user gave the name
    position: int = 0  # in spec.indexes, for messages

    @property
    def field(self) -> str:
        return f"spec.indexes[{self.position}]"

    def describe(self) -> str:
        return (f"{'UNIQUE ' if self.unique else ''}{self.method} "
                f"({', '.join(self.columns)})")


@dataclass(frozen=True)
class ActualIndex:
    """An index of the table as the catalog has it (constraints' indexes excluded: those are
    the primary key and unique constraints, shown apart)."""

    name: str
    columns: tuple[str, ...]  # a column's name, or an expression's text
    method: str
    unique: bool
    valid: bool
    comment: str | None = None
    expressions: bool = False  # some key is an expression, not a column
    partial: bool = False  # has a WHERE predicate

    @property
    def marked(self) -> bool:
        return self.comment is not None and INDEX_MARKER in self.comment.splitlines()

    @property
    def managed(self) -> bool:
        return self.marked or self.name.startswith(INDEX_PREFIX)

    def same_definition(self, wanted: DesiredIndex, renamed: dict[str, str]) -> bool:
        """Keys, method and uniqueness equal, after the plan's column renames (PostgreSQL
        renames a column inside its indexes itself; the plan must not rebuild for that)."""
        columns = tuple(renamed.get(c, c) for c in self.columns)
        return (not self.expressions and not self.partial and columns == wanted.columns
                and self.method == wanted.method and self.unique == wanted.unique)

    def describe(self) -> str:
        return (f"{'UNIQUE ' if self.unique else ''}{self.method} "
                f"({', '.join(self.columns)})")
