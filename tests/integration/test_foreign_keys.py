"""Foreign keys on a real PostgreSQL: added online and validated, each refusal with its count
and the catalog left exactly as it was, the actions really applied, hand-made keys kept, a
referenced table that comes later, and a referenced table that is not dropped."""
from __future__ import annotations

from typing import Any

import psycopg2
import pytest

from dbtable.catalog import read_managed_tables
from dbtable.database import DatabaseSettings
from dbtable.fk_model import FK_MARKER, FkAction
from dbtable.fk_operations import AddForeignKey, ValidateForeignKey
from dbtable.model import DeletionPolicy, Owner
from dbtable.plan import RefusalReason
from dbtable.reconcile import delete_table, reconcile_table
from dbtable.spec import parse_spec
from tests.support.foreign_key_tables import (CUSTOMERS, CUSTOMERS_OWNER, FK, ORDERS,
                                              ORDERS_OWNER, converge, keys, run, snapshot)
from tests.support.foreign_key_tables import customers, orders  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def test_a_key_is_added_not_valid_then_validated_in_its_own_transaction(
        conn: Any, settings: DatabaseSettings, orders: None) -> None:
    first, second = converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
    assert [type(op) for op in first.applied][0] is AddForeignKey
    assert first.statements[0].endswith("NOT VALID")
    assert [type(op) for op in first.pending] == [ValidateForeignKey]
    assert second.statements == (second.statements[0],) and "VALIDATE CONSTRAINT" in \
        second.statements[0]
    (key,) = keys(conn, settings)
    assert (key.columns, key.ref_table, key.ref_columns, key.validated, key.managed) == (
        ("customer_id",), "customers", ("id",), True, True)
    assert run(conn, settings, "SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint"
                               " WHERE conname = %s AND conrelid = %s::regclass", key.name,
               f"{settings.schema}.orders") == [(FK_MARKER,)]
    (again,) = converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
    assert again.statements == ()  # level-triggered: nothing the second time
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        run(conn, settings, "INSERT INTO {o} VALUES (999, 999, 'orphan')")


def test_orphans_are_refused_with_their_count_and_the_catalog_is_unchanged(
        conn: Any, settings: DatabaseSettings, orders: None) -> None:
    run(conn, settings, "INSERT INTO {o} VALUES (101, 77, 'x'), (102, 78, 'y'), (103, NULL, 'z')")
    before = snapshot(conn, settings)
    (outcome,) = converge(conn, settings, {**ORDERS, "foreignKeys": [FK],
                                           "columnOptions": {"NOTE": {"nullable": False}}})
    (refusal,) = outcome.plan.refusals
    assert refusal.reason is RefusalReason.ORPHANS_PRESENT
    assert refusal.field == "spec.foreignKeys[0].columns"
    assert "2 row(s) of table orders" in refusal.message  # the NULL key is not an orphan
    assert outcome.statements == ()
    assert snapshot(conn, settings) == before
    run(conn, settings, "DELETE FROM {o} WHERE id IN (101, 102)")
    converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
    assert [k.validated for k in keys(conn, settings)] == [True]


def test_a_key_left_not_valid_by_a_stopped_run_is_validated_next(
        conn: Any, settings: DatabaseSettings, orders: None) -> None:
    spec = parse_spec({**ORDERS, "foreignKeys": [FK]})
    first = reconcile_table(conn, settings, spec, ORDERS_OWNER)  # then the operator "crashes"
    assert first.pending and [k.validated for k in keys(conn, settings)] == [False]
    resumed = reconcile_table(conn, settings, spec, ORDERS_OWNER)
    assert [type(op) for op in resumed.applied] == [ValidateForeignKey]
    assert [k.validated for k in keys(conn, settings)] == [True]


@pytest.mark.parametrize("action, expect", [
    ("Cascade", []), ("SetNull", [(1, None)]), ("SetDefault", [(1, 2)]),
])
def test_on_delete_really_applies_its_action(conn: Any, settings: DatabaseSettings,
                                             customers: None, action: str,
                                             expect: list[tuple]) -> None:
    spec = {**ORDERS, "foreignKeys": [{**FK, "onDelete": action}],
            "columnOptions": {"CUSTOMER_ID": {"default": "2"}}}
    converge(conn, settings, spec)  # a new table: the key is added valid at once
    assert [(k.on_delete, k.validated) for k in keys(conn, settings)] == [
        (FkAction(action), True)]
    run(conn, settings, "INSERT INTO {o} VALUES (1, 1, 'x')")
    run(conn, settings, "DELETE FROM {c} WHERE id = 1")
    assert run(conn, settings, "SELECT id, customer_id FROM {o}") == expect


