"""Foreign keys, pure: parsing, generated names, the plan for each change, its SQL (the renames
of a key whose generated name moved: tests/unit/test_foreign_key_renames.py)."""
from __future__ import annotations

import dataclasses
from typing import Any

import psycopg2.errors
import pytest

from dbtable.errors import InvalidSpec
from dbtable.fk_model import FK_MARKER, FkAction, foreign_key_name
from dbtable.fk_operations import (AddForeignKey, AddValidForeignKey, DropForeignKey,
                                   MarkForeignKey, ValidateForeignKey)
from dbtable.model import DeletionPolicy
from dbtable.operations import WAITING
from dbtable.plan import (CreateTable, DropTable, Facts, MarkOwned, Plan, RefusalReason,
                          plan_delete, plan_repair)
from dbtable.plan_foreign_keys import refusal_for_error
from dbtable.render import render, to_text
from dbtable.reporting import foreign_key_status
from dbtable.spec import parse_spec
from tests.support.foreign_keys import (COLUMNS, FK, KNOWN, NAME, actual, desired, errors_of, fk,
                                        plan, sql_of)


# --- parsing ---------------------------------------------------------------------------------

def test_a_key_is_parsed_folded_with_a_generated_name_and_defaults() -> None:
    (key,) = desired({**FK, "onDelete": "Cascade"}).foreign_keys
    assert (key.name, key.columns, key.ref_table, key.ref_columns) == (
        NAME, ("customer_id",), "customers", ("id",))
    assert (key.on_delete, key.on_update, key.field) == (
        FkAction.CASCADE, FkAction.NO_ACTION, "spec.foreignKeys[0]")
    assert NAME.startswith("dbt_fk_customer_id_")


def test_a_given_name_is_folded_like_every_identifier() -> None:
    (key,) = desired({**FK, "name": "ORDERS_CUSTOMER_FK"}).foreign_keys
    assert key.name == "orders_customer_fk"


def test_the_seed_and_an_empty_list_have_no_keys() -> None:
    assert desired().foreign_keys == ()
    assert parse_spec({"tableName": "T", "columns": [{"ID": "integer"}],
                       "primaryKey": "ID"}).foreign_keys == ()


@pytest.mark.parametrize("key, field", [
    ({**FK, "columns": ["NOPE"]}, "spec.foreignKeys[0].columns[0]"),
    ({**FK, "columns": ["CUSTOMER_ID", "customer_id"],
      "references": {"table": "c", "columns": ["a", "b"]}}, "spec.foreignKeys[0].columns[1]"),
    ({**FK, "references": {"table": "c", "columns": ["a", "A"]}, "columns": ["ID", "NOTE"]},
     "spec.foreignKeys[0].references.columns[1]"),
    ({**FK, "references": {"table": "c", "columns": ["a", "b"]}},
     "spec.foreignKeys[0].references.columns"),
    ({**FK, "onDelete": "SetNull", "columns": ["ID"]}, "spec.foreignKeys[0].onDelete"),
    ({**FK, "onDelete": "cascade"}, "spec.foreignKeys[0].onDelete"),
    ({**FK, "onUpdate": 3}, "spec.foreignKeys[0].onUpdate"),
    ({**FK, "name": "fk name"}, "spec.foreignKeys[0].name"),
    ({**FK, "references": {"table": "public.customers", "columns": ["id"]}},
     "spec.foreignKeys[0].references.table"),
    ({"columns": ["CUSTOMER_ID"]}, "spec.foreignKeys[0].references"),
    ({**FK, "match": "full"}, "spec.foreignKeys[0].match"),
    ("CUSTOMER_ID REFERENCES customers", "spec.foreignKeys[0]"),
], ids=repr)
def test_each_bad_key_is_refused_naming_its_field(key: Any, field: str) -> None:
    assert any(e.startswith(field + ":") for e in errors_of(key)), errors_of(key)


def test_set_null_on_a_column_that_is_nullable_false_is_refused() -> None:
    errors = errors_of({**FK, "onUpdate": "SetNull"},
                       columnOptions={"CUSTOMER_ID": {"nullable": False}})
    assert errors == [
        "spec.foreignKeys[0].onUpdate: SetNull cannot apply to column 'customer_id': it is "
        "NOT NULL (a primary key column or nullable: false in columnOptions); choose another "
        "action or make the column nullable"]
    assert desired({**FK, "onDelete": "SetNull"}).foreign_keys[0].on_delete is FkAction.SET_NULL


