"""Everything a reconcile reads before planning, in one query (an edge's SQL and its parsing).

Issue 10: each statement is a round trip taken in one of the few handler threads, and its
Python holds the GIL the Kopf event loop needs. A reconcile once read its table in six queries
and then, one by one, the table holding the desired name, what else might hold it, the types
of the spec, the holders of the index names and the tables its foreign keys reference. Each of
those depends only on the spec and the resource, so ``SNAPSHOT`` asks for all of them as the
values of one SELECT, prepared once per session (its plan costs more than its run); the caller
sends it in the same round trip as its locks
(dbtable/reconcile.py), so everything is read under them, as before. What depends on the
catalog's answer (counting NULLs, duplicates or orphans, the re-checks of a type change) is
still read afterwards, and only when the plan needs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbtable.batch import Prepared
from dbtable.catalog import (BLOCKER_KIND, TABLES_JSON, blocker_named, tables_found,
                             tables_params)
from dbtable.catalog_indexes import HOLDERS_JSON
from dbtable.fk_catalog import REFERENCED_JSON, referenced_found
from dbtable.fk_model import ReferencedTable
from dbtable.model import ActualTable, DesiredTable, Owner
from dbtable.plan_foreign_keys import referenced_tables
from dbtable.plan_uniques import wanted_names
from dbtable.resolve import LOOKUP_JSON, type_names

SNAPSHOT = Prepared(
    "dbt_snapshot",
    "SELECT " + ",\n       ".join((TABLES_JSON, BLOCKER_KIND, LOOKUP_JSON, HOLDERS_JSON,
                                    REFERENCED_JSON)),
    (("schema", "name"), ("name", "name"), ("marker", "text"), ("types", "text[]"),
     ("holder_names", "text[]"), ("referenced", "text[]")))


@dataclass(frozen=True)
class Snapshot:
    """What the catalog said, in one statement, about a resource's table and its spec."""

    owned: ActualTable | None  # the table the resource's marker is on
    named: ActualTable | None  # the table called the spec's name (``owned`` if it is that)
    blocker: str | None  # what other than a table holds the spec's name
    types: tuple[tuple[Any, ...], ...]  # resolve.LOOKUP_JSON's rows for type_names(spec)
    holders: tuple[tuple[Any, ...], ...]  # catalog_indexes.HOLDERS_JSON's rows
    references: tuple[tuple[str, ReferencedTable | None], ...]  # the spec's referenced tables


def snapshot_params(schema: str, owner: Owner, desired: DesiredTable) -> dict[str, Any]:
    """SNAPSHOT's parameters (every name a parameter, nothing formatted in)."""
    holder_names = sorted({i.name for i in desired.indexes} | set(wanted_names(desired)))
    return {**tables_params(schema, owner, desired.name), "types": type_names(desired),
            "holder_names": holder_names,
            "referenced": sorted(set(referenced_tables(desired)))}


def parse_snapshot(row: tuple[Any, ...], schema: str, owner: Owner,
                   desired: DesiredTable) -> Snapshot:
    """The one row of SNAPSHOT's answer (psycopg2 has decoded its JSON)."""
    tables, blocker_kind, types, holders, references = row
    owned, named = tables_found(tables, schema, owner=owner, name=desired.name)
    return Snapshot(owned=owned, named=named, blocker=blocker_named(blocker_kind, desired.name),
                    types=tuple(tuple(t) for t in types),
                    holders=tuple(tuple(h) for h in holders),
                    references=referenced_found(references, referenced_tables(desired)))
