"""Every row of "Changing a table" on a real PostgreSQL: what is applied, and each refusal
with its count and the catalog left exactly as it was (unique constraints:
tests/integration/test_unique_changes.py)."""
from __future__ import annotations

import io
import os
from unittest import mock

import pytest
import yaml
from psycopg2 import sql

from dbtable.cli import main
from dbtable.column_operations import not_null_check_name
from dbtable.plan import RefusalReason
from tests.support.column_changes import (BASE, OWNER, apply, assert_refused_unchanged, catalog,
                                          columns, converge, execute, rows)

pytestmark = pytest.mark.integration


def test_a_new_table_is_created_with_not_null_and_defaults(conn, settings) -> None:
    converge(conn, settings, columnOptions={
        "EMAIL": {"nullable": False}, "STATUS": {"nullable": False, "default": "'new'"}})
    assert columns(conn, settings) == {"id": (True, None), "email": (True, None),
                                       "status": (True, "'new'::text")}


def test_adding_a_column_with_a_constant_default_fills_existing_rows(conn, settings) -> None:
    apply(conn, settings)
    rows(conn, settings, 3)
    spec = {"columns": BASE["columns"] + [{"FLAG": "boolean"}, {"SEEN": "timestamptz"}],
            "columnOptions": {"FLAG": {"nullable": False, "default": "true"},
                              "SEEN": {"default": "now()"}}}
    (outcome,) = converge(conn, settings, **spec)
    assert outcome.statements[0].endswith('ADD COLUMN "flag" boolean NOT NULL DEFAULT true')
    assert columns(conn, settings)["flag"] == (True, "true")
    assert columns(conn, settings)["seen"] == (False, "now()")
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE flag AND seen IS NOT NULL").format(
            sql.Identifier(settings.schema, "orders")))
        assert cur.fetchone() == (3,)
    assert apply(conn, settings, **spec).statements == ()


def test_adding_not_null_without_default_is_refused_with_the_row_count(conn, settings) -> None:
    apply(conn, settings)
    rows(conn, settings, 7)
    assert_refused_unchanged(
        conn, settings, RefusalReason.ROWS_PRESENT, "7 row(s)",
        columns=BASE["columns"] + [{"FLAG": "boolean"}],
        columnOptions={"FLAG": {"nullable": False}})


def test_adding_not_null_without_default_to_an_empty_table_works(conn, settings) -> None:
    apply(conn, settings)
    converge(conn, settings, columns=BASE["columns"] + [{"FLAG": "boolean"}],
             columnOptions={"FLAG": {"nullable": False}})
    assert columns(conn, settings)["flag"] == (True, None)


def test_a_volatile_default_is_set_after_the_column_without_a_rewrite(conn, settings) -> None:
    apply(conn, settings)
    rows(conn, settings, 2)
    before = catalog(conn, settings)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT relfilenode FROM pg_class WHERE oid = %s::regclass",
                    (f'"{settings.schema}".orders',))
        (filenode,) = cur.fetchone()
    converge(conn, settings, columns=BASE["columns"] + [{"TOKEN": "uuid"}],
             columnOptions={"TOKEN": {"default": "gen_random_uuid()"}})
    assert columns(conn, settings)["token"] == (False, "gen_random_uuid()")
    with conn, conn.cursor() as cur:
        cur.execute("SELECT relfilenode FROM pg_class WHERE oid = %s::regclass",
                    (f'"{settings.schema}".orders',))
        assert cur.fetchone() == (filenode,)  # not rewritten
    assert catalog(conn, settings) != before


def test_set_not_null_goes_online_in_steps_and_resumes(conn, settings) -> None:
    apply(conn, settings)
    rows(conn, settings, 5)
    options = {"columnOptions": {"EMAIL": {"nullable": False}}}
    first = apply(conn, settings, **options)
    check = not_null_check_name("email")
    assert [s.split(" ", 3)[-1] for s in first.statements] == [
        f'ADD CONSTRAINT "{check}" CHECK ("email" IS NOT NULL) NOT VALID']
    assert [type(op).__name__ for op in first.pending] == [
        "ValidateNotNullCheck", "SetNotNull", "DropNotNullCheck"]
    # The check is there, not yet validated: a restart now resumes from it.
    with conn, conn.cursor() as cur:
        cur.execute("SELECT convalidated FROM pg_constraint WHERE conname = %s", (check,))
        assert cur.fetchone() == (False,)
    second = apply(conn, settings, **options)
    assert second.pending == ()
    assert [s.split(" ", 3)[-1] for s in second.statements] == [
        f'VALIDATE CONSTRAINT "{check}"', 'ALTER COLUMN "email" SET NOT NULL',
        f'DROP CONSTRAINT "{check}"']
    assert columns(conn, settings)["email"] == (True, None)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_constraint WHERE conname = %s", (check,))
        assert cur.fetchone() == (0,)
    assert apply(conn, settings, **options).statements == ()


def test_set_not_null_is_refused_while_nulls_exist_with_the_count(conn, settings) -> None:
    apply(conn, settings)
    rows(conn, settings, 4)
    execute(conn, settings, "INSERT INTO {t} (id) VALUES (100), (101)")
    assert_refused_unchanged(conn, settings, RefusalReason.NULLS_PRESENT, "NULL in 2 row(s)",
                             columnOptions={"EMAIL": {"nullable": False}})


