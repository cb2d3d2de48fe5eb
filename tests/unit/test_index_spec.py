"""spec.indexes: parsing (every refusal names its field), generated names, and the SQL."""
from __future__ import annotations

from typing import Any

import pytest

from dbtable.errors import InvalidSpec
from dbtable.index_model import (INDEX_MARKER, INDEX_PREFIX, ActualIndex, DesiredIndex,
                                 build_name, generated_index_name)
from dbtable.index_operations import (BuildReplacement, CreateIndex, CreateIndexWithTable,
                                      DropFailedIndex, DropIndex, MarkIndex, PlaceIndex,
                                      RenameIndex)
from dbtable.render import render, to_text
from dbtable.spec import parse_spec

BASE: dict[str, Any] = {"tableName": "ORDERS", "primaryKey": "ID",
                        "columns": [{"ID": "bigint"}, {"EMAIL": "text"}, {"STATUS": "text"},
                                    {"CREATED_AT": "timestamptz"}, {"TAGS": "text[]"}]}


def indexes(*entries: Any) -> tuple[DesiredIndex, ...]:
    return parse_spec({**BASE, "indexes": list(entries)}).indexes


def errors_of(value: Any) -> list[str]:
    with pytest.raises(InvalidSpec) as raised:
        parse_spec({**BASE, "indexes": value})
    return [str(e) for e in raised.value.errors]


def test_the_issues_example_parses_with_defaults_and_a_generated_name() -> None:
    unnamed, named = indexes({"columns": ["CREATED_AT", "STATUS"]},
                             {"name": "ORDERS_EMAIL_LOWER", "columns": ["EMAIL"],
                              "method": "btree", "unique": False})
    assert unnamed == DesiredIndex(generated_index_name("orders", ("created_at", "status"),
                                                        "btree", False),
                                   ("created_at", "status"), "btree", False, named=False,
                                   position=0)
    assert unnamed.name.startswith("dbt_ix_created_at_status_")
    assert named == DesiredIndex("orders_email_lower", ("email",), "btree", False, named=True,
                                 position=1)


def test_no_indexes_is_the_seeds_meaning() -> None:
    assert parse_spec(BASE).indexes == ()
    assert indexes() == ()


@pytest.mark.parametrize("value, expected", [
    ("x", "spec.indexes: must be a list of indexes, got str"),
    (["EMAIL"], "spec.indexes[0]: must be a map with columns"),
    ([{}], "spec.indexes[0].columns: is required"),
    ([{"columns": []}], "spec.indexes[0].columns: has 0 columns; an index has 1 to 32"),
    ([{"columns": "EMAIL"}], "spec.indexes[0].columns: must be a list of column names"),
    ([{"columns": ["NOPE"]}], "spec.indexes[0].columns[0]: 'NOPE' is not one of the declared"),
    ([{"columns": ["EMAIL", "email"]}], "spec.indexes[0].columns[1]: names column 'email' twice"),
    ([{"columns": ["a b"]}], "spec.indexes[0].columns[0]: column name 'a b' is not a valid"),
    ([{"columns": ["EMAIL"], "method": "spgist"}], "spec.indexes[0].method: must be one of"),
    ([{"columns": ["EMAIL"], "method": "BTREE"}], "spec.indexes[0].method: must be one of"),
    ([{"columns": ["EMAIL"], "unique": "yes"}], "spec.indexes[0].unique: must be true or false"),
    ([{"columns": ["EMAIL"], "unique": True, "method": "hash"}],
     "spec.indexes[0].unique: only a btree index can be unique"),
    ([{"columns": ["EMAIL", "STATUS"], "method": "hash"}],
     "spec.indexes[0].columns: a hash index has exactly one column"),
    ([{"columns": ["EMAIL"], "where": "true"}], "spec.indexes[0].where: unknown field"),
    ([{"columns": ["EMAIL"], "name": "dbt_ix_mine"}], "spec.indexes[0].name: names starting"),
    ([{"columns": ["EMAIL"], "name": "Orders"}], "spec.indexes[0].name: 'Orders' is the table"),
    ([{"columns": ["EMAIL"], "name": "x; DROP TABLE t"}],
     "spec.indexes[0].name: index name 'x; DROP TABLE t' is not a valid"),
    ([{"columns": ["EMAIL"], "name": "a"}, {"columns": ["STATUS"], "name": "A"}],
     "spec.indexes[1].name: 'a' is also the name of spec.indexes[0]"),
    ([{"columns": ["EMAIL"]}, {"columns": ["email"], "name": "other"}],
     "spec.indexes[1]: defines the same index as spec.indexes[0]: btree (email)"),
    ([{"columns": ["EMAIL"]}] * 65, "spec.indexes: has 65 indexes; at most 64"),
    ([{"columns": [f"C{i}" for i in range(33)]}], "spec.indexes[0].columns: has 33 columns"),
])
def test_bad_indexes_are_refused_naming_the_field(value: Any, expected: str) -> None:
    assert any(e.startswith(expected) for e in errors_of(value)), errors_of(value)


def test_an_index_column_must_be_declared_even_when_it_is_dropped_or_renamed() -> None:
    spec = {**BASE, "dropColumns": ["LEGACY"], "indexes": [{"columns": ["LEGACY"]}]}
    with pytest.raises(InvalidSpec, match=r"spec.indexes\[0\].columns\[0\]: 'LEGACY' is not"):
        parse_spec(spec)


