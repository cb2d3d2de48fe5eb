"""PostgreSQL stops while resources are created, updated and deleted: nothing is lost.

The operator reports a temporary, clearly worded error, retries with backoff
(min(5 * 2**retry, 300) s: 5 s, 10 s, 20 s, ...) and converges once the database is back,
with no manual step. The outage is kept to two attempts, so convergence takes one 10 s retry.
The condition's message stays the same across attempts (the delay is in the log), so each
resource gets one Warning for the outage, not one per attempt.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hack.postgres import LocalPostgres
from tests.faults.conftest import Database, Namespace, column_list, wait_condition, warnings
from tests.support.k8s import resource, wait_for

KEY = [{"ID": "integer"}, {"NAME": "text"}]


@pytest.fixture
def pg_server() -> Iterator[LocalPostgres]:
    """This test's own server (not the session's): it is stopped and started again, on the same
    port with the same data. LocalPostgres picks its own directory under /tmp, which the
    `postgres` user can reach when the tests run as root (pytest's tmp_path is private)."""
    with LocalPostgres() as server:
        yield server


def spec(table: str, columns: list[dict[str, str]]) -> dict[str, object]:
    return {"tableName": table, "columns": columns, "primaryKey": "ID"}


def test_database_outage_is_reported_retried_and_converges(
        pg_server: LocalPostgres, namespace: Namespace, database: Database,
        start_operator) -> None:
    operator = start_operator("container")
    namespace.apply(resource("updated", spec("UPDATED", KEY)))
    namespace.apply(resource("deleted", spec("DELETED", KEY)))
    namespace.wait_ready("updated")
    namespace.wait_ready("deleted")
    database.execute("INSERT INTO public.updated VALUES (1, 'ada'), (2, 'bob')")

    pg_server.pause()
    outage = time.monotonic()
    namespace.apply(resource("created", spec("CREATED", KEY)))
    namespace.apply(resource("updated", spec("UPDATED", KEY + [{"EMAIL": "text"}])))
    namespace.kubectl("delete", "databasetable", "deleted", "--wait=false")

    for name in ("created", "updated"):
        condition = wait_condition(namespace, name, "DatabaseUnavailable", timeout=30)
        assert condition["message"].startswith("cannot reach PostgreSQL to apply the spec: ")
        assert "retrying" not in condition["message"], condition
    # The deletion waits for the database: the resource stays, with its finalizer.
    wait_for(lambda: "DatabaseUnavailable" in dict(warnings(namespace, "deleted")),
             timeout=30, message="a DatabaseUnavailable event on the deleted resource")
    deleting = namespace.get("deleted")
    assert deleting is not None and deleting["metadata"].get("deletionTimestamp")
    assert "kopf.demo/database-table-operator" in deleting["metadata"]["finalizers"]
    # Backoff: the second attempt fails too; the log announces the longer delay.
    wait_for(lambda: any("/created] cannot reach PostgreSQL" in line and "retrying in 10s" in line
                         for line in operator.logs().splitlines()), timeout=40,
             message="a second attempt with a 10 s backoff")

    pg_server.resume()
    resumed = time.monotonic()
    namespace.wait_ready("created", timeout=60)
    namespace.wait_ready("updated", timeout=60)
    wait_for(lambda: namespace.get("deleted") is None, timeout=60,
             message="the deleted resource gone once its table is dropped")
    converged = time.monotonic()
    print(f"\noutage {resumed - outage:.1f} s; converged {converged - resumed:.1f} s after "
          "PostgreSQL came back")

    assert column_list(database, "created") == [("id", "integer"), ("name", "text")]
    assert column_list(database, "updated") == [("id", "integer"), ("name", "text"),
                                                ("email", "text")]
    assert database.execute("SELECT id, name FROM public.updated ORDER BY id") == [
        (1, "ada"), (2, "bob")]
    assert database.table("deleted") is None
    # Every failure was reported as the temporary outage it was, never as something else.
    for name in ("created", "updated", "deleted"):
        reasons = {reason for reason, _ in warnings(namespace, name)}
        assert reasons == {"DatabaseUnavailable"}, (name, warnings(namespace, name))
    # Several attempts each, one Warning each: the message did not change between attempts.
    for name in ("created", "updated"):
        assert len(warnings(namespace, name)) == 1, (name, warnings(namespace, name))