def test_drop_not_null_and_change_and_drop_a_default(conn, settings) -> None:
    converge(conn, settings, columnOptions={"EMAIL": {"nullable": False},
                                            "STATUS": {"default": "'new'"}})
    converge(conn, settings, columnOptions={"EMAIL": {"nullable": True},
                                            "STATUS": {"default": "'old'"}})
    assert columns(conn, settings) == {"id": (True, None), "email": (False, None),
                                       "status": (False, "'old'::text")}
    converge(conn, settings, columnOptions={"STATUS": {"default": "null"}})
    assert columns(conn, settings)["status"] == (False, None)


def test_a_default_the_type_prints_differently_converges(conn, settings) -> None:
    spec = {"columns": BASE["columns"] + [{"AT": "timestamp"}, {"N": "numeric(10,2)"}],
            "columnOptions": {"AT": {"default": "'2024-01-01'"}, "N": {"default": "1.5"}}}
    converge(conn, settings, **spec)
    assert columns(conn, settings)["at"][1] == \
        "'2024-01-01 00:00:00'::timestamp without time zone"
    assert apply(conn, settings, **spec).statements == ()


def test_a_default_the_type_refuses_is_invalid_spec_before_any_ddl(conn, settings) -> None:
    apply(conn, settings)
    before = catalog(conn, settings)
    outcome = apply(conn, settings, columns=BASE["columns"] + [{"N": "integer"}],
                    columnOptions={"N": {"default": "'abc'"}})
    (refusal,) = outcome.plan.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.INVALID_SPEC,
                                               "spec.columnOptions.n.default")
    assert "invalid input syntax for type integer" in refusal.message
    assert catalog(conn, settings) == before


def test_a_column_is_renamed_through_previous_names_keeping_its_data(conn, settings) -> None:
    apply(conn, settings)
    rows(conn, settings, 3, email="kept@example.org")
    renamed = [{"ID": "bigint"}, {"MAIL": "text"}, {"STATUS": "text"}]
    spec = {"columns": renamed, "columnOptions": {"MAIL": {"previousNames": ["EMAIL"]}}}
    (outcome,) = converge(conn, settings, **spec)
    assert outcome.statements[0].endswith('RENAME COLUMN "email" TO "mail"')
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT DISTINCT mail FROM {}").format(
            sql.Identifier(settings.schema, "orders")))
        assert cur.fetchall() == [("kept@example.org",)]
    assert apply(conn, settings, **spec).statements == ()


def test_a_rename_is_refused_when_both_names_exist(conn, settings) -> None:
    apply(conn, settings)
    rows(conn, settings, 2)
    execute(conn, settings, "ALTER TABLE {t} ADD COLUMN mail text")
    assert_refused_unchanged(
        conn, settings, RefusalReason.COLUMN_RENAME, "both column email and column mail",
        columns=[{"ID": "bigint"}, {"MAIL": "text"}, {"STATUS": "text"}],
        columnOptions={"MAIL": {"previousNames": ["EMAIL"]}})


def test_a_column_listed_in_drop_columns_is_dropped(conn, settings) -> None:
    apply(conn, settings)
    rows(conn, settings, 2)
    (outcome,) = converge(conn, settings, columns=[{"ID": "bigint"}, {"STATUS": "text"}],
                          dropColumns=["EMAIL"])
    assert outcome.statements[0].endswith('DROP COLUMN "email"')
    assert list(columns(conn, settings)) == ["id", "status"]


def test_a_removed_column_not_in_drop_columns_is_refused_unchanged(conn, settings) -> None:
    apply(conn, settings)
    rows(conn, settings, 2)
    assert_refused_unchanged(conn, settings, RefusalReason.COLUMN_REMOVED, "spec.dropColumns",
                             columns=[{"ID": "bigint"}, {"STATUS": "text"}])


def test_a_not_null_check_made_by_someone_else_is_never_dropped(conn, settings) -> None:
    apply(conn, settings)
    execute(conn, settings, "ALTER TABLE {t} ADD CONSTRAINT email_present "
                            "CHECK (email IS NOT NULL) NOT VALID")
    converge(conn, settings, columnOptions={"EMAIL": {"nullable": False}})
    converge(conn, settings, columnOptions={"EMAIL": {"nullable": True}})
    with conn, conn.cursor() as cur:
        cur.execute("SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid = "
                    "%s::regclass", (f'"{settings.schema}".orders',))
        assert cur.fetchall() == [("email_present",)]


def test_the_plan_command_shows_where_a_transaction_of_its_own_begins(conn, settings,
                                                                       operator_db) -> None:
    apply(conn, settings)
    manifest = yaml.safe_dump({"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
                               "metadata": {"name": "orders", "namespace": "default",
                                            "uid": OWNER.uid},
                               "spec": {**BASE, "columnOptions": {"EMAIL": {"nullable": False}}}})
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, {"DBT_SCHEMA": settings.schema}), \
            mock.patch("sys.stdin", io.StringIO(manifest)):
        code = main(["plan", "-", "--database-url", operator_db["url"]], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    begins = lines.index("-- then, once the above has committed, in a transaction of its own "
                         "(SHARE UPDATE EXCLUSIVE lock):")
    assert "NOT VALID" in lines[begins - 1] and "VALIDATE CONSTRAINT" in lines[begins + 1]
