"""Foreign keys as values: what the spec asks for and what the catalog holds (pure).

A foreign key of the operator's own is known by a marker in the constraint's comment, whatever
its name: names can be given in the spec, so a prefix alone cannot tell ours from a hand-made
one. Generated names carry the ``dbt_fk_`` prefix as well, so people can see them for ours.
"""
from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

FK_PREFIX = "dbt_fk_"
# The whole comment of a constraint the operator created (or took over because the spec names
# it). Only constraints carrying exactly this comment are ever dropped or replaced.
FK_MARKER = '{"managedBy": "database-table-operator"}'
MAX_NAME_BYTES = 63


class FkAction(str, enum.Enum):
    """``onDelete`` / ``onUpdate``: what happens to referencing rows."""

    NO_ACTION = "NoAction"
    RESTRICT = "Restrict"
    CASCADE = "Cascade"
    SET_NULL = "SetNull"
    SET_DEFAULT = "SetDefault"

    @property
    def keyword(self) -> str:
        """The SQL words (a constant of this module, never user text)."""
        return _KEYWORDS[self]

    @classmethod
    def from_catalog(cls, code: str) -> "FkAction":
        """pg_constraint.confdeltype / confupdtype (a, r, c, n, d)."""
        return _BY_CODE[code]


_KEYWORDS = {FkAction.NO_ACTION: "NO ACTION", FkAction.RESTRICT: "RESTRICT",
             FkAction.CASCADE: "CASCADE", FkAction.SET_NULL: "SET NULL",
             FkAction.SET_DEFAULT: "SET DEFAULT"}
_BY_CODE = {"a": FkAction.NO_ACTION, "r": FkAction.RESTRICT, "c": FkAction.CASCADE,
            "n": FkAction.SET_NULL, "d": FkAction.SET_DEFAULT}


def foreign_key_name(columns: tuple[str, ...], ref_table: str,
                     ref_columns: tuple[str, ...]) -> str:
    """The generated name: prefix, the columns (cut to fit), and a digest of what the key
    links, so it stays the same when only onDelete/onUpdate change (the key is replaced under
    the same name) and differs for two keys over the same columns. At most 63 bytes."""
    digest = hashlib.sha256("\0".join((",".join(columns), ref_table, ",".join(ref_columns)))
                            .encode()).hexdigest()[:8]
    suffix = f"_{digest}"
    room = MAX_NAME_BYTES - len(FK_PREFIX) - len(suffix)
    stem = "_".join(columns).encode()[:room].decode(errors="ignore")
    return f"{FK_PREFIX}{stem}{suffix}"


@dataclass(frozen=True)
class DesiredForeignKey:
    """One entry of ``spec.foreignKeys``: names folded, every column declared."""

    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: FkAction = FkAction.NO_ACTION
    on_update: FkAction = FkAction.NO_ACTION
    index: int = 0  # its position in spec.foreignKeys, for the field of a refusal

    @property
    def field(self) -> str:
        return f"spec.foreignKeys[{self.index}]"

    def describe(self) -> str:
        return (f"({', '.join(self.columns)}) references {self.ref_table} "
                f"({', '.join(self.ref_columns)}) on delete {self.on_delete.keyword.lower()}"
                + ("" if self.on_update is FkAction.NO_ACTION
                   else f" on update {self.on_update.keyword.lower()}"))


@dataclass(frozen=True)
class ActualForeignKey:
    """A foreign key of the table as pg_constraint holds it, anyone's."""

    name: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: FkAction
    on_update: FkAction
    validated: bool
    managed: bool  # carries the operator's marker: only these are ever dropped


@dataclass(frozen=True)
class ReferencedTable:
    """What a foreign key needs of the table it references: its columns, and the column sets
    of its primary key and of its valid, immediate, plain unique indexes (any of which
    PostgreSQL accepts as the referenced key)."""

    name: str
    columns: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]

    def has_key(self, columns: tuple[str, ...]) -> bool:
        return any(len(key) == len(columns) and set(key) == set(columns) for key in self.keys)
