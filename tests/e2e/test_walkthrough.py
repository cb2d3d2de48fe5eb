"""The seed's walkthrough, end to end: kubectl apply → PostgreSQL table, and every change."""
from __future__ import annotations

import pytest
import yaml

from tests.e2e.conftest import Database, Namespace, describe
from tests.support.k8s import ROOT, resource, wait_for

SEED = yaml.safe_load((ROOT / "example-cr.yaml").read_text())
COLUMNS = SEED["spec"]["columns"]


def with_spec(**changes: object) -> str:
    return resource("website-users", {**SEED["spec"], **changes})


def columns(database: Database, table: str) -> list[tuple[str, str]]:
    found = database.table(table)
    return [(c.name, c.type) for c in found.columns] if found else []


def count_rows(database: Database, table: str) -> int:
    return database.execute(f'SELECT count(*) FROM public."{table}"')[0][0]


@pytest.mark.parametrize("mode", ["container", "inprocess"])
def test_seed_walkthrough(mode: str, namespace: Namespace, database: Database,
                          start_operator) -> None:
    start_operator(mode)

    # Create: the seed's example, unchanged.
    namespace.kubectl("apply", "-f", str(ROOT / "example-cr.yaml"))
    namespace.wait_ready("website-users")
    assert columns(database, "website_users") == [
        ("user_id", "integer"), ("user_name", "character varying(50)"),
        ("user_email", "character varying(100)"), ("signup_date", "date"),
        ("last_login", "timestamp without time zone")]
    assert database.table("website_users").primary_key == ("user_id",)
    listing = namespace.kubectl("get", "databasetables").stdout.splitlines()
    assert listing[0].split() == ["NAME", "TABLE", "READY", "REASON", "AGE"]
    assert listing[1].split()[:4] == ["website-users", "website_users", "True", "Reconciled"]
    database.execute("INSERT INTO public.website_users (user_id, user_name, user_email) "
                     "VALUES (1, 'ada', 'ada@example.org'), (2, 'bob', 'bob@example.org')")

    # Add a column.
    added = COLUMNS + [{"COUNTRY": "char(2)"}]
    namespace.apply(with_spec(columns=added))
    namespace.wait_ready("website-users")
    assert columns(database, "website_users")[-1] == ("country", "character(2)")

    # Rename the table.
    namespace.apply(with_spec(columns=added, tableName="SITE_USERS"))
    namespace.wait_ready("website-users")
    assert database.table("website_users") is None
    assert count_rows(database, "site_users") == 2

    # Change the primary key (to a composite one).
    namespace.apply(with_spec(columns=added, tableName="SITE_USERS",
                              primaryKey="USER_ID, USER_EMAIL"))
    namespace.wait_ready("website-users")
    assert database.table("site_users").primary_key == ("user_id", "user_email")
    status = namespace.get("website-users")["status"]
    assert status["tableName"] == "site_users"
    assert status["primaryKey"] == ["user_id", "user_email"]
    assert status["columns"][-1] == {"name": "country", "type": "character(2)",
                                     "nullable": True}

    # Remove a column without naming it in dropColumns: kubectl apply itself is refused (a
    # transition rule), the resource and the table stay as they were.
    before = database.table("site_users")
    generation = namespace.get("website-users")["metadata"]["generation"]
    removed = namespace.apply(with_spec(columns=added[:-1], tableName="SITE_USERS",
                                        primaryKey="USER_ID, USER_EMAIL"), check=False)
    assert removed.returncode != 0 and "spec.dropColumns" in removed.stderr, removed.stderr
    assert namespace.get("website-users")["metadata"]["generation"] == generation
    assert database.table("site_users") == before

    # Change a type in a way that could lose data (a narrowing): refused.
    changed = [{"USER_ID": "text"}] + added[1:]
    namespace.apply(with_spec(columns=changed, tableName="SITE_USERS",
                              primaryKey="USER_ID, USER_EMAIL"))
    refused = namespace.wait_ready("website-users", status="False")
    assert refused["reason"] == "TypeChanged"
    assert "user_id is integer" in refused["message"]
    assert database.table("site_users") == before

    # Fix the spec: Ready again; the rows survived every allowed change.
    namespace.apply(with_spec(columns=added, tableName="SITE_USERS",
                              primaryKey="USER_ID, USER_EMAIL"))
    namespace.wait_ready("website-users")
    assert count_rows(database, "site_users") == 2

    # Events for applied and refused changes, as `kubectl describe` shows them.
    described = describe(namespace, "website-users")
    for reason in ("TableCreated", "ColumnAdded", "TableRenamed", "PrimaryKeyChanged",
                   "TypeChanged"):
        assert reason in described, f"{reason} missing from kubectl describe:\n{described}"

    # Delete: the table is dropped and the finalizer released.
    namespace.kubectl("delete", "databasetable", "website-users", "--wait=false")
    wait_for(lambda: namespace.get("website-users") is None, message="resource gone")
    assert database.table("site_users") is None


def test_retain_policy_keeps_the_table_and_its_rows(namespace: Namespace, database: Database,
                                                    start_operator) -> None:
    start_operator("container")
    namespace.apply(resource("kept", {"tableName": "KEPT", "columns": [{"ID": "integer"}],
                                      "primaryKey": "ID", "deletionPolicy": "Retain"}))
    namespace.wait_ready("kept")
    database.execute("INSERT INTO public.kept VALUES (42)")
    namespace.kubectl("delete", "databasetable", "kept", "--wait=false")
    wait_for(lambda: namespace.get("kept") is None, message="resource gone")
    kept = database.table("kept")
    assert kept is not None and kept.owner is None
    assert database.execute("SELECT id FROM public.kept") == [(42,)]
    assert "TableRetained" in "".join(e["reason"] for e in namespace.events("kept"))
