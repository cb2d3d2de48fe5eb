"""Planning spec.indexes from the catalog: each row of "Changing a table" for indexes."""
from __future__ import annotations

from typing import Any

from dbtable.column_operations import RenameColumn
from dbtable.index_model import INDEX_MARKER, ActualIndex, build_name, generated_index_name
from dbtable.index_operations import (BuildReplacement, CreateIndex, CreateIndexWithTable,
                                      DropFailedIndex, DropIndex, MarkIndex, PlaceIndex,
                                      RenameIndex)
from dbtable.model import ActualColumn, ActualTable, Owner
from dbtable.plan import (CreateTable, Facts, MarkOwned, Plan, RefusalReason, RenameTable,
                          plan_reconcile, plan_repair)
from dbtable.plan_indexes import index_counts
from dbtable.spec import parse_spec

OWNER = Owner("default", "orders", "uid-1")
COLUMNS = [{"ID": "bigint"}, {"EMAIL": "text"}, {"STATUS": "text"}]
BY_EMAIL = generated_index_name("orders", ("email",), "btree", False)
BUILD = build_name("orders", "by_email")


def desired(*indexes: dict[str, Any], columns: list[dict[str, str]] = COLUMNS, **changes: Any):
    return parse_spec({"tableName": "ORDERS", "columns": columns, "primaryKey": "ID",
                       "indexes": list(indexes), **changes})


def actual(*indexes: ActualIndex, columns: tuple[str, ...] = ("id", "email", "status"),
           name: str = "orders") -> ActualTable:
    return ActualTable(schema="public", name=name,
                       columns=tuple(ActualColumn(c, "bigint" if c == "id" else "text",
                                                  not_null=c == "id") for c in columns),
                       primary_key=("id",), primary_key_constraint="orders_pkey",
                       owner=OWNER, indexes=indexes)


def index(name: str, *columns: str, method: str = "btree", unique: bool = False,
          valid: bool = True, marked: bool = False) -> ActualIndex:
    return ActualIndex(name, columns or ("email",), method, unique, valid,
                       INDEX_MARKER if marked else None)


def plan(spec: Any, table: ActualTable | None, facts: Facts = Facts(rows=0)) -> Plan:
    return plan_reconcile(spec, OWNER, table, None, facts=facts)


def test_a_new_table_gets_its_indexes_in_the_creating_transaction() -> None:
    spec = desired({"columns": ["EMAIL"]}, {"name": "BY_STATUS", "columns": ["STATUS"],
                                            "unique": True})
    ops = plan(spec, None).operations
    assert isinstance(ops[0], CreateTable) and isinstance(ops[1], MarkOwned)
    assert ops[2:] == (CreateIndexWithTable("orders", BY_EMAIL, ("email",)),
                       CreateIndexWithTable("orders", "by_status", ("status",), "btree", True),
                       MarkIndex("orders", "by_status"))
    assert plan(spec, None).first_transaction() == (ops, ())


def test_a_name_taken_by_another_relation_is_refused() -> None:
    spec = desired({"name": "BY_EMAIL", "columns": ["EMAIL"]})
    facts = Facts(rows=0, index_names_taken=(("by_email", "the table by_email"),))
    for table in (None, actual()):
        (refusal,) = plan(spec, table, facts).refusals
        assert (refusal.reason, refusal.field) == (RefusalReason.CONFLICT,
                                                   "spec.indexes[0].name")
        assert "taken by the table by_email" in refusal.message


def test_an_unnamed_index_is_built_concurrently_under_its_generated_name() -> None:
    assert plan(desired({"columns": ["EMAIL"]}), actual()).operations == (
        CreateIndex("orders", BY_EMAIL, ("email",)),)


def test_a_named_index_is_built_under_a_temporary_name_marked_then_placed() -> None:
    assert plan(desired({"name": "BY_EMAIL", "columns": ["EMAIL"]}), actual()).operations == (
        CreateIndex("orders", BUILD, ("email",)), MarkIndex("orders", BUILD),
        PlaceIndex("orders", BUILD, "by_email"))


