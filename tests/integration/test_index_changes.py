"""spec.indexes on a real PostgreSQL: built and dropped concurrently, rebuilt when INVALID or
changed, hand-made indexes never touched, refusals with the catalog left as it was."""
from __future__ import annotations

from typing import Any

import psycopg2
import pytest

from dbtable.database import DatabaseSettings
from dbtable.index_model import INDEX_MARKER, build_name, generated_index_name
from dbtable.index_operations import CreateIndex
from dbtable.plan import RefusalReason
from dbtable.lone_statement import execute_alone
from tests.support.column_changes import OWNER, apply, assert_refused_unchanged, converge, execute

pytestmark = pytest.mark.integration

BY_STATUS = {"name": "BY_STATUS", "columns": ["STATUS"]}
ON_EMAIL = {"columns": ["EMAIL"]}
GENERATED = generated_index_name("orders", ("email",), "btree", False)


def indexes(conn: Any, settings: DatabaseSettings) -> dict[str, tuple[str, bool, str | None]]:
    """Every index of the table: its definition, validity and comment, by name."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT i.relname, pg_get_indexdef(i.oid), x.indisvalid, "
                    "obj_description(i.oid, 'pg_class') FROM pg_index x JOIN pg_class i "
                    "ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass",
                    (f'"{settings.schema}".orders',))
        return {name: (definition.split(" USING ")[1], valid, comment)
                for name, definition, valid, comment in cur.fetchall()}


def statements(outcomes: list[Any]) -> list[str]:
    return [s for o in outcomes for s in o.statements]


def test_a_new_table_gets_its_indexes_in_the_creating_transaction(conn, settings) -> None:
    (outcome,) = converge(conn, settings, indexes=[ON_EMAIL, {**BY_STATUS, "unique": True}])
    assert indexes(conn, settings) == {
        "orders_pkey": ("btree (id)", True, None),
        GENERATED: ("btree (email)", True, None),
        "by_status": ("btree (status)", True, INDEX_MARKER)}
    assert [(i.name, i.columns, i.unique, i.valid, i.managed) for i in outcome.table.indexes] \
        == [("by_status", ("status",), True, True, True),
            (GENERATED, ("email",), False, True, True)]
    assert apply(conn, settings, indexes=[ON_EMAIL, {**BY_STATUS, "unique": True}]
                 ).statements == ()


def test_indexes_are_added_concurrently_and_a_named_one_placed_marked(conn, settings) -> None:
    apply(conn, settings)
    execute(conn, settings, "INSERT INTO {t} (id, email, status) SELECT g, 'u' || g, 'new' "
                            "FROM generate_series(1, 100) g")
    outcomes = converge(conn, settings, indexes=[ON_EMAIL, BY_STATUS])
    build = build_name("orders", "by_status")
    schema = settings.schema
    assert statements(outcomes) == [
        f'CREATE INDEX CONCURRENTLY "{GENERATED}" ON "{schema}"."orders" USING btree ("email")',
        f'CREATE INDEX CONCURRENTLY "{build}" ON "{schema}"."orders" USING btree ("status")',
        f'COMMENT ON INDEX "{schema}"."{build}" IS \'{INDEX_MARKER}\'',
        f'ALTER INDEX "{schema}"."{build}" RENAME TO "by_status"']
    assert indexes(conn, settings)["by_status"] == ("btree (status)", True, INDEX_MARKER)
    assert outcomes[0].pending  # one concurrent statement per call
    assert apply(conn, settings, indexes=[ON_EMAIL, BY_STATUS]).statements == ()


def test_a_changed_named_index_is_built_anew_then_swapped_in(conn, settings) -> None:
    converge(conn, settings)
    converge(conn, settings, indexes=[BY_STATUS])
    changed = {**BY_STATUS, "columns": ["STATUS", "EMAIL"]}
    outcomes = converge(conn, settings, indexes=[changed])
    build = build_name("orders", "by_status")
    assert [s.split(" ON ")[0].split(" RENAME")[0] for s in statements(outcomes)] == [
        f'CREATE INDEX CONCURRENTLY "{build}"',
        f'COMMENT',
        f'DROP INDEX CONCURRENTLY IF EXISTS "{settings.schema}"."by_status"',
        f'ALTER INDEX "{settings.schema}"."{build}"']
    assert indexes(conn, settings)["by_status"] == ("btree (status, email)", True, INDEX_MARKER)
    assert apply(conn, settings, indexes=[changed]).statements == ()


def test_removed_indexes_are_dropped_and_hand_made_ones_never(conn, settings) -> None:
    converge(conn, settings, indexes=[ON_EMAIL, BY_STATUS])
    execute(conn, settings, "CREATE INDEX by_hand ON {t} (email, status)")
    execute(conn, settings, "CREATE INDEX dbt_looks_like_ours ON {t} (status)")
    outcomes = converge(conn, settings)
    assert sorted(statements(outcomes)) == [
        f'DROP INDEX CONCURRENTLY IF EXISTS "{settings.schema}"."by_status"',
        f'DROP INDEX CONCURRENTLY IF EXISTS "{settings.schema}"."{GENERATED}"']
    assert set(indexes(conn, settings)) == {"orders_pkey", "by_hand", "dbt_looks_like_ours"}
    assert [(i.name, i.managed) for i in outcomes[-1].table.indexes] == [
        ("by_hand", False), ("dbt_looks_like_ours", False)]


def test_a_hand_made_index_of_the_same_name_is_refused_and_left_as_it_is(conn,
                                                                         settings) -> None:
    apply(conn, settings)
    execute(conn, settings, "CREATE INDEX by_status ON {t} (status)")
    assert_refused_unchanged(conn, settings, RefusalReason.CONFLICT, "did not make",
                             indexes=[BY_STATUS])
    # Handed over with the statement the message gives: then it is the operator's.
    with conn, conn.cursor() as cur:
        cur.execute(f'COMMENT ON INDEX "{settings.schema}".by_status IS %s', (INDEX_MARKER,))
    assert apply(conn, settings, indexes=[BY_STATUS]).statements == ()


def test_a_name_held_by_another_table_is_refused(conn, settings) -> None:
    apply(conn, settings)
    execute(conn, settings, f'CREATE TABLE "{settings.schema}".by_status (x int)')
    assert_refused_unchanged(conn, settings, RefusalReason.CONFLICT,
                             "taken by the table by_status", indexes=[BY_STATUS])


def test_a_unique_index_is_refused_while_rows_repeat_with_the_count(conn, settings) -> None:
    apply(conn, settings)
    execute(conn, settings, "INSERT INTO {t} (id, email, status) VALUES (1, 'a', 'x'), "
                            "(2, 'a', 'x'), (3, 'a', 'x'), (4, 'a', 'y'), (5, NULL, 'x'), "
                            "(6, NULL, 'x')")
    assert_refused_unchanged(conn, settings, RefusalReason.DUPLICATES_PRESENT, "2 row(s)",
                             indexes=[{"columns": ["EMAIL", "STATUS"], "unique": True}])


def test_an_invalid_index_of_ours_is_dropped_and_built_again(conn, settings) -> None:
    """Made INVALID for real: a concurrent unique build over repeating values fails."""
    apply(conn, settings)
    execute(conn, settings, "INSERT INTO {t} (id, email) VALUES (1, 'a'), (2, 'a')")
    name = generated_index_name("orders", ("email",), "btree", True)
    conn.autocommit = True
    with pytest.raises(psycopg2.errors.UniqueViolation), conn.cursor() as cur:
        cur.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{name}" ON "{settings.schema}".orders '
                    "(email)")
    conn.autocommit = False
    assert indexes(conn, settings)[name][1] is False
    execute(conn, settings, "UPDATE {t} SET email = 'b' WHERE id = 2")
    outcomes = converge(conn, settings, indexes=[{"columns": ["EMAIL"], "unique": True}])
    assert statements(outcomes)[0] == (f'DROP INDEX CONCURRENTLY IF EXISTS '
                                       f'"{settings.schema}"."{name}"')
    assert indexes(conn, settings)[name] == ("btree (email)", True, None)


def test_a_failed_concurrent_build_drops_its_invalid_index_at_once(conn, settings) -> None:
    apply(conn, settings)
    execute(conn, settings, "INSERT INTO {t} (id, email) VALUES (1, 'a'), (2, 'a')")
    with pytest.raises(psycopg2.errors.UniqueViolation):
        execute_alone(conn, settings, OWNER,
                      CreateIndex("orders", "dbt_ix_x", ("email",), "btree", True))
    assert set(indexes(conn, settings)) == {"orders_pkey"}


def test_a_build_that_meets_someone_elses_index_of_that_name_leaves_it(conn, settings) -> None:
    apply(conn, settings)
    execute(conn, settings, "CREATE INDEX dbt_ix_x ON {t} (status)")
    with pytest.raises(psycopg2.errors.DuplicateTable):
        execute_alone(conn, settings, OWNER, CreateIndex("orders", "dbt_ix_x", ("email",)))
    assert indexes(conn, settings)["dbt_ix_x"] == ("btree (status)", True, None)


def test_renaming_an_indexed_column_renames_no_build(conn, settings) -> None:
    converge(conn, settings, indexes=[ON_EMAIL, {"name": "BY_EMAIL", "columns": ["EMAIL"],
                                                 "method": "hash"}])
    before = indexes(conn, settings)
    columns = [{"ID": "bigint"}, {"MAIL": "text"}, {"STATUS": "text"}]
    outcomes = converge(conn, settings, columns=columns,
                        columnOptions={"MAIL": {"previousNames": ["EMAIL"]}},
                        indexes=[{"columns": ["MAIL"]}, {"name": "BY_EMAIL", "columns": ["MAIL"],
                                                         "method": "hash"}])
    renamed = generated_index_name("orders", ("mail",), "btree", False)
    assert statements(outcomes) == [
        f'ALTER TABLE "{settings.schema}"."orders" RENAME COLUMN "email" TO "mail"',
        f'ALTER INDEX "{settings.schema}"."{GENERATED}" RENAME TO "{renamed}"']
    assert indexes(conn, settings)[renamed] == ("btree (mail)", True, None)
    assert indexes(conn, settings)["by_email"] == ("hash (mail)", True, before["by_email"][2])


def test_gin_on_an_array_works_and_on_a_type_without_an_operator_class_fails_clearly(
        conn, settings) -> None:
    columns = [{"ID": "bigint"}, {"EMAIL": "text"}, {"STATUS": "text"}, {"TAGS": "text[]"}]
    converge(conn, settings, columns=columns, indexes=[{"columns": ["TAGS"], "method": "gin"}])
    assert any(d == ("gin (tags)", True, None) for d in indexes(conn, settings).values())
    before = indexes(conn, settings)
    with pytest.raises(psycopg2.Error, match="has no default operator class for access "
                                             "method \"gin\""):
        converge(conn, settings, columns=columns, indexes=[{"columns": ["TAGS"],
                                                            "method": "gin"},
                                                           {"columns": ["ID"], "method": "gin"}])
    assert indexes(conn, settings) == before


def test_the_drift_sweeps_bulk_read_sees_the_same_indexes(conn, settings) -> None:
    from dbtable.catalog import read_managed_tables, read_owned_table

    converge(conn, settings, indexes=[ON_EMAIL, BY_STATUS])
    execute(conn, settings, "CREATE INDEX by_hand ON {t} (lower(email))")
    with conn, conn.cursor() as cur:
        (swept,), _ = read_managed_tables(cur, settings.schema)
        owned = read_owned_table(cur, settings.schema, OWNER)
    assert swept.indexes == owned.indexes
    assert [(i.name, i.columns, i.expressions, i.managed) for i in owned.indexes] == [
        ("by_hand", ("lower(email)",), True, False),
        ("by_status", ("status",), False, True),
        (GENERATED, ("email",), False, True)]