def test_two_keys_with_one_name_are_refused_even_when_generated() -> None:
    errors = errors_of(FK, {**FK, "references": {"table": "customers", "columns": ["id"]}})
    assert errors[0].startswith("spec.foreignKeys[1].name: 'dbt_fk_customer_id_")


def test_foreign_keys_must_be_a_list_of_at_most_64() -> None:
    with pytest.raises(InvalidSpec, match="spec.foreignKeys: must be a list"):
        parse_spec({"tableName": "T", "columns": COLUMNS, "primaryKey": "ID",
                    "foreignKeys": {"a": FK}})
    with pytest.raises(InvalidSpec, match="has 65 foreign keys"):
        desired(*[{**FK, "name": f"k{i}"} for i in range(65)])


# --- names -----------------------------------------------------------------------------------

def test_generated_names_fit_63_bytes_and_differ_by_what_they_link() -> None:
    long = tuple(f"c{i:02d}_" + "x" * 58 for i in range(32))
    name = foreign_key_name(long, "t" * 63, long)
    assert len(name.encode()) <= 63 and name.startswith("dbt_fk_c00_")
    assert foreign_key_name(("a",), "t", ("id",)) != foreign_key_name(("a",), "u", ("id",))
    assert foreign_key_name(("a", "b"), "t", ("x", "y")) != foreign_key_name(
        ("a", "b"), "t", ("y", "x"))
    assert foreign_key_name(("a",), "t", ("id",)) == foreign_key_name(("a",), "t", ("id",))


def test_non_ascii_names_are_refused_and_a_cut_never_splits_a_character() -> None:
    assert any(e.startswith("spec.foreignKeys[0].name:")
               for e in errors_of({**FK, "name": "fk_\u00e9l\u00e8ve"}))
    # Identifiers are ASCII by the grammar; the cut is by bytes on a character boundary anyway.
    name = foreign_key_name(("\u00e9" * 40,), "t", ("id",))
    assert len(name.encode()) <= 63
    name.encode().decode()


# --- planning ---------------------------------------------------------------------------------

def test_a_new_table_gets_its_keys_valid_in_the_create_transaction() -> None:
    spec = desired({**FK, "onDelete": "Cascade"})
    p = plan(spec, None)
    assert [type(op) for op in p.operations] == [CreateTable, MarkOwned, AddValidForeignKey,
                                                  MarkForeignKey]
    assert p.first_transaction() == (p.operations, ())
    assert sql_of(p)[2:] == [
        f'ALTER TABLE "public"."orders" ADD CONSTRAINT "{NAME}" FOREIGN KEY ("customer_id") '
        'REFERENCES "public"."customers" ("id") ON DELETE CASCADE ON UPDATE NO ACTION',
        f'COMMENT ON CONSTRAINT "{NAME}" ON "public"."orders" IS '
        + "'" + FK_MARKER + "'"]


def test_an_existing_table_gets_the_key_not_valid_then_validated_alone() -> None:
    p = plan(desired(FK), actual())
    assert [type(op) for op in p.operations] == [AddForeignKey, MarkForeignKey,
                                                  ValidateForeignKey]
    first, rest = p.first_transaction()
    assert [type(op) for op in first] == [AddForeignKey, MarkForeignKey]
    assert [type(op) for op in rest] == [ValidateForeignKey]
    assert sql_of(p)[0].endswith("ON DELETE NO ACTION ON UPDATE NO ACTION NOT VALID")
    assert sql_of(p)[2] == f'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "{NAME}"'
    assert (AddForeignKey.lock, ValidateForeignKey.lock) == ("SHARE ROW EXCLUSIVE",
                                                             "SHARE UPDATE EXCLUSIVE")


def test_a_key_in_place_changes_nothing_and_one_left_not_valid_is_validated() -> None:
    assert plan(desired(FK), actual(fk())) == Plan()
    p = plan(desired(FK), actual(fk(validated=False)))
    assert p.operations == (ValidateForeignKey("orders", NAME),)


@pytest.mark.parametrize("action, words", [
    ("NoAction", "NO ACTION"), ("Restrict", "RESTRICT"), ("Cascade", "CASCADE"),
    ("SetNull", "SET NULL"), ("SetDefault", "SET DEFAULT")])
def test_each_action_renders_its_constant_words(action: str, words: str) -> None:
    (add, *_) = plan(desired({**FK, "onDelete": action, "onUpdate": action}),
                     actual()).operations
    assert to_text(render([add], "s")[0]).endswith(
        f"ON DELETE {words} ON UPDATE {words} NOT VALID")


