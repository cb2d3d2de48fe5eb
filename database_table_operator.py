"""database-table-operator: DatabaseTable resources (kopf.demo/v1) become PostgreSQL tables.

Wiring only: each handler parses, calls the core in ``dbtable`` and reports. Run it with::

    kopf run database_table_operator.py --namespace=default --verbose

or print the SQL it would run for a manifest (``python -m database_table_operator plan FILE``).
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any

import kopf
import psycopg2
import psycopg2.errors

from dbtable.catalog import AmbiguousOwnership
from dbtable.conditions import set_condition
from dbtable.database import ConnectionPool, is_connection_error, settings_from_env
from dbtable.errors import InvalidSpec
from dbtable.model import ActualTable, DeletionPolicy, Owner
from dbtable.plan import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey, DropTable,
                          MarkOwned, Plan, RenameTable, Unmark)
from dbtable.reconcile import delete_table, reconcile_table
from dbtable.spec import parse_spec

GROUP, VERSION, PLURAL = "kopf.demo", "v1", "databasetables"
FINALIZER = "kopf.demo/database-table-operator"
MAX_RETRY_DELAY = 300
# How often the real table is compared with the spec (drift: changes behind our back).
DRIFT_INTERVAL = float(os.environ.get("DBT_DRIFT_INTERVAL_S", "300"))

# Event reasons for applied operations, as `kubectl describe` shows them.
EVENT_REASONS: dict[type, str] = {
    CreateTable: "TableCreated", RenameTable: "TableRenamed", AddColumn: "ColumnAdded",
    DropPrimaryKey: "PrimaryKeyChanged", AddPrimaryKey: "PrimaryKeyChanged",
    MarkOwned: "TableAdopted", Unmark: "TableRetained", DropTable: "TableDropped",
}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger,
              **_: Any) -> None:
    """Operator-wide settings, and the connection pool shared by all handlers."""
    # Our own finalizer name, so `kubectl get -o yaml` says who holds a resource.
    settings.persistence.finalizer = FINALIZER
    # Keep Kopf's bookkeeping in annotations: the status schema holds only our fields.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    # psycopg2 blocks: handlers are sync and run in this pool, one connection per worker.
    workers = int(os.environ.get("DBT_WORKERS", "4"))
    settings.execution.max_workers = workers
    database = settings_from_env()
    memo.database = database
    memo.pool = ConnectionPool(database, workers)
    logger.info("Using PostgreSQL at %s, schema %s", database.describe(), database.schema)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster ServiceAccount, else KUBECONFIG, through the kubernetes client.

    Declared explicitly (Kopf would pick it implicitly) so the operator authenticates the same
    way in every registry, e.g. kopf.testing.KopfRunner's fresh one in the end-to-end tests.
    """
    return kopf.login_via_client(**kwargs)


@kopf.on.cleanup()
def close_pool(memo: kopf.Memo, **_: Any) -> None:
    """Close the database connections when the operator stops."""
    if "pool" in memo:
        memo.pool.close()


@kopf.on.resume(GROUP, VERSION, PLURAL, id="reconcile")
@kopf.on.create(GROUP, VERSION, PLURAL, id="reconcile")
@kopf.on.update(GROUP, VERSION, PLURAL, id="reconcile", field="spec")
def reconcile(body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo,
              retry: int, logger: logging.Logger, **_: Any) -> None:
    """Create, resume and update are one level-triggered reconcile: catalog → plan → apply."""
    _converge(body, status, patch, memo, retry, logger, repair_only=False)


@kopf.timer(GROUP, VERSION, PLURAL, id="drift", interval=DRIFT_INTERVAL,
            initial_delay=DRIFT_INTERVAL)
def check_drift(body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo,
                logger: logging.Logger, **_: Any) -> None:
    """Periodically compare the real table with the spec: repair only by adding what is
    missing (a dropped table, dropped columns); report anything else, never drop data."""
    try:
        _converge(body, status, patch, memo, 0, logger, repair_only=True)
    except (kopf.PermanentError, kopf.TemporaryError):
        pass  # already on the status and posted as an Event; the next tick checks again


def _converge(body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo,
              retry: int, logger: logging.Logger, repair_only: bool) -> None:
    report = _Reporter(body, status, patch, body.meta.get("generation"))
    try:
        desired = parse_spec(dict(body.spec))
    except InvalidSpec as e:
        report.failed("InvalidSpec", f"Invalid spec: {e}")
        if not repair_only:
            kopf.warn(body, reason="InvalidSpec", message=str(e))
        raise kopf.PermanentError(f"Invalid spec: {e}") from None
    try:
        with memo.pool.connection() as conn:
            outcome = reconcile_table(conn, memo.database, desired, owner_of(body),
                                      repair_only=repair_only)
    except Exception as e:  # classified below: temporary or permanent
        _raise_classified(e, report, retry, action="apply the spec")
    if outcome.plan.refused:
        reason = outcome.plan.refusals[0].reason.value
        message = "Refused, nothing was applied: " + "; ".join(map(str, outcome.plan.refusals))
        if not (repair_only and report.current_message() == message):  # no repeats per tick
            for refusal in outcome.plan.refusals:
                kopf.warn(body, reason=refusal.reason.value, message=str(refusal))
        report.failed(reason, message)
        logger.error(message)
        raise kopf.PermanentError(message)
    if repair_only and outcome.plan.operations:
        kopf.warn(body, reason="DriftRepaired",
                  message="the table was changed outside the operator; repaired: "
                          + "; ".join(op.describe() for op in outcome.plan.operations))
    _announce(body, outcome.plan, logger)
    report.ready(outcome.table, outcome.plan)


