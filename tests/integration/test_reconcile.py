"""Reconciling against a real PostgreSQL server, checked in the catalog."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql

from dbtable.catalog import read_owned_table, read_table
from dbtable.database import DatabaseSettings
from dbtable.model import DeletionPolicy, Owner
from dbtable.plan import RefusalReason
from dbtable.reconcile import delete_table, reconcile_table
from dbtable.render import render, to_text
from dbtable.spec import parse_spec
from tests.support.seed import seed_spec

pytestmark = pytest.mark.integration

OWNER = Owner("default", "website-users", "5f1e0c2a-0000-4000-8000-000000000001")
OTHER = Owner("default", "intruder", "5f1e0c2a-0000-4000-8000-000000000002")
SEED = seed_spec()


def apply(conn: Any, settings: DatabaseSettings, owner: Owner = OWNER, **changes: Any):
    return reconcile_table(conn, settings, parse_spec({**SEED, **changes}), owner)


def columns_of(conn: Any, settings: DatabaseSettings, table: str) -> list[tuple[str, str]]:
    with conn, conn.cursor() as cur:
        found = read_table(cur, settings.schema, table)
    return [(c.name, c.type) for c in found.columns] if found else []


def snapshot(conn: Any, schema: str) -> list[tuple]:
    """Everything the catalog says about the schema's tables: columns, constraints, comments."""
    with conn, conn.cursor() as cur:
        cur.execute("""
            SELECT c.relname, c.oid::int, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                   a.attnotnull, obj_description(c.oid, 'pg_class'),
                   (SELECT array_agg(conname || ':' || pg_get_constraintdef(oid) ORDER BY conname)
                      FROM pg_constraint WHERE conrelid = c.oid)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE n.nspname = %s ORDER BY c.relname, a.attnum""", (schema,))
        return cur.fetchall()


def insert_user(conn: Any, settings: DatabaseSettings, table: str, user_id: int) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("INSERT INTO {} (user_id, user_name, user_email) VALUES (%s, %s, %s)")
                    .format(sql.Identifier(settings.schema, table)),
                    (user_id, f"user {user_id}", f"u{user_id}@example.org"))


def test_seed_table_is_created_with_columns_key_and_marker(conn, settings) -> None:
    outcome = apply(conn, settings)
    assert outcome.statements[0].startswith(f'CREATE TABLE "{settings.schema}"."website_users"')
    assert columns_of(conn, settings, "website_users") == [
        ("user_id", "integer"), ("user_name", "character varying(50)"),
        ("user_email", "character varying(100)"), ("signup_date", "date"),
        ("last_login", "timestamp without time zone")]
    assert outcome.table.primary_key == ("user_id",)
    assert outcome.table.owner == OWNER


def test_second_reconcile_executes_no_statement(conn, settings) -> None:
    apply(conn, settings)
    before = snapshot(conn, settings.schema)
    again = apply(conn, settings)
    assert again.statements == () and again.plan.operations == ()
    assert snapshot(conn, settings.schema) == before


def test_added_column_rename_and_key_change_keep_rows(conn, settings) -> None:
    apply(conn, settings)
    insert_user(conn, settings, "website_users", 1)
    apply(conn, settings, columns=SEED["columns"] + [{"COUNTRY": "char(2)"}])
    apply(conn, settings, tableName="USERS", columns=SEED["columns"] + [{"COUNTRY": "char(2)"}])
    outcome = apply(conn, settings, tableName="USERS",
                    columns=SEED["columns"] + [{"COUNTRY": "char(2)"}],
                    primaryKey="USER_ID, USER_EMAIL")
    assert outcome.table.name == "users"
    assert outcome.table.primary_key == ("user_id", "user_email")
    assert ("country", "character(2)") in columns_of(conn, settings, "users")
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT user_id, user_name FROM {}").format(
            sql.Identifier(settings.schema, "users")))
        assert cur.fetchall() == [(1, "user 1")]
    assert columns_of(conn, settings, "website_users") == []


