"""`python -m database_table_operator plan`, run as a user runs it, against real PostgreSQL."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from dbtable.catalog import read_table
from dbtable.database import DatabaseSettings
from dbtable.model import Owner
from dbtable.reconcile import reconcile_table
from dbtable.spec import parse_spec

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "database_table_operator", "plan", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_printed_create_table_builds_the_seed_table(operator_db) -> None:
    result = plan("example-cr.yaml")
    assert result.returncode == 0, result.stderr
    conn = psycopg2.connect(operator_db["url"])
    try:
        with conn, conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS public.website_users")
            cur.execute(result.stdout)
            table = read_table(cur, "public", "website_users")
            cur.execute("DROP TABLE public.website_users")
    finally:
        conn.close()
    assert [(c.name, c.type) for c in table.columns] == [
        ("user_id", "integer"), ("user_name", "character varying(50)"),
        ("user_email", "character varying(100)"), ("signup_date", "date"),
        ("last_login", "timestamp without time zone")]
    assert table.primary_key == ("user_id",)
    assert table.owner is None  # the uid comes from the API server; a file has none


def test_live_diff_prints_only_the_changes(operator_db, conn, tmp_path: Path) -> None:
    settings = DatabaseSettings(url=operator_db["url"])
    spec = {"tableName": "PLAN_DIFF", "columns": [{"ID": "integer"}], "primaryKey": "ID"}
    reconcile_table(conn, settings, parse_spec(spec), Owner("default", "plan-diff", "u-1"))
    manifest = tmp_path / "diff.yaml"
    manifest.write_text("apiVersion: kopf.demo/v1\nkind: DatabaseTable\n"
                        "metadata: {name: plan-diff, namespace: default}\n"
                        "spec: {tableName: PLAN_DIFF, columns: [{ID: integer}, {NOTE: text}], "
                        "primaryKey: ID}\n")
    result = plan(str(manifest), "--database-url", operator_db["url"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "-- DatabaseTable default/plan-diff",
        'ALTER TABLE "public"."plan_diff" ADD COLUMN "note" text;  -- ACCESS EXCLUSIVE lock, '
        'no scan, no rewrite']
    assert operator_db["password"] not in result.stdout + result.stderr

    manifest.write_text(manifest.read_text().replace("{ID: integer}, {NOTE: text}", "{ID: bigint}"))
    refused = plan(str(manifest), "--database-url", operator_db["url"])
    assert refused.returncode != 0 and refused.stdout == ""
    assert "spec.columns.id: column id is integer" in refused.stderr


def test_unreachable_database_is_reported_without_the_password(operator_db) -> None:
    url = operator_db["url"].rsplit("@", 1)[0] + "@127.0.0.1:1/nowhere"
    result = plan("example-cr.yaml", "--database-url", url)
    assert result.returncode != 0 and result.stdout == ""
    assert "cannot connect" in result.stderr
    assert operator_db["password"] not in result.stderr


def test_each_statement_says_its_lock_and_whether_it_scans(operator_db, conn,
                                                          tmp_path: Path) -> None:
    """NOT NULL and unique on a live table: the scanning steps say so, the others do not."""
    settings = DatabaseSettings(url=operator_db["url"])
    spec = {"tableName": "PLAN_STEPS", "columns": [{"ID": "integer"}, {"EMAIL": "text"}],
            "primaryKey": "ID"}
    reconcile_table(conn, settings, parse_spec(spec), Owner("default", "plan-steps", "u-2"))
    manifest = tmp_path / "steps.yaml"
    manifest.write_text("apiVersion: kopf.demo/v1\nkind: DatabaseTable\n"
                        "metadata: {name: plan-steps, namespace: default}\n"
                        "spec: {tableName: PLAN_STEPS, columns: [{ID: integer}, {EMAIL: text}], "
                        "primaryKey: ID, columnOptions: {EMAIL: {nullable: false, unique: true}}}\n")
    result = plan(str(manifest), "--database-url", operator_db["url"])
    assert result.returncode == 0, result.stderr
    print(result.stdout)  # the README's example is this output
    effects = [line.split(";  -- ", 1)[1] for line in result.stdout.splitlines()
               if ";  -- " in line]
    statements = [line.split(";  -- ", 1)[0] for line in result.stdout.splitlines()
                  if ";  -- " in line]
    verbs = ["NOT VALID", "VALIDATE CONSTRAINT", "SET NOT NULL", "DROP CONSTRAINT",
             "CREATE UNIQUE INDEX CONCURRENTLY", "UNIQUE USING INDEX"]
    assert len(statements) == len(verbs)
    assert all(verb in statement for verb, statement in zip(verbs, statements)), statements
    assert effects == [
        "ACCESS EXCLUSIVE lock, no scan, no rewrite",
        "SHARE UPDATE EXCLUSIVE lock, scans the table, reads and writes go on",
        "ACCESS EXCLUSIVE lock, no scan, no rewrite",
        "ACCESS EXCLUSIVE lock, no scan, no rewrite",
        "SHARE UPDATE EXCLUSIVE lock, scans the table, reads and writes go on",
        "ACCESS EXCLUSIVE lock, no scan, no rewrite"]


def test_index_steps_on_a_live_table_say_their_lock_and_scan(operator_db, conn,
                                                              tmp_path: Path) -> None:
    settings = DatabaseSettings(url=operator_db["url"])
    spec = {"tableName": "PLAN_INDEXES", "columns": [{"ID": "integer"}, {"EMAIL": "text"}],
            "primaryKey": "ID"}
    reconcile_table(conn, settings, parse_spec(spec), Owner("default", "plan-indexes", "u-3"))
    manifest = tmp_path / "indexes.yaml"
    manifest.write_text("apiVersion: kopf.demo/v1\nkind: DatabaseTable\n"
                        "metadata: {name: plan-indexes, namespace: default}\n"
                        "spec: {tableName: PLAN_INDEXES, columns: [{ID: integer}, {EMAIL: text}],"
                        " primaryKey: ID, indexes: [{name: BY_EMAIL, columns: [EMAIL]}]}\n")
    result = plan(str(manifest), "--database-url", operator_db["url"])
    assert result.returncode == 0, result.stderr
    lines = [line.split(";  -- ", 1) for line in result.stdout.splitlines() if ";  -- " in line]
    assert [(statement.split(" ")[0:2], effect) for statement, effect in lines] == [
        (["CREATE", "INDEX"], "SHARE UPDATE EXCLUSIVE lock, scans the table, reads and writes "
                              "go on"),
        (["COMMENT", "ON"], "SHARE UPDATE EXCLUSIVE lock, no scan, no rewrite"),
        (["ALTER", "INDEX"], "SHARE UPDATE EXCLUSIVE lock, no scan, no rewrite")]
    assert "CONCURRENTLY" in lines[0][0] and lines[2][0].endswith('RENAME TO "by_email"')


def test_type_changes_say_whether_they_rewrite(operator_db, conn, tmp_path: Path) -> None:
    """A widening: no scan, no rewrite; integer to bigint with allowTableRewrite: rewrites,
    in a transaction of its own; without the opt-in: refused, naming it."""
    settings = DatabaseSettings(url=operator_db["url"])
    spec = {"tableName": "PLAN_TYPES", "columns": [{"ID": "integer"}, {"EMAIL": "varchar(50)"},
                                                   {"HITS": "integer"}], "primaryKey": "ID"}
    reconcile_table(conn, settings, parse_spec(spec), Owner("default", "plan-types", "u-3"))
    manifest = tmp_path / "types.yaml"
    text = ("apiVersion: kopf.demo/v1\nkind: DatabaseTable\n"
            "metadata: {name: plan-types, namespace: default}\n"
            "spec: {tableName: PLAN_TYPES, primaryKey: ID, allowTableRewrite: true, columns: "
            "[{ID: integer}, {EMAIL: varchar(200)}, {HITS: bigint}]}\n")
    manifest.write_text(text)
    result = plan(str(manifest), "--database-url", operator_db["url"])
    assert result.returncode == 0, result.stderr
    print(result.stdout)  # the README's example is this output
    assert result.stdout.splitlines() == [
        "-- DatabaseTable default/plan-types",
        'ALTER TABLE "public"."plan_types" ALTER COLUMN "email" TYPE character varying(200);  '
        "-- ACCESS EXCLUSIVE lock, no scan, no rewrite",
        "-- then, once the above has committed, in a transaction of its own "
        "(ACCESS EXCLUSIVE lock):",
        'ALTER TABLE "public"."plan_types" ALTER COLUMN "hits" TYPE bigint;  '
        "-- ACCESS EXCLUSIVE lock, rewrites the table, blocks reads and writes"]
    manifest.write_text(text.replace("allowTableRewrite: true", "allowTableRewrite: false"))
    refused = plan(str(manifest), "--database-url", operator_db["url"])
    assert refused.returncode != 0 and refused.stdout == ""
    assert "spec.columns.hits: column hits is integer in table plan_types, the spec says " \
           "bigint: that rewrites the table" in refused.stderr
    assert "set spec.allowTableRewrite: true" in refused.stderr