def test_a_changed_action_replaces_the_key_under_its_name_in_one_transaction() -> None:
    p = plan(desired({**FK, "onDelete": "Cascade"}), actual(fk()))
    assert [type(op) for op in p.operations] == [DropForeignKey, AddForeignKey, MarkForeignKey,
                                                  ValidateForeignKey]
    first, _ = p.first_transaction()
    assert [type(op) for op in first] == [DropForeignKey, AddForeignKey, MarkForeignKey]
    assert p.operations[0].name == p.operations[1].name == NAME


def test_a_key_of_ours_removed_from_the_spec_is_dropped_a_hand_made_one_never() -> None:
    mine, theirs = fk(), fk(name="orders_customer_id_fkey", managed=False)
    p = plan(desired(), actual(mine, theirs))
    assert p.operations == (DropForeignKey("orders", NAME),)
    assert sql_of(p) == [f'ALTER TABLE "public"."orders" DROP CONSTRAINT "{NAME}"']
    assert plan(desired(), actual(theirs)) == Plan()


def test_a_hand_made_key_the_spec_names_as_it_is_is_marked_ours() -> None:
    theirs = fk(name="orders_customer_id_fkey", managed=False)
    spec = desired({**FK, "name": "orders_customer_id_fkey"})
    assert plan(spec, actual(theirs)).operations == (
        MarkForeignKey("orders", "orders_customer_id_fkey"),)
    other = dataclasses.replace(theirs, on_delete=FkAction.CASCADE)
    (refusal,) = plan(spec, actual(other)).refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.CONFLICT, "spec.foreignKeys[0].name")


def test_orphans_are_refused_with_their_count_and_nothing_is_planned() -> None:
    facts = dataclasses.replace(KNOWN, orphans=((NAME, 3),))
    p = plan(desired(FK, columnOptions={"NOTE": {"nullable": False}}), actual(), facts)
    assert p.operations == ()
    (refusal,) = p.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.ORPHANS_PRESENT,
                                               "spec.foreignKeys[0].columns")
    assert "3 row(s) of table orders" in refusal.message
    assert "not validated" not in refusal.message  # nothing was added
    # A key left NOT VALID (a run that stopped, or a row committed between the count and the
    # ADD) is not validated while orphans remain, and the message says it is there unchecked.
    (left,) = plan(desired(FK), actual(fk(validated=False)), facts).refusals
    assert (left.reason, left.field) == (refusal.reason, refusal.field)
    assert "3 row(s) of table orders" in left.message
    assert f"foreign key {NAME} exists but is not validated (NOT VALID)" in left.message
    assert "new and changed rows are checked" in left.message


def test_a_missing_referenced_table_or_key_waits() -> None:
    missing = dataclasses.replace(KNOWN, references=(("customers", None),))
    p = plan(desired(FK), actual(), missing)
    (refusal,) = p.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.REFERENCED_TABLE_MISSING,
                                               "spec.foreignKeys[0].references.table")
    assert "waits for table customers" in refusal.message and p.waiting
    no_column = desired({**FK, "references": {"table": "customers", "columns": ["uid"]}})
    (refusal,) = plan(no_column, actual()).refusals
    assert refusal.reason is RefusalReason.REFERENCED_KEY_MISSING
    assert "column uid of table customers" in refusal.message
    not_unique = desired({**FK, "references": {"table": "customers", "columns": ["name"]}})
    (refusal,) = plan(not_unique, actual()).refusals
    assert "primary key or unique constraint on exactly (name)" in refusal.message
    assert plan(desired(FK), None, missing).waiting  # a new table waits too: nothing created
    assert not Plan(refusals=p.refusals + plan(desired(FK), actual(), dataclasses.replace(
        KNOWN, orphans=((NAME, 1),))).refusals).waiting
    assert WAITING == {RefusalReason.REFERENCED_TABLE_MISSING,
                       RefusalReason.REFERENCED_KEY_MISSING}


def test_references_not_read_plan_as_if_they_held() -> None:
    # The drift sweep reads no other tables: it plans the addition, the handler checks.
    assert [type(op) for op in plan(desired(FK), actual(), Facts()).operations] == [
        AddForeignKey, MarkForeignKey, ValidateForeignKey]


