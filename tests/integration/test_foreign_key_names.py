"""A foreign key's name on a real PostgreSQL. A given name held by another constraint of its
table (the primary key, a check or unique constraint made by hand): refused as a Conflict naming
the field and the holder, planned before anything is applied, the catalog byte-for-byte as it
was. A generated name that a rename moved: the very constraint renamed in place."""
from __future__ import annotations

from typing import Any

import pytest

from dbtable.catalog import read_managed_tables
from dbtable.database import DatabaseSettings
from dbtable.plan import RefusalReason
from dbtable.reconcile import Outcome
from tests.support.foreign_key_tables import (CUSTOMERS, CUSTOMERS_OWNER, FK, ORDERS, converge,
                                              customers, keys, orders, run, snapshot)

pytestmark = pytest.mark.integration
__all__ = ["customers", "orders"]  # the fixtures, from tests/support/foreign_key_tables.py


def _relations(conn: Any, settings: DatabaseSettings) -> list[tuple]:
    return run(conn, settings, "SELECT c.relname, c.oid::bigint, c.relkind FROM pg_class c JOIN"
                               " pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s"
                               " ORDER BY 1", settings.schema)


def _refused(conn: Any, settings: DatabaseSettings, spec: dict[str, Any], holder: str,
             state: Any = snapshot) -> None:
    before = state(conn, settings)
    (outcome,) = converge(conn, settings, spec)
    conflicts = [r for r in outcome.plan.refusals if r.reason is RefusalReason.CONFLICT]
    assert [r.field for r in conflicts] == ["spec.foreignKeys[1].name"], outcome.plan.refusals
    assert holder in conflicts[0].message, conflicts[0].message
    assert outcome.statements == ()
    assert state(conn, settings) == before


@pytest.mark.parametrize("name, made_by_hand, holder", [
    ("ORDERS_PKEY", None, "the primary key orders_pkey"),
    ("note_check", "ADD CONSTRAINT note_check CHECK (note <> '')",
     "the check constraint note_check"),
    ("note_once", "ADD CONSTRAINT note_once UNIQUE (note)", "the unique constraint note_once"),
])
def test_a_name_held_by_another_constraint_of_the_table_is_a_conflict(
        conn: Any, settings: DatabaseSettings, orders: None, name: str,
        made_by_hand: str | None, holder: str) -> None:
    if made_by_hand:
        run(conn, settings, "UPDATE {o} SET note = 'n' || id")
        run(conn, settings, "ALTER TABLE {o} " + made_by_hand)
    spec = {**ORDERS, "foreignKeys": [FK, {**FK, "name": name}]}
    _refused(conn, settings, spec, holder)
    with conn, conn.cursor() as cur:  # the drift sweep's bulk read knows the holder too
        tables, _ = read_managed_tables(cur, settings.schema)
    (orders_table,) = [t for t in tables if t.name == "orders"]
    assert name.lower() in dict(orders_table.constraints), orders_table.constraints
    # Another name: both keys are added (the first, generated name, is no holder either).
    converge(conn, settings, {**ORDERS, "foreignKeys": [FK, {**FK, "name": "fk_named"}]})
    assert len(keys(conn, settings)) == 2


def test_a_new_tables_own_primary_key_name_is_a_conflict(
        conn: Any, settings: DatabaseSettings, customers: None) -> None:
    spec = {**ORDERS, "foreignKeys": [FK, {**FK, "name": "orders_pkey"}]}
    _refused(conn, settings, spec, "the primary key orders_pkey", _relations)
    assert run(conn, settings, "SELECT to_regclass(%s) IS NULL",
               f"{settings.schema}.orders") == [(True,)]


def statements(outcomes: list[Outcome]) -> list[str]:
    """What each statement of every call did: "RENAME COLUMN", "DROP CONSTRAINT", ..."""
    return [" ".join(s.split('" ', 1)[1].split()[:2]) for o in outcomes for s in o.statements]


def test_a_generated_name_moved_by_a_rename_is_renamed_in_place_never_revalidated(
        conn: Any, settings: DatabaseSettings, orders: None) -> None:
    """No name in the spec: the generated one holds the key's column and referenced table,
    so each rename moves it; the very constraint (its oid) is renamed, valid throughout."""
    converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
    constraint = ("SELECT oid, conname, convalidated FROM pg_constraint WHERE contype = 'f' "
                  "AND conrelid = %s::regclass")
    ((oid, first, valid),) = run(conn, settings, constraint, f"{settings.schema}.orders")
    assert valid and first.startswith("dbt_fk_customer_id_")
    renamed = {**ORDERS, "columns": [{"ID": "bigint"}, {"CLIENT_ID": "bigint"}, {"NOTE": "text"}],
               "columnOptions": {"CLIENT_ID": {"previousNames": ["CUSTOMER_ID"]}},
               "foreignKeys": [{**FK, "columns": ["CLIENT_ID"]}]}
    assert statements(converge(conn, settings, renamed)) == [
        "RENAME COLUMN", "RENAME CONSTRAINT"]
    ((same, second, valid),) = run(conn, settings, constraint, f"{settings.schema}.orders")
    assert (same, valid) == (oid, True) and second.startswith("dbt_fk_client_id_")
    # The referenced table renamed by its own resource, then the spec told: renamed again.
    converge(conn, settings, {**CUSTOMERS, "tableName": "CLIENTS"}, CUSTOMERS_OWNER)
    told = {**renamed, "foreignKeys": [{"columns": ["CLIENT_ID"],
                                        "references": {"table": "CLIENTS", "columns": ["ID"]}}]}
    assert statements(converge(conn, settings, told)) == ["RENAME CONSTRAINT"]
    ((same, third, valid),) = run(conn, settings, constraint, f"{settings.schema}.orders")
    assert (same, valid) == (oid, True) and third not in (first, second)
    assert [(k.name, k.managed) for k in keys(conn, settings)] == [(third, True)]
    (again,) = converge(conn, settings, told)
    assert again.statements == ()