def test_a_named_build_resumes_where_it_stopped() -> None:
    spec = desired({"name": "BY_EMAIL", "columns": ["EMAIL"]})
    assert plan(spec, actual(index(BUILD))).operations == (
        MarkIndex("orders", BUILD), PlaceIndex("orders", BUILD, "by_email"))
    assert plan(spec, actual(index(BUILD, marked=True))).operations == (
        PlaceIndex("orders", BUILD, "by_email"),)
    assert plan(spec, actual(index("by_email", marked=True))) == Plan()


def test_an_index_in_place_plans_nothing_and_so_does_a_hand_made_one() -> None:
    table = actual(index(BY_EMAIL), index("by_hand", "status"))
    assert plan(desired({"columns": ["EMAIL"]}), table) == Plan()


def test_only_the_operators_own_indexes_are_dropped() -> None:
    table = actual(index(BY_EMAIL), index("by_hand", "status"),
                   index("named_once", "status", marked=True))
    assert plan(desired(), table).operations == (DropIndex("orders", "dbt_ix_email_" +
                                                           BY_EMAIL[-8:]),
                                                 DropIndex("orders", "named_once"))


def test_an_invalid_index_of_ours_is_dropped_and_built_again() -> None:
    assert plan(desired({"columns": ["EMAIL"]}), actual(index(BY_EMAIL, valid=False))
                ).operations == (DropFailedIndex("orders", BY_EMAIL),
                                 CreateIndex("orders", BY_EMAIL, ("email",)))
    # An invalid one the spec no longer has is dropped as a failed build (additive).
    assert plan(desired(), actual(index(BY_EMAIL, valid=False))).operations == (
        DropFailedIndex("orders", BY_EMAIL),)


def test_a_hand_made_invalid_index_is_left_alone() -> None:
    assert plan(desired(), actual(index("by_hand", valid=False))) == Plan()


def test_a_changed_unnamed_index_is_built_anew_before_the_old_is_dropped() -> None:
    new = generated_index_name("orders", ("email",), "hash", False)
    assert plan(desired({"columns": ["EMAIL"], "method": "hash"}), actual(index(BY_EMAIL))
                ).operations == (CreateIndex("orders", new, ("email",), "hash"),
                                 DropIndex("orders", BY_EMAIL))


def test_a_changed_named_index_is_rebuilt_by_build_then_swap() -> None:
    spec = desired({"name": "BY_EMAIL", "columns": ["EMAIL", "STATUS"]})
    table = actual(index("by_email", marked=True))
    assert plan(spec, table).operations == (
        BuildReplacement("orders", BUILD, ("email", "status"), replaces="by_email"),
        MarkIndex("orders", BUILD), DropIndex("orders", "by_email"),
        PlaceIndex("orders", BUILD, "by_email"))
    # After the drop (a crash there): the build takes the name.
    assert plan(spec, actual(index(BUILD, "email", "status", marked=True))).operations == (
        PlaceIndex("orders", BUILD, "by_email"),)
    # A build left with an older definition is dropped first.
    assert plan(spec, actual(index("by_email", marked=True), index(BUILD, marked=True))
                ).operations[:2] == (
        DropFailedIndex("orders", BUILD),
        BuildReplacement("orders", BUILD, ("email", "status"), replaces="by_email"))


def test_a_hand_made_index_holding_the_name_is_refused_even_with_the_same_definition() -> None:
    p = plan(desired({"name": "BY_EMAIL", "columns": ["EMAIL"]}), actual(index("by_email")))
    (refusal,) = p.refusals
    assert p.operations == ()
    assert (refusal.reason, refusal.field) == (RefusalReason.CONFLICT, "spec.indexes[0].name")
    assert "did not make" in refusal.message and INDEX_MARKER in refusal.message


def test_a_unique_index_is_refused_while_rows_repeat() -> None:
    spec = desired({"columns": ["EMAIL"], "unique": True})
    name = spec.indexes[0].name
    p = plan(spec, actual(), Facts(rows=10, index_duplicates=((name, 3),)))
    (refusal,) = p.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.DUPLICATES_PRESENT,
                                               "spec.indexes[0]")
    assert "3 row(s)" in refusal.message and p.operations == ()