def test_rename_is_found_again_by_the_marker(conn, settings) -> None:
    apply(conn, settings)
    apply(conn, settings, tableName="RENAMED")
    with conn, conn.cursor() as cur:
        assert read_owned_table(cur, settings.schema, OWNER).name == "renamed"
    assert apply(conn, settings, tableName="RENAMED").statements == ()


@pytest.mark.parametrize("columns, reason", [
    (SEED["columns"][:-1], RefusalReason.COLUMN_REMOVED),
    ([{"USER_ID": "bigint"}] + SEED["columns"][1:], RefusalReason.TABLE_REWRITE),
    ([{"USER_ID": "integer"}, {"USER_NAME": "varchar(40)"}] + SEED["columns"][2:],
     RefusalReason.TYPE_CHANGED),
])
def test_refused_change_leaves_the_catalog_byte_for_byte_unchanged(conn, settings, columns,
                                                                   reason) -> None:
    apply(conn, settings)
    before = snapshot(conn, settings.schema)
    # Allowed changes in the same spec (rename, new column, new key) are not applied either.
    outcome = apply(conn, settings, tableName="OTHER_NAME", primaryKey="USER_ID, SIGNUP_DATE",
                    columns=columns + [{"EXTRA": "text"}])
    assert outcome.plan.refused and outcome.statements == ()
    assert outcome.plan.refusals[0].reason is reason
    assert snapshot(conn, settings.schema) == before


def test_failing_statement_rolls_back_the_whole_plan(conn, settings) -> None:
    apply(conn, settings)
    for user_id in (1, 2):
        insert_user(conn, settings, "website_users", user_id)
    before = snapshot(conn, settings.schema)
    # Rename and add a column (fine), then key on user_name+signup_date: signup_date is NULL
    # in both rows, so ADD PRIMARY KEY fails after the first two statements ran.
    with pytest.raises(psycopg2.errors.NotNullViolation):
        apply(conn, settings, tableName="MOVED", primaryKey="SIGNUP_DATE",
              columns=SEED["columns"] + [{"NEW_COLUMN": "text"}])
    assert snapshot(conn, settings.schema) == before


def test_table_of_another_resource_is_never_touched(conn, settings) -> None:
    apply(conn, settings)
    before = snapshot(conn, settings.schema)
    outcome = apply(conn, settings, owner=OTHER, columns=SEED["columns"] + [{"X": "int"}])
    assert outcome.plan.refusals[0].reason is RefusalReason.CONFLICT
    assert "default/website-users" in outcome.plan.refusals[0].message
    delete = delete_table(conn, settings, OTHER, DeletionPolicy.DROP)
    assert delete.statements == ()
    assert snapshot(conn, settings.schema) == before


def test_unowned_table_is_not_touched_unless_adopted(conn, settings) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE {} (user_id integer PRIMARY KEY, note text)").format(
            sql.Identifier(settings.schema, "website_users")))
    before = snapshot(conn, settings.schema)
    refused = apply(conn, settings)
    assert refused.plan.refusals[0].reason is RefusalReason.CONFLICT
    assert delete_table(conn, settings, OWNER, DeletionPolicy.DROP).statements == ()
    assert snapshot(conn, settings.schema) == before

    matching = [{"USER_ID": "integer"}, {"NOTE": "text"}, {"EXTRA": "date"}]
    unconsented = apply(conn, settings, adoptExistingTable=True, columns=matching)
    assert unconsented.plan.refusals[0].reason is RefusalReason.CONFLICT
    assert "adoptBy" in unconsented.plan.refusals[0].message
    assert snapshot(conn, settings.schema) == before

    with conn, conn.cursor() as cur:  # what a database owner runs to consent
        cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
            sql.Identifier(settings.schema, "website_users"), sql.Literal(OWNER.consent())))
    adopted = apply(conn, settings, adoptExistingTable=True, columns=matching)
    assert adopted.table.owner == OWNER
    assert [c.name for c in adopted.table.columns] == ["user_id", "note", "extra"]


