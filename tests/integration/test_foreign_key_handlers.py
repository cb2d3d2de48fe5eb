"""Foreign keys through the operator's handlers, called as Kopf calls them, on a real
PostgreSQL: a key waiting for its table is retried (not failed for good) and added once the
table exists; the drift check adds back a key of ours dropped by hand and reports one changed
by hand; a table another table references is not dropped, and the deletion keeps trying."""
from __future__ import annotations

from typing import Any

import kopf
import pytest
from psycopg2 import sql

import database_table_operator as operator
from dbtable.fk_model import FK_MARKER
from tests.support.handlers import (  # noqa: F401  (fixture)
    KEY, after, body, ready, reconcile, run_operator)

pytestmark = pytest.mark.integration
KEYED = {"tableName": "things", "primaryKey": "ID", "columns": KEY + [{"CUSTOMER_ID": "integer"}],
         "foreignKeys": [{"columns": ["CUSTOMER_ID"],
                          "references": {"table": "CUSTOMERS", "columns": ["ID"]}}]}


def converge(running: Any, resource: kopf.Body) -> tuple[kopf.Body, kopf.Patch]:
    """Call again while the handler asks for the next step (a TemporaryError of 1 s)."""
    for _ in range(6):
        patch, error = reconcile(running, resource)
        resource = after(resource, patch)
        if error is None:
            return resource, patch
        assert isinstance(error, kopf.TemporaryError) and error.delay == 1, error
    raise AssertionError("still reconciling after 6 calls")


def identifier(running: Any, name: str) -> sql.Identifier:
    return sql.Identifier(running.settings.schema, name)


def test_a_key_waiting_for_its_table_is_retried_with_backoff_then_added(run_operator) -> None:
    running = run_operator()
    resource = body(KEYED)
    patch, error = reconcile(running, resource)
    # Another resource (or a person) may create the table soon: retried, not failed for good.
    assert isinstance(error, kopf.TemporaryError) and error.delay == 5, error
    assert ready(patch)["reason"] == "ReferencedTableMissing"
    assert "spec.foreignKeys[0].references.table" in ready(patch)["message"]
    assert [e[1] for e in running.events()] == ["ReferencedTableMissing"]
    assert running.table("things") is None
    patch, error = reconcile(running, after(resource, patch), retry=1)
    assert isinstance(error, kopf.TemporaryError) and error.delay == 10, error
    assert running.events() == []  # the same condition again: no second Warning

    # The referenced table need not be the operator's: made by hand, it is picked up.
    running.sql(sql.SQL("CREATE TABLE {} (id integer PRIMARY KEY)").format(
        identifier(running, "customers")))
    resource, patch = converge(running, after(resource, patch))
    assert ready(patch)["status"] == "True"
    (key,) = patch.status["foreignKeys"]
    assert (key["references"]["table"], key["validated"], key["managed"]) == (
        "customers", True, True)
    assert [e[1] for e in running.events()] == ["TableCreated", "ForeignKeyAdded"]


def test_the_drift_check_adds_back_a_dropped_key_and_reports_a_changed_one(
        run_operator) -> None:
    running = run_operator()
    running.memo.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.demo")
    running.sql(sql.SQL("CREATE TABLE {} (id integer PRIMARY KEY)").format(
        identifier(running, "customers")))
    resource, patch = converge(running, body(KEYED))
    (name,) = [k["name"] for k in patch.status["foreignKeys"]]
    running.events()
    running.sql(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
        identifier(running, "things"), sql.Identifier(name)))

    # Added back (it only adds): NOT VALID, then validated on the next call.
    for _ in range(4):
        patch, error = reconcile(running, resource, handler=operator.repair_drift)
        resource = after(resource, patch)
        if error is None:
            break
        assert isinstance(error, kopf.TemporaryError), error
    assert error is None and ready(patch)["status"] == "True"
    assert [(k.name, k.validated, k.managed) for k in running.table("things").foreign_keys] == [
        (name, True, True)]
    reasons = [r for _, r, _ in running.events()]
    assert "DriftRepaired" in reasons and "ForeignKeyValidated" in reasons

    # Changed by hand (ours by its marker, another action): putting it back would drop it,
    # which the drift check never does on its own. Reported, and left as it is.
    running.sql(sql.SQL("ALTER TABLE {0} DROP CONSTRAINT {1}; ALTER TABLE {0} ADD CONSTRAINT {1} "
                        "FOREIGN KEY (customer_id) REFERENCES {2} (id) ON DELETE CASCADE; "
                        "COMMENT ON CONSTRAINT {1} ON {0} IS {3}").format(
        identifier(running, "things"), sql.Identifier(name), identifier(running, "customers"),
        sql.Literal(FK_MARKER)))
    patch, error = reconcile(running, resource, handler=operator.repair_drift)
    assert isinstance(error, kopf.PermanentError), error
    assert ready(patch)["reason"] == "Drifted"
    assert f"drop foreign key {name}" in ready(patch)["message"]
    assert [k.on_delete.value for k in running.table("things").foreign_keys] == ["Cascade"]


def test_a_referenced_table_is_not_dropped_and_the_deletion_keeps_trying(
        run_operator) -> None:
    running = run_operator()
    resource, _ = converge(running, body({**KEYED, "foreignKeys": []}))
    running.sql(sql.SQL("CREATE TABLE {} (thing integer REFERENCES {} (id))").format(
        identifier(running, "invoices"), identifier(running, "things")))
    running.events()
    deleting = body({**KEYED, "foreignKeys": [], "deletionPolicy": "Drop"}, generation=2)
    patch, error = reconcile(running, deleting, handler=operator.cleanup)
    assert isinstance(error, kopf.TemporaryError) and error.delay == 5, error
    assert ready(patch)["reason"] == "TableReferenced"
    assert "invoices" in ready(patch)["message"] and "CASCADE" in ready(patch)["message"]
    assert [e[:2] for e in running.events()] == [("Warning", "TableReferenced")]
    assert running.table("things") is not None and running.table("invoices") is not None

    running.sql(sql.SQL("DROP TABLE {}").format(identifier(running, "invoices")))
    _, error = reconcile(running, after(deleting, patch), handler=operator.cleanup, retry=1)
    assert error is None and running.table("things") is None