def test_renaming_a_column_renames_the_generated_index_and_rebuilds_nothing() -> None:
    spec = desired({"columns": ["CUSTOMER_ID"]},
                   columns=[*COLUMNS, {"CUSTOMER_ID": "text"}],
                   columnOptions={"CUSTOMER_ID": {"previousNames": ["CUST_ID"]}})
    old = generated_index_name("orders", ("cust_id",), "btree", False)
    table = actual(index(old, "cust_id"), columns=("id", "email", "status", "cust_id"))
    assert plan(spec, table).operations == (
        RenameColumn("orders", "cust_id", "customer_id"),
        RenameIndex("orders", old, spec.indexes[0].name))


def test_a_named_index_whose_column_is_renamed_stays() -> None:
    spec = desired({"name": "BY_CUSTOMER", "columns": ["CUSTOMER_ID"]},
                   columns=[*COLUMNS, {"CUSTOMER_ID": "text"}],
                   columnOptions={"CUSTOMER_ID": {"previousNames": ["CUST_ID"]}})
    table = actual(index("by_customer", "cust_id", marked=True),
                   columns=("id", "email", "status", "cust_id"))
    assert plan(spec, table).operations == (RenameColumn("orders", "cust_id", "customer_id"),)


def test_renaming_the_table_renames_the_generated_indexes() -> None:
    spec = parse_spec({"tableName": "PURCHASES", "columns": COLUMNS, "primaryKey": "ID",
                       "indexes": [{"columns": ["EMAIL"]}]})
    ops = plan(spec, actual(index(BY_EMAIL))).operations
    assert ops == (RenameTable("orders", "purchases"),
                   RenameIndex("purchases", BY_EMAIL, spec.indexes[0].name))


def test_naming_an_unnamed_index_renames_and_marks_it() -> None:
    assert plan(desired({"name": "BY_EMAIL", "columns": ["EMAIL"]}), actual(index(BY_EMAIL))
                ).operations == (MarkIndex("orders", BY_EMAIL),
                                 RenameIndex("orders", BY_EMAIL, "by_email"))


def test_the_drift_sweep_rebuilds_a_missing_index_but_never_drops_one() -> None:
    rebuilt = plan_repair(plan(desired({"name": "BY_EMAIL", "columns": ["EMAIL"]}), actual(),
                               Facts()))
    assert rebuilt.operations == (CreateIndex("orders", BUILD, ("email",)),
                                  MarkIndex("orders", BUILD),
                                  PlaceIndex("orders", BUILD, "by_email"))
    (refusal,) = plan_repair(plan(desired(), actual(index(BY_EMAIL)), Facts())).refusals
    assert refusal.reason is RefusalReason.DRIFTED
    assert "drop index" in refusal.message


def test_unique_indexes_to_build_are_counted_under_the_catalogs_column_names() -> None:
    spec = desired({"columns": ["CUSTOMER_ID", "EMAIL"], "unique": True},
                   {"columns": ["STATUS"], "unique": True}, {"columns": ["EMAIL"]},
                   {"columns": ["NEW"], "unique": True},
                   columns=[*COLUMNS, {"CUSTOMER_ID": "text"}, {"NEW": "text"}])
    name = spec.indexes[0].name
    table = actual(index(spec.indexes[1].name, "status", unique=True),
                   columns=("id", "email", "status", "cust_id"))
    assert index_counts(spec, table, {"cust_id": "customer_id"}) == (
        (name, ("cust_id", "email")),)


def test_an_invalid_build_under_the_temporary_name_is_dropped_and_built_again() -> None:
    spec = desired({"name": "BY_EMAIL", "columns": ["EMAIL"]})
    assert plan(spec, actual(index(BUILD, valid=False))).operations == (
        DropFailedIndex("orders", BUILD), CreateIndex("orders", BUILD, ("email",)),
        MarkIndex("orders", BUILD), PlaceIndex("orders", BUILD, "by_email"))