def test_a_key_on_the_table_itself_is_checked_against_the_spec() -> None:
    columns = COLUMNS + [{"PARENT_ID": "bigint"}]
    key = {"columns": ["PARENT_ID"], "references": {"table": "ORDERS", "columns": ["ID"]}}
    p = plan(desired(key, columns=columns), None, Facts(references=()))
    assert [type(op) for op in p.operations][2:] == [AddValidForeignKey, MarkForeignKey]
    bad = {**key, "references": {"table": "ORDERS", "columns": ["NOTE"]}}
    assert plan(desired(bad, columns=columns), None, Facts(references=())).waiting
    unique = desired(bad, columns=columns, columnOptions={"NOTE": {"unique": True}})
    assert not plan(unique, None, Facts(references=())).refused


def test_types_postgresql_cannot_compare_are_invalid_spec_naming_the_field() -> None:
    facts = dataclasses.replace(KNOWN, incompatible=((NAME, "operator does not exist: "
                                                             "bigint = text"),))
    (refusal,) = plan(desired(FK), actual(), facts).refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.INVALID_SPEC,
                                               "spec.foreignKeys[0].columns")
    assert "bigint = text" in refusal.message


def test_datatype_mismatch_on_adding_is_an_invalid_spec_refusal() -> None:
    ops = plan(desired(FK), actual()).operations
    error = psycopg2.errors.DatatypeMismatch(f'foreign key constraint "{NAME}" cannot be '
                                             "implemented")
    refusal = refusal_for_error(error, ops)
    assert refusal is not None and refusal.field == "spec.foreignKeys[0].columns"
    assert refusal.reason is RefusalReason.INVALID_SPEC
    assert refusal_for_error(psycopg2.errors.UniqueViolation("x"), ops) is None
    assert refusal_for_error(error, ()) is None


def test_renaming_a_key_column_or_the_table_does_not_replace_the_key() -> None:
    spec = desired({**FK}, columnOptions={"CUSTOMER_ID": {"previousNames": ["CUST_ID"]}})
    p = plan(spec, actual(fk(columns=("cust_id",)), columns=("id", "cust_id", "note")))
    assert [type(op).__name__ for op in p.operations] == ["RenameColumn"]
    self_key = {"columns": ["CUSTOMER_ID"], "references": {"table": "SALES", "columns": ["ID"]}}
    renamed = parse_spec({"tableName": "SALES", "columns": COLUMNS, "primaryKey": "ID",
                          "foreignKeys": [self_key]})
    mine = dataclasses.replace(fk(ref="orders"), name=renamed.foreign_keys[0].name)
    assert [type(op).__name__ for op in plan(renamed, actual(mine)).operations] == [
        "RenameTable"]


def test_the_drift_check_adds_a_missing_key_and_reports_a_drop() -> None:
    assert plan_repair(plan(desired(FK), actual(), Facts())).operations[0] == AddForeignKey(
        "orders", desired(FK).foreign_keys[0])
    (refusal,) = plan_repair(plan(desired(), actual(fk()), Facts())).refusals
    assert refusal.reason is RefusalReason.DRIFTED and "drop foreign key" in refusal.message


# --- deleting --------------------------------------------------------------------------------

def test_dropping_a_referenced_table_is_refused_never_cascaded() -> None:
    table = actual()
    referencing = ("foreign key fk_x of table public.invoices",)
    p = plan_delete(table, DeletionPolicy.DROP, referencing=referencing)
    (refusal,) = p.refusals
    assert p.operations == () and refusal.reason is RefusalReason.TABLE_REFERENCED
    assert "fk_x of table public.invoices references it" in refusal.message
    assert plan_delete(table, DeletionPolicy.DROP).operations == (DropTable("orders"),)
    # Retain or keeping it aside touch no key: allowed.
    assert not plan_delete(table, DeletionPolicy.RETAIN, referencing=referencing).refused


# --- status -----------------------------------------------------------------------------------

def test_status_shows_each_key_from_the_catalog() -> None:
    assert foreign_key_status(fk(on_delete=FkAction.SET_NULL, validated=False,
                                 managed=False)) == {
        "name": NAME, "columns": ["customer_id"],
        "references": {"schema": "public", "table": "customers", "columns": ["id"]},
        "onDelete": "SetNull", "onUpdate": "NoAction", "validated": False, "managed": False}


def test_reconciling_names_the_key_of_the_step_in_progress() -> None:
    from dbtable.reporting import step_name

    assert step_name(ValidateForeignKey("orders", NAME)) == (
        f"ValidateForeignKey {NAME} on orders (SHARE UPDATE EXCLUSIVE lock)")
