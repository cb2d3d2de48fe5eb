"""Ownership through the real API server: a resource cannot probe or take over a table it
does not own, a database owner's consent is what allows adoption, a restored resource reclaims
its table, and a re-created one gets its rows back within the retention window."""
from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Database, Namespace
from tests.support.k8s import resource, wait_for

PAYROLL_COLUMNS = [{"ID": "integer"}, {"EMPLOYEE": "text"}, {"SALARY": "numeric(12,2)"}]
USERS = {"tableName": "USERS", "columns": [{"ID": "integer"}, {"NAME": "text"}],
         "primaryKey": "ID"}


def ready_false(namespace: Namespace, name: str, reason: str) -> dict:
    return wait_for(lambda: (c := namespace.ready(name)) and c["status"] == "False"
                    and c["reason"] == reason and c, timeout=60,
                    message=f"{name} Ready=False {reason}")


def event_reasons(namespace: Namespace, name: str) -> list[str]:
    return [e["reason"] for e in namespace.events(name)]


def delete(namespace: Namespace, name: str) -> None:
    namespace.kubectl("delete", "databasetable", name, "--wait=false")
    wait_for(lambda: namespace.get(name) is None, timeout=60, message=f"{name} gone")


def test_payroll_cannot_be_probed_or_taken_over_without_a_database_owners_consent(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container")
    database.execute("CREATE TABLE public.payroll (id integer PRIMARY KEY, employee text, "
                     "salary numeric(12,2))")
    database.execute("INSERT INTO public.payroll VALUES (1, 'ada', 9000.00)")
    database.execute("COMMENT ON TABLE public.payroll IS 'HR: do not touch'")
    before = database.table("payroll")

    # A probe: what does the refusal tell about the table's columns?
    namespace.apply(resource("probe", {"tableName": "payroll", "columns": [{"ID": "integer"}],
                                       "primaryKey": "ID", "adoptExistingTable": True}))
    refused = ready_false(namespace, "probe", "Conflict")
    shown = json.dumps([namespace.get("probe")["status"], namespace.events("probe")])
    for secret in ("employee", "salary", "numeric"):
        assert secret not in shown

    # The exact columns, guessed: still no takeover without the database owner's consent.
    namespace.apply(resource("taker", {"tableName": "payroll", "columns": PAYROLL_COLUMNS,
                                       "primaryKey": "ID", "adoptExistingTable": True}))
    refused = ready_false(namespace, "taker", "Conflict")
    consent = f'{{"databaseTableOperator": {{"adoptBy": "{namespace.name}/taker"}}}}'
    assert f"""COMMENT ON TABLE "public"."payroll" IS '{consent}';""" in refused["message"]
    delete(namespace, "taker")
    delete(namespace, "probe")
    assert database.table("payroll") == before

    # The DBA consents, beside HR's line; the resource adopts the table.
    database.execute("COMMENT ON TABLE public.payroll IS %s", ("HR: do not touch\n" + consent,))
    namespace.apply(resource("taker", {"tableName": "payroll", "columns": PAYROLL_COLUMNS,
                                       "primaryKey": "ID", "adoptExistingTable": True}))
    namespace.wait_ready("taker")
    assert "TableAdopted" in event_reasons(namespace, "taker")
    assert database.table("payroll").comment.startswith("HR: do not touch\n")

    # Deleting it keeps the adopted table, its rows and HR's comment (no deletionPolicy set).
    delete(namespace, "taker")
    kept = database.table("payroll")
    assert kept is not None and kept.comment == "HR: do not touch" and kept.owner is None
    assert database.execute("SELECT id, employee FROM public.payroll") == [(1, "ada")]


def test_restored_resource_reclaims_its_table_with_its_rows(
        namespace: Namespace, database: Database, start_operator) -> None:
    first = start_operator("container")
    namespace.apply(resource("users", USERS))
    namespace.wait_ready("users")
    database.execute("INSERT INTO public.users VALUES (1, 'ada')")
    saved = namespace.get("users")  # a backup: the object with Kopf's annotations

    # Lost without cleanup: deleted while the operator was down, its finalizer removed by
    # hand. The table stays, marked with the old uid.
    first.stop()
    namespace.kubectl("delete", "databasetable", "users", "--wait=false")
    namespace.kubectl("patch", "databasetable", "users", "--type=merge",
                      "-p", '{"metadata": {"finalizers": null}}')
    wait_for(lambda: namespace.get("users") is None, timeout=60, message="users gone")
    assert database.table("users").owner.uid == saved["metadata"]["uid"]

    # The operator runs again (nothing to do), then the resource is restored while it runs,
    # so no resume handler can hide what Kopf makes of the restored annotations.
    start_operator("container")
    namespace.apply(resource("sentinel", {**USERS, "tableName": "sentinel"}))
    namespace.wait_ready("sentinel")  # the operator is watching, past its initial listing

    # Restored from the backup: same name, same annotations, a new uid.
    metadata = {k: saved["metadata"][k] for k in ("name", "annotations", "labels")
                if k in saved["metadata"]}
    namespace.apply(json.dumps({"apiVersion": saved["apiVersion"], "kind": saved["kind"],
                                "metadata": metadata, "spec": saved["spec"]}))
    namespace.wait_ready("users")
    restored = namespace.get("users")
    assert restored["metadata"]["uid"] != saved["metadata"]["uid"]
    assert "TableReclaimed" in event_reasons(namespace, "users")
    assert database.table("users").owner.uid == restored["metadata"]["uid"]
    assert database.execute("SELECT id, name FROM public.users") == [(1, "ada")]

    # A restore that brings the status back too (Velero can): Kopf's record of what it
    # handled is in the status, written for the old uid, so the object is handled again
    # and the record rewritten for its own uid, not taken as handled already.
    namespace.kubectl("patch", "databasetable", "users", "--subresource=status",
                      "--type=merge", "-p", json.dumps({"status": saved["status"]}))
    wait_for(lambda: namespace.get("users")["status"]["lastHandled"]["uid"]
             == restored["metadata"]["uid"], timeout=60,
             message="the record of the restored status rewritten for the new uid")
    assert database.table("users").owner.uid == restored["metadata"]["uid"]


@pytest.mark.parametrize("mode", ["container", "inprocess"])  # inprocess: stops cleanly
def test_recreated_resource_gets_its_rows_back_within_the_retention_window(
        mode: str, namespace: Namespace, database: Database, start_operator) -> None:
    operator = start_operator(mode, extra_env={"DBT_DROP_RETENTION": "1h"})
    namespace.apply(resource("users", USERS))
    namespace.wait_ready("users")
    database.execute("INSERT INTO public.users VALUES (1, 'ada')")

    # What `kubectl replace --force` does: delete, then create again.
    delete(namespace, "users")
    assert database.table("users") is None
    namespace.apply(resource("users", USERS))
    namespace.wait_ready("users")
    assert "TableReclaimed" in event_reasons(namespace, "users")
    assert database.execute("SELECT id, name FROM public.users") == [(1, "ada")]
    operator.stop()  # in-process: asserts a clean exit, the purge task stopped with it


def test_table_kept_aside_is_purged_after_the_window(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container", extra_env={"DBT_DROP_RETENTION": "2s"})
    namespace.apply(resource("users", USERS))
    namespace.wait_ready("users")
    delete(namespace, "users")
    tables = lambda: [r[0] for r in database.execute(  # noqa: E731
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind = 'r'")]
    assert [t for t in tables() if t.startswith("users_retained_")]
    wait_for(lambda: tables() == [], timeout=60, message="the kept-aside table purged")


def test_an_invalid_retention_stops_the_operator_naming_the_setting(start_operator) -> None:
    operator = start_operator("container", extra_env={"DBT_DROP_RETENTION": "1w"})
    wait_for(lambda: operator.process.poll() is not None, timeout=60,
             message="the operator to exit")
    assert operator.process.returncode != 0
    assert "DBT_DROP_RETENTION='1w' is not a duration" in operator.logs()