def test_drop_policy_drops_and_retain_policy_keeps_rows(conn, settings) -> None:
    apply(conn, settings)
    assert delete_table(conn, settings, OWNER, DeletionPolicy.DROP).statements == (
        f'DROP TABLE "{settings.schema}"."website_users"',)
    assert columns_of(conn, settings, "website_users") == []

    apply(conn, settings)
    insert_user(conn, settings, "website_users", 7)
    delete_table(conn, settings, OWNER, DeletionPolicy.RETAIN)
    with conn, conn.cursor() as cur:
        kept = read_table(cur, settings.schema, "website_users")
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(settings.schema, "website_users")))
        assert cur.fetchone() == (1,)
    assert kept is not None and kept.owner is None and kept.comment is None


def test_delete_is_idempotent(conn, settings) -> None:
    apply(conn, settings)
    delete_table(conn, settings, OWNER, DeletionPolicy.DROP)
    assert delete_table(conn, settings, OWNER, DeletionPolicy.DROP).statements == ()


def test_locked_table_times_out_instead_of_hanging(conn, other_conn, settings) -> None:
    apply(conn, settings)
    with other_conn.cursor() as cur:
        cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
            sql.Identifier(settings.schema, "website_users")))
    started = time.monotonic()
    with pytest.raises(psycopg2.errors.LockNotAvailable):
        apply(conn, settings, columns=SEED["columns"] + [{"X": "int"}])
    assert time.monotonic() - started < 10
    other_conn.rollback()
    assert apply(conn, settings, columns=SEED["columns"] + [{"X": "int"}]).statements


def test_offline_rendering_equals_psycopg2_quoting(conn, settings) -> None:
    outcome = apply(conn, settings)
    operations = outcome.plan.operations
    for statement in render(operations, settings.schema):
        assert to_text(statement) == statement.as_string(conn)


def test_reserved_words_work_as_names(conn, settings) -> None:
    spec = {"tableName": "order", "columns": [{"user": "text"}, {"select": "integer"}],
            "primaryKey": "select"}
    outcome = reconcile_table(conn, settings, parse_spec(spec), OWNER)
    assert outcome.table.name == "order"
    assert [c.name for c in outcome.table.columns] == ["user", "select"]


def test_settings_do_not_leak_the_password(operator_db) -> None:
    settings = DatabaseSettings(url=operator_db["url"])
    assert operator_db["password"] not in repr(settings)
    assert operator_db["password"] not in settings.describe({})
    assert dataclasses.asdict(settings)  # still a plain dataclass


@pytest.mark.parametrize("create_other, kind", [
    ("CREATE VIEW {} AS SELECT 1 AS one", "a view"),
    ("CREATE SEQUENCE {}", "a sequence"),
    ("CREATE TYPE {} AS ENUM ('a')", "a type"),
])
def test_name_held_by_another_kind_of_object_is_a_conflict(conn, settings, create_other,
                                                           kind) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL(create_other).format(sql.Identifier(settings.schema,
                                                                "website_users")))
    before = snapshot(conn, settings.schema)
    outcome = apply(conn, settings)
    (refusal,) = outcome.plan.refusals
    assert refusal.reason is RefusalReason.CONFLICT and f"{kind} website_users" in refusal.message
    assert snapshot(conn, settings.schema) == before


def test_rename_onto_its_own_index_name_is_a_conflict(conn, settings) -> None:
    apply(conn, settings)
    outcome = apply(conn, settings, tableName="WEBSITE_USERS_PKEY")
    (refusal,) = outcome.plan.refusals
    assert refusal.message == ("the name website_users_pkey is taken by an index "
                               "website_users_pkey; choose another tableName")