@kopf.on.delete(GROUP, VERSION, PLURAL, id="cleanup")
def cleanup(body: kopf.Body, spec: kopf.Spec, status: kopf.Status, patch: kopf.Patch,
            memo: kopf.Memo, retry: int, logger: logging.Logger, **_: Any) -> None:
    """Drop the table (deletionPolicy Drop) or release it (Retain); retried until it works."""
    raw_policy = spec.get("deletionPolicy", DeletionPolicy.DROP.value)
    try:
        policy = DeletionPolicy(raw_policy)
    except ValueError:
        # Never drop what the user did not clearly ask to drop.
        policy = DeletionPolicy.RETAIN
        kopf.warn(body, reason="InvalidSpec",
                  message=f"spec.deletionPolicy {raw_policy!r} is not Drop or Retain: the table "
                          "is retained")
    report = _Reporter(body, status, patch, body.meta.get("generation"))
    try:
        with memo.pool.connection() as conn:
            outcome = delete_table(conn, memo.database, owner_of(body), policy)
    except Exception as e:
        _raise_classified(e, report, retry, action="delete the table", permanent=False)
    if not outcome.plan.operations:
        logger.info("No table is owned by this resource; nothing to delete.")
    _announce(body, outcome.plan, logger)


def owner_of(body: kopf.Body) -> Owner:
    return Owner(namespace=body.metadata.namespace or "", name=body.metadata.name or "",
                 uid=body.metadata.uid or "")


class _Reporter:
    """Writes the Ready condition and the applied state into the status patch."""

    def __init__(self, body: kopf.Body, status: kopf.Status, patch: kopf.Patch,
                 generation: int | None) -> None:
        self.body, self.status, self.patch, self.generation = body, status, patch, generation

    def _condition(self, status: str, reason: str, message: str) -> None:
        self.patch.status["conditions"] = set_condition(
            self.status.get("conditions"), type="Ready", status=status, reason=reason,
            message=message, generation=self.generation)
        self.patch.status["observedGeneration"] = self.generation

    def current_message(self) -> str | None:
        ready = next((c for c in self.status.get("conditions") or () if c.get("type") == "Ready"),
                     None)
        return ready.get("message") if ready else None

    def failed(self, reason: str, message: str) -> None:
        self._condition("False", reason, message)

    def ready(self, table: ActualTable | None, plan: Plan) -> None:
        changes = "; ".join(op.describe() for op in plan.operations) or "no changes needed"
        self._condition("True", "Reconciled", f"Table is up to date ({changes})")
        if table is not None:
            self.patch.status["tableName"] = table.name
            self.patch.status["columns"] = [{"name": c.name, "type": c.type}
                                            for c in table.columns]
            self.patch.status["primaryKey"] = list(table.primary_key)


def _announce(body: kopf.Body, plan: Plan, logger: logging.Logger) -> None:
    """One info log line and one Event per applied change."""
    creating = any(isinstance(op, CreateTable) for op in plan.operations)
    for op in plan.operations:
        if creating and isinstance(op, MarkOwned):
            continue  # part of creating the table, not news of its own
        logger.info("%s.", op.describe().capitalize())
        kopf.info(body, reason=EVENT_REASONS[type(op)], message=op.describe())


def _raise_classified(error: Exception, report: _Reporter, retry: int, action: str,
                      permanent: bool = True) -> None:
    """Turn a database failure into a status condition and Kopf's retry semantics."""
    delay = min(5 * 2 ** retry, MAX_RETRY_DELAY)
    if isinstance(error, AmbiguousOwnership) and permanent:
        report.failed("Conflict", str(error))
        raise kopf.PermanentError(str(error)) from None
    if isinstance(error, psycopg2.errors.LockNotAvailable):
        reason, text = "LockTimeout", (f"could not {action}: the table is locked by another "
                                       f"transaction (lock_timeout); retrying in {delay}s")
    elif isinstance(error, psycopg2.errors.QueryCanceled):
        reason, text = "StatementTimeout", (f"could not {action}: a statement ran past "
                                            f"statement_timeout; retrying in {delay}s")
    elif is_connection_error(error):
        reason, text = "DatabaseUnavailable", (f"cannot reach PostgreSQL to {action}: "
                                               f"{_first_line(error)}; retrying in {delay}s")
    elif isinstance(error, psycopg2.Error):
        reason, text = "ApplyFailed", (f"PostgreSQL refused to {action}, nothing was applied: "
                                       f"{_first_line(error)}; retrying in {delay}s")
    else:
        raise error
    report.failed(reason, text)
    kopf.warn(report.body, reason=reason, message=text)
    raise kopf.TemporaryError(text, delay=delay) from None


def _first_line(error: Exception) -> str:
    diag = getattr(error, "diag", None)
    message = (diag.message_primary if diag is not None else None) or str(error)
    return message.strip().splitlines()[0] if message.strip() else type(error).__name__


if __name__ == "__main__":
    from dbtable.cli import main

    sys.exit(main())
