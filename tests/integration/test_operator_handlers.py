"""The operator's handlers called as Kopf calls them, against a real PostgreSQL.

Bodies and patches are Kopf's own structures built from dicts, the operator is configured by
its own startup handler, and Events go through Kopf's own posting queue, read back here. This
reaches the branches no end-to-end test can set up reliably: statement timeouts, permanent
PostgreSQL errors, ambiguous ownership, data a new key does not fit.
"""
from __future__ import annotations

import copy
import secrets
from typing import Any

import kopf
import pytest
from psycopg2 import sql

import database_table_operator as operator
from dbtable.model import Owner
from tests.support.handlers import (  # noqa: F401  (fixture)
    KEY, after, body, ready, reconcile, run_operator, spec)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("columns", "key", "fragment"), [
    pytest.param([{"ID": "integer"}, {"XMIN": "text"}], "ID",
                 'column name "xmin" conflicts with a system column', id="42701 xmin"),
    pytest.param([{"P": "point"}], "P", "has no default operator class for access method",
                 id="42704 key on point"),
])
def test_errors_only_a_spec_change_can_fix_fail_permanently_with_one_warning(
        run_operator, columns, key, fragment) -> None:
    running = run_operator()
    resource = body(spec("things", columns, key))
    patch, error = reconcile(running, resource)
    assert isinstance(error, kopf.PermanentError), error
    condition = ready(patch)
    assert (condition["status"], condition["reason"]) == ("False", "ApplyFailed")
    assert fragment in condition["message"]
    assert "retrying" not in condition["message"]
    assert running.events() == [("Warning", "ApplyFailed", condition["message"])]
    assert running.table("things") is None
    # The drift sweep hands it to the drift handler again (the table is missing): same
    # condition, no second Warning.
    running.memo.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.demo")
    patch, error = reconcile(running, after(resource, patch), handler=operator.repair_drift)
    assert isinstance(error, kopf.PermanentError), error
    assert ready(patch)["message"] == condition["message"]
    assert running.events() == []


def test_unknown_type_fails_permanently_before_any_ddl_with_one_warning(run_operator) -> None:
    # The server's type lookup (dbtable/resolve.py) refuses it before DDL could fail with 42704.
    running = run_operator()
    resource = body(spec("things", [{"ID": "integer"}, {"MOOD": "public.no_such_type"}]))
    patch, error = reconcile(running, resource)
    assert isinstance(error, kopf.PermanentError), error
    condition = ready(patch)
    assert (condition["status"], condition["reason"]) == ("False", "InvalidSpec")
    assert "spec.columns.mood: column type public.no_such_type: type public.no_such_type " \
           "does not exist" in condition["message"]
    assert [(kind, reason) for kind, reason, _ in running.events()] == [("Warning", "InvalidSpec")]
    assert running.table("things") is None
    # The drift sweep retries (the type may have been created since): same condition, no
    # second Warning.
    running.memo.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.demo")
    patch, error = reconcile(running, after(resource, patch), handler=operator.repair_drift)
    assert isinstance(error, kopf.PermanentError), error
    assert ready(patch)["message"] == condition["message"]
    assert running.events() == []


def test_missing_privileges_fail_permanently_and_deletion_keeps_trying(
        run_operator, pg_server, operator_db) -> None:
    running = run_operator()
    resource = body(spec("things", KEY))
    _, error = reconcile(running, resource)
    assert error is None
    running.events()
    other_role = f"other_{secrets.token_hex(4)}"
    pg_server.create_role(other_role, secrets.token_urlsafe(12), login=False)
    pg_server.execute_as_superuser(
        sql.SQL("ALTER TABLE {} OWNER TO {}").format(
            sql.Identifier(running.settings.schema, "things"), sql.Identifier(other_role)),
        dbname=operator_db["dbname"])

    changed = body(spec("things", KEY + [{"EMAIL": "text"}]), generation=2)
    patch, error = reconcile(running, changed)
    assert isinstance(error, kopf.PermanentError), error
    assert ready(patch)["reason"] == "ApplyFailed"
    assert "must be owner of table things (SQLSTATE 42501)" in ready(patch)["message"]
    assert [e[1] for e in running.events()] == ["ApplyFailed"]

    # Deleting: a permanent failure would make Kopf drop the finalizer and leave the table
    # unmanaged, so it is retried at the longest backoff, with one Warning. (Retain: removing
    # the marker needs the table's owner; DROP needs only the schema's, which we are.)
    retained = body({**changed.spec, "deletionPolicy": "Retain"}, generation=3)
    patch, error = reconcile(running, retained, handler=operator.cleanup)
    assert isinstance(error, kopf.TemporaryError) and error.delay == 300, error
    assert "must be owner of table things" in ready(patch)["message"]
    assert [e[1] for e in running.events()] == ["ApplyFailed"]
    assert running.table("things") is not None


