"""Foreign keys, pure: a generated name that a rename moved (of a column, of the referenced
table, or in the spec) is renamed in place, never replaced, unless another constraint holds it."""
from __future__ import annotations

import dataclasses

import pytest

from dbtable.fk_model import foreign_key_name
from dbtable.fk_operations import RenameForeignKey
from dbtable.plan import Facts, Plan, RefusalReason, plan_repair
from dbtable.plan_foreign_keys import keys_to_count
from dbtable.spec import parse_spec
from tests.support.foreign_keys import (COLUMNS, CUSTOMERS, FK, NAME, actual, desired, fk, plan,
                                        sql_of)


OLD_NAME = foreign_key_name(("cust_id",), "customers", ("id",))
RENAME_SPEC = {"columnOptions": {"CUSTOMER_ID": {"previousNames": ["CUST_ID"]}}}


def kinds(p: Plan) -> list[str]:
    return [type(op).__name__ for op in p.operations]


def test_a_generated_name_moved_by_a_column_rename_is_renamed_in_place() -> None:
    table = actual(fk(name=OLD_NAME, columns=("cust_id",)), columns=("id", "cust_id", "note"))
    p = plan(desired(FK, **RENAME_SPEC), table)
    assert kinds(p) == ["RenameColumn", "RenameForeignKey"]
    assert p.first_transaction() == (p.operations, ())
    assert sql_of(p)[1] == (f'ALTER TABLE "public"."orders" RENAME CONSTRAINT "{OLD_NAME}" '
                            f'TO "{NAME}"')
    assert keys_to_count(desired(FK, **RENAME_SPEC), table,
                         lambda c: "customer_id" if c == "cust_id" else c) == []


def test_a_rename_applied_before_or_of_the_referenced_table_renames_only_the_key() -> None:
    done = actual(fk(name=OLD_NAME))  # the column was renamed by a run that stopped, or by hand
    assert kinds(plan(desired(FK), done)) == ["RenameForeignKey"]
    # CUSTOMERS became CLIENTS (another resource): PostgreSQL kept the key pointing at it.
    moved = actual(fk(ref="clients"))
    clients = {**FK, "references": {"table": "CLIENTS", "columns": ["ID"]}}
    facts = Facts(rows=0, references=(("clients", dataclasses.replace(CUSTOMERS,
                                                                     name="clients")),))
    p = plan(desired(clients), moved, facts)
    assert p.operations == (RenameForeignKey("orders", NAME, desired(clients)
                                             .foreign_keys[0].name),)
    assert plan_repair(p) == p  # nothing taken away: the drift check may do it too


def test_a_moved_key_left_not_valid_is_renamed_then_validated() -> None:
    p = plan(desired(FK), actual(fk(name=OLD_NAME, validated=False)))
    assert kinds(p) == ["RenameForeignKey", "ValidateForeignKey"]


def test_a_moved_name_held_by_another_constraint_is_a_conflict_nothing_touched() -> None:
    theirs = fk(name=NAME, columns=("note",), managed=False)
    (refusal,) = plan(desired(FK), actual(fk(name=OLD_NAME), theirs)).refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.CONFLICT, "spec.foreignKeys[0].name")
    checked = dataclasses.replace(actual(fk(name=OLD_NAME)), checks=((NAME, True),))
    p = plan(desired(FK), checked)
    assert p.operations == () and [(r.reason, r.field) for r in p.refusals] == [
        (RefusalReason.CONFLICT, "spec.foreignKeys[0].name")]
    assert NAME in p.refusals[0].message


def test_a_self_reference_on_a_renamed_table_or_a_name_the_spec_changes_is_renamed() -> None:
    self_key = {"columns": ["CUSTOMER_ID"], "references": {"table": "SALES", "columns": ["ID"]}}
    spec = parse_spec({"tableName": "SALES", "columns": COLUMNS, "primaryKey": "ID",
                       "foreignKeys": [self_key]})
    mine = fk(name=foreign_key_name(("customer_id",), "orders", ("id",)), ref="orders")
    assert kinds(plan(spec, actual(mine))) == ["RenameTable", "RenameForeignKey"]
    p = plan(desired({**FK, "name": "orders_customer_fk"}), actual(fk()))
    assert p.operations == (RenameForeignKey("orders", NAME, "orders_customer_fk"),)


def test_a_hand_made_key_of_the_same_definition_is_never_renamed() -> None:
    theirs = fk(name=OLD_NAME, managed=False)
    assert kinds(plan(desired(FK), actual(theirs))) == [
        "AddForeignKey", "MarkForeignKey", "ValidateForeignKey"]


@pytest.mark.parametrize("held, what", [(("orders_pkey", "p"), "the primary key orders_pkey"),
                                        (("note_check", "c"), "the check constraint note_check"),
                                        (("note_once", "u"), "the unique constraint note_once")])
def test_a_name_held_by_another_constraint_of_the_table_is_a_conflict(
        held: tuple[str, str], what: str) -> None:
    table = dataclasses.replace(actual(), constraints=(held,))
    p = plan(desired(FK, {**FK, "name": held[0].upper()}), table)
    (refusal,) = p.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.CONFLICT,
                                               "spec.foreignKeys[1].name")
    assert what in refusal.message and p.operations == ()
    assert plan(desired(FK, {**FK, "name": "other"}), table).refusals == ()


def test_a_new_tables_primary_key_name_is_a_conflict_cut_as_postgresql_cuts_it() -> None:
    (refusal,) = plan(desired(FK, {**FK, "name": "orders_pkey"}), None).refusals
    assert refusal.field == "spec.foreignKeys[1].name" and "primary key" in refusal.message
    wide = "W" * 63
    (refusal,) = plan(desired(FK, {**FK, "name": wide[:58] + "_pkey"}, tableName=wide),
                      None).refusals
    assert refusal.reason is RefusalReason.CONFLICT