def test_no_action_refuses_the_delete_and_a_changed_action_replaces_the_key(
        conn: Any, settings: DatabaseSettings, orders: None) -> None:
    converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        run(conn, settings, "DELETE FROM {c} WHERE id = 1")
    (name,) = [k.name for k in keys(conn, settings)]
    outcomes = converge(conn, settings, {**ORDERS, "foreignKeys": [{**FK, "onDelete": "Cascade"}]})
    assert "DROP CONSTRAINT" in outcomes[0].statements[0]
    assert [(k.name, k.on_delete, k.validated) for k in keys(conn, settings)] == [
        (name, FkAction.CASCADE, True)]
    run(conn, settings, "DELETE FROM {c} WHERE id = 1")
    assert run(conn, settings, "SELECT count(*) FROM {o} WHERE customer_id = 1") == [(0,)]


def test_a_hand_made_key_is_kept_and_shown_unmanaged(conn: Any, settings: DatabaseSettings,
                                                      orders: None) -> None:
    run(conn, settings, "ALTER TABLE {o} ADD CONSTRAINT by_hand FOREIGN KEY (customer_id) "
                        "REFERENCES {c} (id)")
    converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
    converge(conn, settings, ORDERS)  # ours removed from the spec: dropped; by_hand stays
    assert [(k.name, k.managed) for k in keys(conn, settings)] == [("by_hand", False)]
    # Named in the spec exactly as it is, it becomes ours (and then goes with the spec).
    converge(conn, settings, {**ORDERS, "foreignKeys": [{**FK, "name": "BY_HAND"}]})
    assert [(k.name, k.managed) for k in keys(conn, settings)] == [("by_hand", True)]


def test_a_referenced_table_created_later_is_picked_up(conn: Any,
                                                       settings: DatabaseSettings) -> None:
    spec = {**ORDERS, "foreignKeys": [FK]}
    (waiting,) = converge(conn, settings, spec)
    assert waiting.plan.waiting and waiting.statements == ()
    (refusal,) = waiting.plan.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.REFERENCED_TABLE_MISSING,
                                               "spec.foreignKeys[0].references.table")
    assert waiting.table is None  # nothing of the spec applied
    converge(conn, settings, {**CUSTOMERS, "columns": [{"UID": "bigint"}, {"ID": "bigint"}],
                              "primaryKey": "UID"}, CUSTOMERS_OWNER)
    (not_unique,) = converge(conn, settings, spec)
    assert not_unique.plan.refusals[0].reason is RefusalReason.REFERENCED_KEY_MISSING
    assert "unique constraint on exactly (id)" in not_unique.plan.refusals[0].message
    converge(conn, settings, {**CUSTOMERS, "columns": [{"UID": "bigint"}, {"ID": "bigint"}],
                              "primaryKey": "UID", "columnOptions": {"ID": {"unique": True}}},
             CUSTOMERS_OWNER)
    converge(conn, settings, spec)
    assert [(k.ref_table, k.validated) for k in keys(conn, settings)] == [("customers", True)]


def test_types_postgresql_cannot_link_are_invalid_spec_naming_the_field(
        conn: Any, settings: DatabaseSettings, customers: None) -> None:
    text_key = {**ORDERS, "columns": [{"ID": "bigint"}, {"CUSTOMER_ID": "text"}]}
    converge(conn, settings, text_key)
    before = snapshot(conn, settings)
    (outcome,) = converge(conn, settings, {**text_key, "foreignKeys": [FK]})
    (refusal,) = outcome.plan.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.INVALID_SPEC,
                                               "spec.foreignKeys[0].columns")
    assert "operator does not exist: bigint = text" in refusal.message
    assert snapshot(conn, settings) == before
    # numeric = integer compares, but PostgreSQL cannot implement the key (42804).
    converge(conn, settings, {**CUSTOMERS, "tableName": "PRICES",
                              "columns": [{"ID": "integer"}]}, Owner("default", "p", "u-p"))
    bad = {**ORDERS, "tableName": "ITEMS", "columns": [{"ID": "numeric"}],
           "foreignKeys": [{"columns": ["ID"], "references": {"table": "PRICES",
                                                              "columns": ["ID"]}}]}
    (outcome,) = converge(conn, settings, bad, Owner("default", "i", "u-i"))
    (refusal,) = outcome.plan.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.INVALID_SPEC,
                                               "spec.foreignKeys[0].columns")
    assert "incompatible types: numeric and integer" in refusal.message
    assert run(conn, settings, "SELECT to_regclass(%s)", f"{settings.schema}.items") == [(None,)]


def test_dropping_a_referenced_table_is_refused_and_nothing_cascades(
        conn: Any, settings: DatabaseSettings, orders: None) -> None:
    converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
    before = snapshot(conn, settings)
    outcome = delete_table(conn, settings, CUSTOMERS_OWNER, DeletionPolicy.DROP)
    (refusal,) = outcome.plan.refusals
    assert refusal.reason is RefusalReason.TABLE_REFERENCED
    assert f"of table {settings.schema}.orders references it" in refusal.message
    assert outcome.statements == () and snapshot(conn, settings) == before
    converge(conn, settings, ORDERS)  # the key goes with ORDERS' spec
    outcome = delete_table(conn, settings, CUSTOMERS_OWNER, DeletionPolicy.DROP)
    assert outcome.statements and not outcome.plan.refused