def test_statement_timeout_on_a_key_change_is_permanent_and_explained(run_operator) -> None:
    running = run_operator(DBT_STATEMENT_TIMEOUT_MS="30000")
    resource = body(spec("big", KEY))
    assert reconcile(running, resource)[1] is None
    running.sql(sql.SQL("INSERT INTO {} SELECT g, 'row ' || g FROM generate_series(1, 300000) g")
                .format(sql.Identifier(running.settings.schema, "big")))
    running.events()
    running = run_operator(DBT_STATEMENT_TIMEOUT_MS="20")  # the building of the new key's index

    rekeyed = body(spec("big", KEY, key="ID, NAME"), generation=2)
    patch, error = reconcile(running, rekeyed)
    assert isinstance(error, kopf.PermanentError), error
    condition = ready(patch)
    assert condition["reason"] == "StatementTimeout"
    assert "statement_timeout (0.02 s)" in condition["message"]
    assert "raise DBT_STATEMENT_TIMEOUT_MS" in condition["message"]
    assert running.events() == [("Warning", "StatementTimeout", condition["message"])]
    assert running.table("big").primary_key == ("id",)  # rolled back whole


def test_data_a_new_key_does_not_fit_is_retried_with_backoff_and_one_warning(
        run_operator) -> None:
    running = run_operator()
    resource = body(spec("dups", KEY))
    assert reconcile(running, resource)[1] is None
    running.sql(sql.SQL("INSERT INTO {} VALUES (1, 'ada'), (2, 'ada')").format(
        sql.Identifier(running.settings.schema, "dups")))
    running.events()

    rekeyed = body(spec("dups", KEY, key="NAME"), generation=2)
    patch, error = reconcile(running, rekeyed)
    assert isinstance(error, kopf.TemporaryError) and error.delay == 5, error
    condition = ready(patch)
    assert condition["reason"] == "ApplyFailed"
    assert "could not create unique index" in condition["message"]
    assert running.events() == [("Warning", "ApplyFailed", condition["message"])]
    # Kopf's next attempt: a longer delay, the same message, no second Warning.
    patch, error = reconcile(running, after(rekeyed, patch), retry=1)
    assert isinstance(error, kopf.TemporaryError) and error.delay == 10, error
    assert ready(patch)["message"] == condition["message"]
    assert running.events() == []
    # Fixed in the database, not in the spec: the next attempt succeeds.
    running.sql(sql.SQL("DELETE FROM {} WHERE id = 2").format(
        sql.Identifier(running.settings.schema, "dups")))
    patch, error = reconcile(running, after(rekeyed, patch), retry=2)
    assert error is None and ready(patch)["reason"] == "Reconciled"
    assert running.table("dups").primary_key == ("name",)


