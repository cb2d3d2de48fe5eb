"""The drift handler called as Kopf calls it, against a real PostgreSQL: it repairs a settled
resource, and leaves alone one whose own reconcile is still working (retrying a spec change),
so a user's pending change is never applied and reported as drift."""
from __future__ import annotations

import json
from typing import Any

import kopf
import pytest
from psycopg2 import sql

import database_table_operator as operator
from dbtable.index_model import INDEX_MARKER
from tests.support.handlers import (  # noqa: F401  (fixture)
    KEY, after, body, ready, reconcile, run_operator)

pytestmark = pytest.mark.integration
SPEC = {"tableName": "things", "columns": KEY, "primaryKey": "ID"}
WIDER = {**SPEC, "columns": KEY + [{"EMAIL": "text"}]}
RETRYING = json.dumps({"started": "2026-01-01T00:00:00", "retries": 1, "success": False,
                       "failure": False, "delayed": "2099-01-01T00:00:00"})


def at_generation_2(status_reason: str, annotations: dict[str, str]) -> kopf.Body:
    """The spec gained a column (generation 2) and its reconcile reported ``status_reason``."""
    condition = {"type": "Ready", "status": "False" if status_reason != "Reconciled" else "True",
                 "reason": status_reason, "message": "...", "observedGeneration": 2}
    raw: dict[str, Any] = dict(body(WIDER, generation=2,
                                    status={"observedGeneration": 2, "conditions": [condition]}))
    raw["metadata"] = {**raw["metadata"], "annotations": annotations}
    return kopf.Body(raw)


def columns(running: Any) -> list[str]:
    return [c.name for c in running.table("things").columns]


@pytest.mark.parametrize(("reason", "annotations"), [
    # Kopf holds the reconcile's retry record (a temporary ApplyFailed, say): not drift.
    pytest.param("ApplyFailed", {"kopf.demo/reconcile": RETRYING}, id="retry record"),
    # A lock timeout on the status, whatever Kopf's storage says: the reconcile will retry.
    pytest.param("LockTimeout", {}, id="lock timeout"),
])
def test_pending_reconcile_is_left_alone(run_operator, reason: str,  # noqa: F811
                                         annotations: dict[str, str]) -> None:
    running = run_operator()
    running.memo.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.demo")
    assert reconcile(running, body(SPEC))[1] is None
    running.events()

    patch, error = reconcile(running, at_generation_2(reason, annotations),
                             handler=operator.repair_drift)
    assert error is None and not patch
    assert columns(running) == ["id", "name"]  # the user's column is the reconcile's to add
    assert running.events() == []


def test_settled_resource_is_repaired_and_says_so(run_operator) -> None:  # noqa: F811
    running = run_operator()
    running.memo.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.demo")
    first, error = reconcile(running, body(WIDER))
    assert error is None
    running.events()
    running.sql(sql.SQL("ALTER TABLE {} DROP COLUMN email").format(
        sql.Identifier(running.settings.schema, "things")))

    patch, error = reconcile(running, after(body(WIDER), first), handler=operator.repair_drift)
    assert error is None
    assert columns(running) == ["id", "name", "email"]
    assert ready(patch)["status"] == "True"
    assert [(kind, reason) for kind, reason, _ in running.events()] == [
        ("Warning", "DriftRepaired"), ("Normal", "ColumnAdded")]


def test_drift_handler_retrying_its_own_lock_timeout_repairs(run_operator) -> None:  # noqa: F811
    running = run_operator()
    running.memo.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.demo")
    assert reconcile(running, body(WIDER))[1] is None
    running.events()
    running.sql(sql.SQL("ALTER TABLE {} DROP COLUMN email").format(
        sql.Identifier(running.settings.schema, "things")))
    # Kopf retries the drift handler after its own lock timeout (no reconcile record pending).
    patch, error = reconcile(running, at_generation_2("LockTimeout", {}), retry=1,
                             handler=operator.repair_drift)
    assert error is None and ready(patch)["status"] == "True"
    assert columns(running) == ["id", "name", "email"]


def test_drift_check_that_finds_nothing_writes_nothing(run_operator) -> None:  # noqa: F811
    # E.g. the handler ran for another annotation or label change (Kopf's diff base keeps
    # digests, so it cannot tell which annotation changed).
    running = run_operator()
    running.memo.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.demo")
    first, error = reconcile(running, body(WIDER))
    assert error is None
    running.events()
    patch, error = reconcile(running, after(body(WIDER), first), handler=operator.repair_drift)
    assert error is None and not patch
    assert running.events() == []


INDEXED = {**WIDER, "indexes": [{"name": "BY_EMAIL", "columns": ["EMAIL"]}]}


def _index_definitions(running: Any) -> list[str]:
    return sorted(i.describe() for i in running.table("things").indexes)


def test_an_index_dropped_by_hand_is_rebuilt_and_one_changed_by_hand_reported(
        run_operator) -> None:  # noqa: F811
    running = run_operator()
    running.memo.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.demo")
    first, error = reconcile(running, body(INDEXED))
    assert error is None and _index_definitions(running) == ["btree (email)"]
    running.events()
    running.sql(sql.SQL("DROP INDEX {}").format(
        sql.Identifier(running.settings.schema, "by_email")))

    # Rebuilt (it only adds), one concurrent step per call as Kopf retries the handler.
    resource = after(body(INDEXED), first)
    for _ in range(5):
        patch, error = reconcile(running, resource, handler=operator.repair_drift)
        resource = after(resource, patch)
        if error is None:
            break
        assert isinstance(error, kopf.TemporaryError), error
    assert error is None and ready(patch)["status"] == "True"
    assert [(i.name, i.describe(), i.managed) for i in running.table("things").indexes] == [
        ("by_email", "btree (email)", True)]
    assert ("Warning", "DriftRepaired") in [(k, r) for k, r, _ in running.events()]

    # Changed by hand (same name, marked, another definition): putting it back would drop
    # it, which the drift check never does on its own. Reported, and left as it is.
    running.sql(sql.SQL("DROP INDEX {0}; CREATE INDEX by_email ON {1} (email, name); "
                        "COMMENT ON INDEX {0} IS {2}").format(
        sql.Identifier(running.settings.schema, "by_email"),
        sql.Identifier(running.settings.schema, "things"), sql.Literal(INDEX_MARKER)))
    patch, error = reconcile(running, resource, handler=operator.repair_drift)
    assert isinstance(error, kopf.PermanentError)
    assert ready(patch)["reason"] == "Drifted" and "drop index by_email" in ready(patch)["message"]
    assert _index_definitions(running) == ["btree (email, name)"]