def test_renaming_a_key_column_keeps_the_key(conn: Any, settings: DatabaseSettings,
                                             orders: None) -> None:
    converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
    oid = run(conn, settings, "SELECT oid FROM pg_constraint WHERE contype = 'f' AND "
                              "conrelid = %s::regclass", f"{settings.schema}.orders")
    renamed = {**ORDERS, "columns": [{"ID": "bigint"}, {"CLIENT_ID": "bigint"}, {"NOTE": "text"}],
               "columnOptions": {"CLIENT_ID": {"previousNames": ["CUSTOMER_ID"]}},
               "foreignKeys": [{**FK, "name": [k.name for k in keys(conn, settings)][0],
                                "columns": ["CLIENT_ID"]}]}
    (outcome,) = converge(conn, settings, renamed)
    assert [s.split(" RENAME")[1][:7] for s in outcome.statements] == [" COLUMN"]
    assert run(conn, settings, "SELECT oid FROM pg_constraint WHERE contype = 'f' AND "
                               "conrelid = %s::regclass", f"{settings.schema}.orders") == oid
    (again,) = converge(conn, settings, renamed)
    assert again.statements == ()


def test_the_drift_sweeps_bulk_read_sees_the_same_keys(conn: Any, settings: DatabaseSettings,
                                                       orders: None) -> None:
    run(conn, settings, "ALTER TABLE {o} ADD CONSTRAINT by_hand FOREIGN KEY (customer_id) "
                        "REFERENCES {c} (id) NOT VALID")
    converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
    with conn, conn.cursor() as cur:
        tables, _ = read_managed_tables(cur, settings.schema)
    (orders_table,) = [t for t in tables if t.name == "orders"]
    assert orders_table.foreign_keys == keys(conn, settings)
    assert [(k.name == "by_hand", k.managed, k.validated)
            for k in orders_table.foreign_keys] == [(True, False, False), (False, True, True)]


def test_renaming_the_referenced_table_or_column_waits_without_flapping(
        conn: Any, settings: DatabaseSettings, orders: None) -> None:
    converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
    constraints = ("SELECT oid, conname, convalidated FROM pg_constraint WHERE conrelid = "
                   "%s::regclass ORDER BY conname")
    before = run(conn, settings, constraints, f"{settings.schema}.orders")
    # CUSTOMERS becomes CLIENTS, its ID becomes CID: PostgreSQL keeps the key pointing at them.
    converge(conn, settings, {**CUSTOMERS, "tableName": "CLIENTS",
                              "columns": [{"CID": "bigint"}, {"NAME": "text"}],
                              "primaryKey": "CID", "columnOptions": {
                                  "CID": {"previousNames": ["ID"]}}}, CUSTOMERS_OWNER)
    (key,) = keys(conn, settings)
    assert (key.ref_table, key.ref_columns) == ("clients", ("cid",))
    for _ in range(2):  # ORDERS still says CUSTOMERS: it waits, the same way each time
        (waiting,) = converge(conn, settings, {**ORDERS, "foreignKeys": [FK]})
        assert waiting.statements == () and waiting.plan.waiting
        assert waiting.plan.refusals[0].reason is RefusalReason.REFERENCED_TABLE_MISSING
    renamed = {**FK, "name": key.name, "references": {"table": "CLIENTS", "columns": ["ID"]}}
    (waiting,) = converge(conn, settings, {**ORDERS, "foreignKeys": [renamed]})
    assert waiting.plan.refusals[0].reason is RefusalReason.REFERENCED_KEY_MISSING
    # Told the new names, nothing is to do: the key already is that.
    told = {**renamed, "references": {"table": "CLIENTS", "columns": ["CID"]}}
    (done,) = converge(conn, settings, {**ORDERS, "foreignKeys": [told]})
    assert done.statements == () and not done.plan.refused
    assert [(k.name, k.validated) for k in keys(conn, settings)] == [(key.name, True)]
    assert run(conn, settings, constraints, f"{settings.schema}.orders") == before


def test_a_table_kept_aside_is_not_purged_while_another_table_references_it(
        conn: Any, settings: DatabaseSettings, customers: None) -> None:
    from datetime import timedelta

    from dbtable.retention import purge_expired

    run(conn, settings, "CREATE TABLE {o} (id bigint PRIMARY KEY, customer_id bigint "
                        "REFERENCES {c} (id))")
    delete_table(conn, settings, CUSTOMERS_OWNER, DeletionPolicy.DROP, retention=timedelta(0))
    (aside,) = [r[0] for r in run(conn, settings, "SELECT relname FROM pg_class WHERE "
                                                   "relnamespace = %s::regnamespace AND "
                                                   "relname LIKE 'customers%%' AND relkind = 'r'",
                                  settings.schema)]
    assert aside != "customers"  # renamed aside: the key follows it
    assert purge_expired(conn, settings) == []  # never CASCADE, and no error either
    assert run(conn, settings, "SELECT to_regclass(%s) IS NOT NULL",
               f"{settings.schema}.{aside}") == [(True,)]
    run(conn, settings, "DROP TABLE {o}")
    assert purge_expired(conn, settings) == [aside]