def test_lock_timeout_posts_one_warning_across_retries(run_operator, other_conn) -> None:
    running = run_operator(DBT_EVENT_REPEAT_S="0")  # no rate limit: the condition decides
    resource = body(spec("locked", KEY))
    assert reconcile(running, resource)[1] is None
    running.events()
    with other_conn.cursor() as cur:
        cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
            sql.Identifier(running.settings.schema, "locked")))
    changed = body(spec("locked", KEY + [{"EMAIL": "text"}]), generation=2)
    status = changed
    for retry, delay in enumerate([5, 10, 20]):
        patch, error = reconcile(running, status, retry=retry)
        assert isinstance(error, kopf.TemporaryError) and error.delay == delay, error
        assert ready(patch)["reason"] == "LockTimeout"
        status = after(changed, patch)
    assert [e[1] for e in running.events()] == ["LockTimeout"]
    other_conn.rollback()
    patch, error = reconcile(running, status, retry=3)
    assert error is None and ready(patch)["reason"] == "Reconciled"


def test_two_tables_with_one_marker_are_a_conflict_and_never_dropped(run_operator) -> None:
    running = run_operator()
    resource = body(spec("first", KEY))
    assert reconcile(running, resource)[1] is None
    running.events()
    owner = Owner("default", "things", resource.metadata.uid)
    schema = running.settings.schema
    running.sql(sql.SQL("CREATE TABLE {} (id integer)").format(sql.Identifier(schema, "copy")))
    running.sql(sql.SQL("COMMENT ON TABLE {} IS {}").format(
        sql.Identifier(schema, "copy"), sql.Literal(owner.marker())))

    patch, error = reconcile(running, body(spec("first", KEY + [{"X": "text"}]), generation=2))
    assert isinstance(error, kopf.PermanentError), error
    assert ready(patch)["reason"] == "Conflict"
    assert "copy, first all carry the ownership marker" in ready(patch)["message"]
    assert [e[1] for e in running.events()] == ["Conflict"]

    # Deleting cannot know which table to drop: neither is, and the finalizer stays.
    patch, error = reconcile(running, resource, handler=operator.cleanup)
    assert isinstance(error, kopf.TemporaryError) and error.delay == 300, error
    assert ready(patch)["reason"] == "Conflict"
    assert "could not delete the table" in ready(patch)["message"]
    assert [e[1] for e in running.events()] == ["Conflict"]
    assert running.table("first") is not None and running.table("copy") is not None


def test_a_change_in_steps_runs_every_step_in_one_call_saying_reconciling_before_each(
        run_operator) -> None:
    """NOT NULL on a column with rows: the first transaction commits the NOT VALID check; the
    next step (the validation, a transaction of its own) runs at once in the same call, with
    no retry delay, after the status was published as Reconciling naming it and its lock;
    the call ends Ready; Events name each applied step."""
    running = run_operator()
    published: list[dict[str, Any]] = []
    busy_between_steps: list[Any] = []

    def publish(_: Any, status: dict[str, Any]) -> None:
        published.append(copy.deepcopy(status))
        # No connection is held between steps: /healthz's bound applies to each step alone.
        busy_between_steps.extend(running.memo.pool.busy())

    running.memo.publish_status = publish
    spec = {"tableName": "THINGS", "columns": KEY, "primaryKey": "ID"}
    patch, error = reconcile(running, body(spec))
    assert error is None and published == []  # one transaction: nothing to publish early
    running.sql(sql.SQL("INSERT INTO {} VALUES (1, 'a'), (2, 'b')").format(
        sql.Identifier(running.settings.schema, "things")))
    running.events()
    changed = body({**spec, "columnOptions": {"NAME": {"nullable": False}}},
                   status=dict(after(body(spec), patch).status), generation=2)
    patch, error = reconcile(running, changed)
    assert error is None
    (reconciling,) = published
    assert busy_between_steps == []
    ready = next(c for c in reconciling["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Reconciling")
    assert "in progress: ValidateNotNullCheck on things.name (SHARE UPDATE EXCLUSIVE lock)" \
        in ready["message"]
    ready = next(c for c in patch.status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Reconciled")
    assert [c for c in patch.status["columns"] if c["name"] == "name"] == [
        {"name": "name", "type": "text", "nullable": False}]
    assert [r for _, r, _ in running.events()] == [
        "NullabilityChanging", "NullabilityChanging", "NullabilityChanged", "NullabilityChanged"]
    assert running.table("things").columns[1].not_null