# --- names -----------------------------------------------------------------------------------

def test_generated_names_are_deterministic_and_depend_on_table_and_definition() -> None:
    name = generated_index_name("orders", ("email",), "btree", False)
    assert name == generated_index_name("orders", ("email",), "btree", False)
    others = {generated_index_name("orders", ("email",), "hash", False),
              generated_index_name("orders", ("email",), "btree", True),
              generated_index_name("customers", ("email",), "btree", False),
              generated_index_name("orders", ("email", "status"), "btree", False),
              generated_index_name("orders", ("status", "email"), "btree", False)}
    assert name not in others and len(others) == 5
    assert name.startswith(INDEX_PREFIX + "email_")


def test_generated_names_fit_in_63_bytes_with_32_long_columns() -> None:
    columns = tuple(f"c{i:02d}" + "x" * 60 for i in range(32))
    name = generated_index_name("t" * 63, columns, "btree", True)
    assert len(name.encode()) == 63
    assert name != generated_index_name("t" * 63, columns[:31], "btree", True)


def test_generated_names_never_cut_a_character_in_two() -> None:
    # Names in a spec are ASCII (the identifier rule); the function stays safe for any text.
    name = generated_index_name("t", ("é" * 40,), "btree", False)
    assert len(name.encode()) <= 63
    name.encode("utf-8").decode("utf-8")
    assert name.startswith(INDEX_PREFIX + "é")


def test_build_names_are_the_operators_and_per_table() -> None:
    assert build_name("orders", "by_email").startswith("dbt_ix_build_")
    assert build_name("orders", "by_email") != build_name("customers", "by_email")
    assert len(build_name("t" * 63, "n" * 63)) <= 63


def test_an_index_is_managed_by_prefix_or_marker_only() -> None:
    def index(name: str, comment: str | None = None) -> ActualIndex:
        return ActualIndex(name, ("email",), "btree", False, True, comment)

    assert index("dbt_ix_email_12345678").managed
    assert index("by_email", f"notes\n{INDEX_MARKER}").managed
    assert not index("by_email").managed
    assert not index("by_email", "made by hand").managed
    assert not index("by_email", INDEX_MARKER + " ").managed


# --- SQL -------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, expected", [
    (CreateIndex("orders", "dbt_ix_a", ("created_at", "status")),
     'CREATE INDEX CONCURRENTLY "dbt_ix_a" ON "public"."orders" USING btree ("created_at", '
     '"status")'),
    (CreateIndex("orders", "dbt_ix_a", ("email",), "btree", True),
     'CREATE UNIQUE INDEX CONCURRENTLY "dbt_ix_a" ON "public"."orders" USING btree ("email")'),
    (CreateIndex("orders", "dbt_ix_a", ("tags",), "gin"),
     'CREATE INDEX CONCURRENTLY "dbt_ix_a" ON "public"."orders" USING gin ("tags")'),
    (BuildReplacement("orders", "dbt_ix_build_1", ("email",), "hash", replaces="x"),
     'CREATE INDEX CONCURRENTLY "dbt_ix_build_1" ON "public"."orders" USING hash ("email")'),
    (CreateIndexWithTable("orders", "by", ("email",), "brin"),
     'CREATE INDEX "by" ON "public"."orders" USING brin ("email")'),
    (MarkIndex("orders", 'we"ird'),
     'COMMENT ON INDEX "public"."we""ird" IS \'' + INDEX_MARKER + "'"),
    (RenameIndex("orders", "a", "b"), 'ALTER INDEX "public"."a" RENAME TO "b"'),
    (PlaceIndex("orders", "dbt_ix_build_1", "b"),
     'ALTER INDEX "public"."dbt_ix_build_1" RENAME TO "b"'),
    (DropIndex("orders", "a"), 'DROP INDEX CONCURRENTLY IF EXISTS "public"."a"'),
    (DropFailedIndex("orders", "a"), 'DROP INDEX CONCURRENTLY IF EXISTS "public"."a"'),
])
def test_each_index_operation_renders_one_statement(op: Any, expected: str) -> None:
    assert [to_text(s) for s in render([op], "public")] == [expected]


def test_how_each_index_operation_runs() -> None:
    """Builds and drops are alone, outside transactions; only drops that take something
    away (and renames of a live index) are kept from the drift sweep."""
    runs = {type(op): (op.transactional, op.own_transaction, op.additive, op.lock) for op in (
        CreateIndex("t", "n", ("c",)), CreateIndexWithTable("t", "n", ("c",)),
        MarkIndex("t", "n"), RenameIndex("t", "n", "m"), PlaceIndex("t", "n", "m"),
        DropIndex("t", "n"), DropFailedIndex("t", "n"))}
    assert runs == {
        CreateIndex: (False, True, True, "SHARE UPDATE EXCLUSIVE"),
        CreateIndexWithTable: (True, False, True, "ACCESS EXCLUSIVE"),
        MarkIndex: (True, False, True, "SHARE UPDATE EXCLUSIVE"),
        RenameIndex: (True, False, False, "SHARE UPDATE EXCLUSIVE"),
        PlaceIndex: (True, False, True, "SHARE UPDATE EXCLUSIVE"),
        DropIndex: (False, True, False, "SHARE UPDATE EXCLUSIVE"),
        DropFailedIndex: (False, True, True, "SHARE UPDATE EXCLUSIVE")}
