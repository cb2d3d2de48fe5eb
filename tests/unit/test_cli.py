"""The plan command without a database: prints CREATE TABLE, or explains what is wrong."""
from __future__ import annotations

import io
from pathlib import Path

from dbtable.cli import EXIT_INVALID, main

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_seed_example_plans_a_create_table() -> None:
    code, out, err = run("plan", str(ROOT / "example-cr.yaml"))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "-- DatabaseTable default/website-users"
    assert lines[1].startswith('CREATE TABLE "public"."website_users" ("user_id" integer, ')
    assert lines[1].endswith('PRIMARY KEY ("user_id"));  -- ACCESS EXCLUSIVE lock, '
                             'no scan, no rewrite')
    assert lines[2:] == ["-- and mark the table as owned by DatabaseTable default/website-users "
                         "(uid assigned by Kubernetes)"]


def test_invalid_resource_prints_nothing_on_stdout(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text("apiVersion: kopf.demo/v1\nkind: DatabaseTable\nmetadata: {name: bad}\n"
                        "spec: {tableName: 'x;y', columns: [], primaryKey: ID}\n")
    code, out, err = run("plan", str(manifest))
    assert code == EXIT_INVALID and out == ""
    assert "DatabaseTable default/bad: spec.tableName:" in err
    assert "DatabaseTable default/bad: spec.columns: must list at least one column" in err


def test_one_invalid_resource_suppresses_all_output(tmp_path: Path) -> None:
    good = (ROOT / "example-cr.yaml").read_text()
    manifest = tmp_path / "two.yaml"
    manifest.write_text(good + "\n---\napiVersion: kopf.demo/v1\nkind: DatabaseTable\n"
                        "metadata: {name: bad}\nspec: {tableName: t, columns: [{ID: 'int; x'}], "
                        "primaryKey: ID}\n")
    code, out, err = run("plan", str(manifest))
    assert code == EXIT_INVALID and out == ""
    assert "spec.columns[0].ID: column type" in err


def test_file_without_resources_is_an_error(tmp_path: Path) -> None:
    manifest = tmp_path / "empty.yaml"
    manifest.write_text("kind: ConfigMap\n")
    code, out, err = run("plan", str(manifest))
    assert code == EXIT_INVALID and out == "" and "no DatabaseTable" in err


def test_unreadable_yaml_is_an_error(tmp_path: Path) -> None:
    manifest = tmp_path / "broken.yaml"
    manifest.write_text("spec: [unclosed\n")
    code, out, _ = run("plan", str(manifest))
    assert code == EXIT_INVALID and out == ""


def test_uid_that_is_not_a_kubernetes_uid_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "uid.yaml"
    manifest.write_text("apiVersion: kopf.demo/v1\nkind: DatabaseTable\n"
                        "metadata: {name: t, uid: \"x'; DROP TABLE t; --\"}\n"
                        "spec: {tableName: t, columns: [{ID: int}], primaryKey: ID}\n")
    code, out, err = run("plan", str(manifest))
    assert code == EXIT_INVALID and out == ""
    assert "metadata.uid: " in err


def test_kubernetes_uid_from_a_file_is_written_into_the_marker(tmp_path: Path) -> None:
    manifest = tmp_path / "uid.yaml"
    manifest.write_text("apiVersion: kopf.demo/v1\nkind: DatabaseTable\n"
                        "metadata: {name: t, uid: 0b1c9a2e-1111-4222-8333-944455556666}\n"
                        "spec: {tableName: t, columns: [{ID: int}], primaryKey: ID}\n")
    code, out, _ = run("plan", str(manifest))
    assert code == 0
    assert '"uid": "0b1c9a2e-1111-4222-8333-944455556666"' in out.splitlines()[-1]


def test_unparsable_database_url_is_reported_without_quoting_it() -> None:
    code, out, err = run("plan", str(ROOT / "example-cr.yaml"),
                         "--database-url", "postgresql://app:s3cr%zzet@db/app")
    assert (code, out) == (4, "")
    assert err.startswith("cannot connect to the database: DATABASE_URL is not a valid")
    assert "s3cr" not in err and "zzet" not in err
