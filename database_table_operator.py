"""database-table-operator: DatabaseTable resources (kopf.demo/v1) become PostgreSQL tables.

Wiring only: each handler parses, calls the core in ``dbtable`` and reports. Run it with::

    kopf run database_table_operator.py --namespace=default --verbose

or print the SQL it would run for a manifest (``python -m database_table_operator plan FILE``).
"""
from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import logging
import os
import sys
from typing import Any

import kopf

from dbtable.apisession import (InvalidConnectionLimit, in_cluster_server, limit_from_env,
                                limited_session)
from dbtable.column_operations import (AddNotNullCheck, DropColumn, DropDefault, DropNotNull,
                                       DropNotNullCheck, RenameColumn, RenameNotNullCheck,
                                       SetDefault, SetNotNull, ValidateNotNullCheck)
from dbtable.database import settings_from_env
from dbtable.diffbase import DigestDiffBaseStorage
from dbtable.drift import Subject, refusal_message, subject_from
from dbtable.errors import InvalidSpec
from dbtable.fk_operations import (AddForeignKey, AddValidForeignKey, DropForeignKey,
                                   MarkForeignKey, RenameForeignKey, ValidateForeignKey)
from dbtable.failures import MAX_RETRY_DELAY, classify, first_line, retry_delay
from dbtable.finalizer import (FINALIZER, FinalizerKeeper, FinalizerNotAdded,
                               deleted_unreleased, is_held)
from dbtable.heap import trim_when_quiet
from dbtable.model import DeletionPolicy, DesiredTable, Owner
from dbtable.plan import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey, DropTable,
                          MarkOwned, MarkRetained, Plan, ReclaimTable, RenameTable, Unmark)
from dbtable.pool import ConnectionPool
from dbtable.type_operations import RecheckColumnType, RewriteColumnType, WidenColumnType
from dbtable.unique_operations import (AddUniqueWithTable, AttachUniqueConstraint,
                                       CreateUniqueIndex, DropUniqueConstraint, DropUniqueIndex,
                                       RenameUniqueConstraint)
from dbtable.index_operations import (BuildReplacement, CreateIndex, CreateIndexWithTable,
                                      DropFailedIndex, DropIndex, MarkIndex, PlaceIndex,
                                      RenameIndex)
from dbtable.reconcile import Outcome, delete_table, reconcile_table
from dbtable.reporting import EventGate, Reporter
from dbtable.retention import InvalidRetention, parse_retention, purge_expired, purge_interval
from dbtable.spec import parse_spec
from dbtable.status_publisher import StatusPublisher
from dbtable.sweep import DRIFT_ANNOTATION, PARK, park_table, reconcile_pending, sweep_forever

GROUP, VERSION, PLURAL = "kopf.demo", "v1", "databasetables"

# Event reasons for applied operations, as `kubectl describe` shows them.
EVENT_REASONS: dict[type, str] = {
    CreateTable: "TableCreated", RenameTable: "TableRenamed", AddColumn: "ColumnAdded",
    DropPrimaryKey: "PrimaryKeyChanged", AddPrimaryKey: "PrimaryKeyChanged",
    MarkOwned: "TableAdopted", Unmark: "TableRetained", DropTable: "TableDropped",
    ReclaimTable: "TableReclaimed", MarkRetained: "TableSetAside",
    RenameColumn: "ColumnRenamed", DropColumn: "ColumnDropped", SetDefault: "DefaultChanged",
    DropDefault: "DefaultChanged", DropNotNull: "NullabilityChanged",
    AddNotNullCheck: "NullabilityChanging", ValidateNotNullCheck: "NullabilityChanging",
    SetNotNull: "NullabilityChanged", DropNotNullCheck: "NullabilityChanged",
    CreateUniqueIndex: "UniqueChanging", AttachUniqueConstraint: "UniqueChanged",
    DropUniqueConstraint: "UniqueChanged", DropUniqueIndex: "UniqueChanging",
    AddUniqueWithTable: "UniqueChanged", RenameUniqueConstraint: "UniqueRenamed",
    WidenColumnType: "ColumnTypeChanged", RecheckColumnType: "ColumnTypeChanged",
    RewriteColumnType: "ColumnTypeChanged", RenameNotNullCheck: "NullabilityChanging",
    CreateIndex: "IndexCreated", CreateIndexWithTable: "IndexCreated",
    BuildReplacement: "IndexRebuilding", MarkIndex: "IndexMarked", RenameIndex: "IndexRenamed",
    PlaceIndex: "IndexCreated",
    DropIndex: "IndexDropped", DropFailedIndex: "IndexDropped",
    AddForeignKey: "ForeignKeyAdded", AddValidForeignKey: "ForeignKeyAdded",
    MarkForeignKey: "ForeignKeyAdopted", ValidateForeignKey: "ForeignKeyValidated",
    DropForeignKey: "ForeignKeyDropped", RenameForeignKey: "ForeignKeyRenamed",
}
# A change applied in steps runs them all in one call, one transaction each, replanning before
# each; past this many the rest waits for Kopf's next call, this soon (a guard, not a pace).
MAX_STEPS_PER_CALL = 32
NEXT_STEP_DELAY_S = 1.0


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger,
              **_: Any) -> None:
    """Operator-wide settings, and the connection pool shared by all handlers."""
    # Our own finalizer name, so `kubectl get -o yaml` says who holds a resource.
    settings.persistence.finalizer = FINALIZER
    # Keep Kopf's bookkeeping in annotations: the status schema holds only our fields.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    # Bound to the uid: a restored object (same name, new uid, old annotations) counts as new,
    # so it is reconciled and reclaims its table instead of being skipped as already handled.
    # And kept as digests, not a copy of the spec: the largest spec the CRD admits would make
    # that copy larger than all annotations together may be (256 KiB).
    settings.persistence.diffbase_storage = DigestDiffBaseStorage(prefix=GROUP)
    # psycopg2 blocks: handlers are sync and run in this pool, one connection per worker.
    workers = int(os.environ.get("DBT_WORKERS", "4"))
    settings.execution.max_workers = workers
    try:
        limit_from_env()  # checked now, read again by the login handler
    except InvalidConnectionLimit as e:  # a setting only a restart fixes: stop, saying which
        raise kopf.PermanentError(str(e)) from None
    database = settings_from_env()
    memo.database = database
    memo.pool = ConnectionPool(database, workers)
    # Repeats of one Warning on one object are dropped for this long (an outage with 1,000
    # resources would otherwise post tens of thousands of Events).
    memo.events = EventGate(window=float(os.environ.get("DBT_EVENT_REPEAT_S", "600")))
    # Every database wait is bounded, so a handler still busy past this is stuck where no
    # bound reaches: /healthz fails and the kubelet restarts the operator.
    memo.stuck_after = float(os.environ.get("DBT_STUCK_AFTER_S", "300"))
    logger.info("Using PostgreSQL at %s, schema %s", database.describe(), database.schema)


@kopf.on.startup()
async def start_status_publisher(settings: kopf.OperatorSettings, memo: kopf.Memo,
                                 **_: Any) -> None:
    """Lets a handler publish Reconciling before each step of a change (see _converge), and
    put our finalizer on the object before it touches the database (_holds_finalizer)."""
    memo.publish_status = StatusPublisher(asyncio.get_running_loop(), settings)
    memo.keep_finalizer = FinalizerKeeper(asyncio.get_running_loop(), settings)
    memo.executor = settings.execution.executor  # Kopf's, sized by configure(): see in_worker


@kopf.on.login()
async def login(**kwargs: Any) -> kopf.AiohttpSession | None:
    """Kopf's session made from the credentials, with at most DBT_API_CONNECTIONS connections
    (Kopf's own has no limit).

    Declared explicitly (Kopf would pick it implicitly) so the operator authenticates the same
    way in every registry, e.g. kopf.testing.KopfRunner's fresh one in the end-to-end tests.
    Async, so the session binds to the operator's loop; reading the credentials (files,
    perhaps an exec plugin) runs in a thread.
    """
    loop = asyncio.get_running_loop()
    info = await loop.run_in_executor(None, functools.partial(credentials, **kwargs))
    # Kopf logs in only once the startup handlers are done: configure() has checked the limit.
    return limited_session(info, limit_from_env()) if info is not None else None


def credentials(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a Pod, its ServiceAccount; elsewhere the kubeconfig (KUBECONFIG or ~/.kube/config).

    Kopf reads both itself. The kubernetes client, when installed (it is not in the image: it
    and what it imports cost the operator about 15 MB), reads the kubeconfig instead, for what
    only it can do: exec plugins and auth providers (cloud clusters' kubeconfigs).
    """
    info = kopf.login_with_service_account(**kwargs)
    if info is not None:
        # Kopf names the API server kubernetes.default.svc, which needs the cluster's DNS;
        # like client-go, take the address the kubelet puts in the environment instead.
        server = in_cluster_server(os.environ.get("KUBERNETES_SERVICE_HOST"),
                                   os.environ.get("KUBERNETES_SERVICE_PORT"))
        return dataclasses.replace(info, server=server) if server else info
    try:
        import kubernetes  # noqa: F401  (optional)
    except ImportError:
        return kopf.login_with_kubeconfig(**kwargs)
    return kopf.login_via_client(**kwargs)


@kopf.on.startup()
async def start_purging(memo: kopf.Memo, logger: logging.Logger, **_: Any) -> None:
    """With DBT_DROP_RETENTION, keep dropped tables aside, and drop them once their window
    is over."""
    try:
        memo.retention = parse_retention(os.environ.get("DBT_DROP_RETENTION"))
    except InvalidRetention as e:  # a setting only a restart fixes: stop, saying which
        raise kopf.PermanentError(str(e)) from None
    if memo.retention is not None:
        _background(memo).append(asyncio.create_task(_purge_forever(memo, logger),
                                                     name="purge"))


async def _purge_forever(memo: kopf.Memo, logger: logging.Logger) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(purge_interval(memo.retention))
        try:
            # psycopg2 blocks: run it in a thread, with one of the pool's connections.
            await loop.run_in_executor(None, _purge_once, memo)
        except Exception as e:  # logged and tried again next time; never stops the loop
            logger.warning("Could not purge retained tables: %s", first_line(e))


def _purge_once(memo: kopf.Memo) -> None:
    with memo.pool.connection() as conn:
        purge_expired(conn, memo.database)


def _background(memo: kopf.Memo) -> list[asyncio.Task[None]]:
    """The operator-wide tasks, under one memo key: Kopf gives every resource a shallow copy
    of the memo, and past 10 keys each copy doubles (296 to 488 bytes: 2 MB at 10,000)."""
    tasks: list[asyncio.Task[None]] = memo.setdefault("background", [])
    return tasks


@kopf.on.cleanup(id="stop-background")
async def stop_background(memo: kopf.Memo, **_: Any) -> None:
    """Stop the drift sweep, the heap trim and the purge of retained tables before the pool
    they use is closed (in the event loop: a task is cancelled from its own loop's thread)."""
    for task in memo.get("background", ()):
        task.cancel()
    await asyncio.gather(*memo.get("background", ()), return_exceptions=True)


@kopf.on.cleanup()
def close_pool(memo: kopf.Memo, **_: Any) -> None:
    """Close the database connections when the operator stops."""
    if "pool" in memo:
        memo.pool.close()


@kopf.on.probe(id="databaseWorkers", errors=kopf.ErrorsMode.PERMANENT)
async def probe_workers(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """Liveness: fail /healthz while a handler has been at the database past the bound.

    Async on purpose: it must answer when every worker thread is the one stuck. A raising
    probe hangs /healthz unless its errors are PERMANENT; then Kopf answers 500.
    """
    busy = memo.pool.busy() if "pool" in memo else []
    stuck = [b for b in busy if b.seconds > memo.stuck_after]
    if stuck:
        raise kopf.PermanentError(
            f"{len(stuck)} worker(s) busy with the database for more than "
            f"{memo.stuck_after:g} s (longest {stuck[0].seconds:.0f} s, {stuck[0].thread})")
    return {"busy": len(busy), "longestSeconds": round(busy[0].seconds, 1) if busy else 0}


@kopf.on.resume(GROUP, VERSION, PLURAL, id="reconcile")
@kopf.on.create(GROUP, VERSION, PLURAL, id="reconcile")
@kopf.on.update(GROUP, VERSION, PLURAL, id="reconcile", field="spec")
async def reconcile(body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo,
                    retry: int, logger: logging.Logger, **_: Any) -> None:
    """Create, resume and update are one level-triggered reconcile: catalog → plan → apply.

    Async only to put the finalizer on from the event loop: a worker thread (one of
    DBT_WORKERS, each with a database connection) is then held for the database alone, not
    for an API round trip per create as well. The rest runs in Kopf's executor, as a sync
    handler would."""
    if not await _holds_finalizer_async(body, memo, retry, logger):
        return
    await in_worker(memo.executor, reconcile_in_thread, body=body, status=status, patch=patch,
                    memo=memo, retry=retry, logger=logger)


def reconcile_in_thread(body: kopf.Body, status: kopf.Status, patch: kopf.Patch,
                        memo: kopf.Memo, retry: int, logger: logging.Logger,
                        **_: Any) -> None:
    """The reconcile's blocking part, in a worker thread, once the finalizer is on (the body
    may not show it yet: it is the version the handler was called with)."""
    _converge(body, status, patch, memo, retry, logger, repair_only=False)


async def in_worker(executor: Any, fn: Any, **kwargs: Any) -> Any:
    """Run ``fn`` in Kopf's executor as Kopf runs a sync handler: with this task's context
    (kopf.info and the object's logger find their queue), waiting for it even if cancelled
    (a thread cannot be stopped: better late than a thread the pool does not know is busy)."""
    context = contextvars.copy_context()
    future = asyncio.get_running_loop().run_in_executor(
        executor, functools.partial(context.run, fn, **kwargs))
    cancelled: asyncio.CancelledError | None = None
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError as e:
            cancelled = e
    if cancelled is not None:
        raise cancelled
    return future.result()


@kopf.index(GROUP, VERSION, PLURAL, id="tables")
async def tables(body: kopf.Body, memo: kopf.Memo, **_: Any) -> Subject:
    """Every resource as the watch last saw it, for the drift sweep (kept current by Kopf
    before any handler of the same event runs).

    Async, though it never awaits: Kopf runs a sync index handler in the worker threads, so
    every event of every resource would wait for a thread that the database may hold (a
    lock wait of a minute), and pay a thread hop on every event of a burst.

    Returned bare, so Kopf files every subject under one key (None) in one store; a key of
    its own per resource (the uid) cost a store per resource (issue 10: memory at 10,000).
    """
    return subject_from(body, pending=reconcile_pending(body, memo))


@kopf.on.startup(id="drift-sweep")
async def start_drift_sweep(settings: kopf.OperatorSettings, memo: kopf.Memo,
                            tables: kopf.Index[None, Subject], logger: logging.Logger,
                            **_: Any) -> None:
    """One background sweep for all tables, instead of a timer per resource; beside it, the
    heap handed back to the system once a burst is over (dbtable/heap.py)."""
    memo.progress_storage = settings.persistence.progress_storage
    _background(memo).append(asyncio.create_task(sweep_forever(tables, memo, settings, logger),
                                                 name="drift sweep"))
    _background(memo).append(asyncio.create_task(trim_when_quiet(logger), name="heap trim"))


@kopf.on.update(GROUP, VERSION, PLURAL, id="drift",
                field=("metadata", "annotations", DRIFT_ANNOTATION))
def repair_drift(body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo,
                 retry: int, logger: logging.Logger, **_: Any) -> None:
    """The sweep found this table out of step with its status: re-check and repair or report.

    Kopf runs this in the resource's own worker, after every earlier handler of the resource
    and never once it is being deleted, with the body as it is now: it cannot act on an old
    spec, undo a rename, or bring back a dropped table.
    """
    subject = subject_from(body, pending=reconcile_pending(body, memo))
    if not subject.settled(own_retry=retry > 0):
        logger.info("Drift check skipped: the resource's own handlers are not done yet.")
        return
    if not _holds_finalizer(body, memo, retry, logger):
        return
    if subject.in_conflict() and body.metadata.annotations.get(DRIFT_ANNOTATION, "").startswith(
            PARK):
        _step_aside(body, memo, logger)
    _converge(body, status, patch, memo, retry, logger,
              repair_only=not subject.retried_in_full())


def _step_aside(body: kopf.Body, memo: kopf.Memo, logger: logging.Logger) -> None:
    """In a swap of names, move this resource's table to a name of its own for a moment."""
    try:
        desired = parse_spec(dict(body.spec))
        with memo.pool.connection() as conn:
            plan = park_table(conn, memo.database, desired, owner_of(body))
    except Exception as e:  # the reconcile below reports the state; the next sweep retries
        logger.warning("Could not step aside for a swap of names: %s", first_line(e))
        return
    _announce(body, plan, logger)


def _holds_finalizer(body: kopf.Body, memo: kopf.Memo, retry: int,
                     logger: logging.Logger) -> bool:
    """_holds_finalizer_async, from a sync handler's thread (on the operator's loop)."""
    if is_held(body):
        return True  # every call after the first: no hop to the loop
    return asyncio.run_coroutine_threadsafe(_holds_finalizer_async(body, memo, retry, logger),
                                            memo.keep_finalizer.loop).result()


async def _holds_finalizer_async(body: kopf.Body, memo: kopf.Memo, retry: int,
                                 logger: logging.Logger) -> bool:
    """Our finalizer is on the object before any DDL (added now if need be, see
    dbtable/finalizer.py), so no table exists that a deletion could leave behind. False: the
    object is being deleted or gone, and nothing is created for it."""
    if is_held(body):
        return True
    try:
        held = await memo.keep_finalizer.ensure(body)
    except FinalizerNotAdded as e:
        delay = retry_delay(retry)
        logger.warning("%s; retrying in %ss.", e, delay)
        raise kopf.TemporaryError(str(e), delay=delay) from None
    if not held:
        logger.info("The resource is being deleted: nothing is created for it.")
    return held


def _converge(body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo,
              retry: int, logger: logging.Logger, repair_only: bool) -> None:
    report = reporter(body, status, patch, memo)
    try:
        desired = parse_spec(dict(body.spec))
    except InvalidSpec as e:
        report.failed("InvalidSpec", f"Invalid spec: {e}", warnings=[("InvalidSpec", str(e))])
        raise kopf.PermanentError(f"Invalid spec: {e}") from None
    try:
        outcome, applied = _apply_in_steps(body, desired, report, memo, logger, repair_only)
    except Exception as e:  # classified below: temporary or permanent
        _raise_classified(e, report, retry, memo, logger, action="apply the spec")
    if outcome.plan.refused:
        reason = outcome.plan.refusals[0].reason.value
        message = refusal_message(outcome.plan)
        report.failed(reason, message, warnings=[(refusal.reason.value, str(refusal))
                                                 for refusal in outcome.plan.refusals])
        if outcome.plan.waiting:  # a referenced table another resource may create soon
            delay = retry_delay(retry)
            logger.warning("%s; retrying in %ss.", message, delay)
            raise kopf.TemporaryError(message, delay=delay)
        logger.error(message)
        raise kopf.PermanentError(message)
    if repair_only and not applied.operations and not outcome.pending \
            and _says_ready(status, body):
        return  # a drift check that found nothing, and the status says so: write nothing
    if repair_only and applied.operations:
        report.warn("DriftRepaired", "the table was changed outside the operator; repaired: "
                    + "; ".join(op.describe() for op in applied.operations))
    _announce(body, Plan(operations=outcome.applied), logger)
    if outcome.pending:
        report.reconciling(outcome.table, applied, outcome.pending[0])
        raise kopf.TemporaryError(f"Applying the spec in steps; next: "
                                  f"{outcome.pending[0].describe()}", delay=NEXT_STEP_DELAY_S)
    report.ready(outcome.table, applied)


def _apply_in_steps(body: kopf.Body, desired: DesiredTable, report: Reporter,
                    memo: kopf.Memo, logger: logging.Logger, repair_only: bool
                    ) -> tuple[Outcome, Plan]:
    """Reconcile; while steps remain after a transaction committed, say Reconciling (naming
    the next step, published at once) and run the next one now, replanning from the catalog
    first: no retry delay between steps. Returns the last outcome and all that was applied
    (the last outcome's own operations not yet announced). Each step takes a pool connection
    of its own, so /healthz's bound on a worker's time at the database (DBT_STUCK_AFTER_S)
    still applies to one step, not to the sum of them."""
    outcome = _reconcile_once(body, desired, memo, repair_only)
    applied: tuple[Any, ...] = outcome.applied
    publish = getattr(memo, "publish_status", None)
    for _ in range(MAX_STEPS_PER_CALL - 1):
        if outcome.plan.refused or not outcome.pending:
            break
        _announce(body, Plan(operations=outcome.applied), logger)
        report.reconciling(outcome.table, Plan(operations=applied), outcome.pending[0])
        if publish is not None:
            publish(body, report.patch_status)
        outcome = _reconcile_once(body, desired, memo, repair_only)
        applied += outcome.applied
    return outcome, Plan(operations=applied)


def _reconcile_once(body: kopf.Body, desired: DesiredTable, memo: kopf.Memo,
                    repair_only: bool) -> Outcome:
    with memo.pool.connection() as conn:
        return reconcile_table(conn, memo.database, desired, owner_of(body),
                               repair_only=repair_only)


def _says_ready(status: kopf.Status, body: kopf.Body) -> bool:
    """The Ready condition is True for the current generation."""
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    return bool(ready) and ready.get("status") == "True" \
        and ready.get("observedGeneration") == body.meta.get("generation")


# Gated on our finalizer: Kopf then neither adds it in a cycle of its own (which would hold
# the create handler back until that PATCH came back as a watch event) nor removes it while
# the resource lives; the handlers that write add it first (_holds_finalizer).
@kopf.on.delete(GROUP, VERSION, PLURAL, id="cleanup", when=is_held)
def cleanup(body: kopf.Body, spec: kopf.Spec, status: kopf.Status, patch: kopf.Patch,
            memo: kopf.Memo, retry: int, logger: logging.Logger, **_: Any) -> None:
    """Drop the table (deletionPolicy Drop) or release it (Retain); retried until it works."""
    _release(body, spec, status, patch, memo, retry, logger)


@kopf.on.event(GROUP, VERSION, PLURAL, id="deleted-unreleased", when=deleted_unreleased)
def cleanup_after_racing_delete(body: kopf.Body, spec: kopf.Spec, memo: kopf.Memo,
                                logger: logging.Logger, **_: Any) -> None:
    """The object went without its cleanup (see dbtable.finalizer.deleted_unreleased): do it
    now, as the delete handler would have. Kopf delivers this event to the object's worker
    after its create handler returned, so the table it made is there to drop. Not retried:
    a failure is logged and reported as a Warning Event."""
    logger.warning("Deleted without its cleanup (a delete raced the finalizer): cleaning up.")
    _release(body, spec, {}, kopf.Patch(), memo, 0, logger)


def _release(body: kopf.Body, spec: kopf.Spec, status: kopf.Status, patch: kopf.Patch,
             memo: kopf.Memo, retry: int, logger: logging.Logger) -> None:
    report = reporter(body, status, patch, memo)
    raw_policy = spec.get("deletionPolicy")
    try:
        # Not given: Drop for a table the operator created, Retain for one it adopted.
        policy = DeletionPolicy(raw_policy) if raw_policy is not None else None
    except ValueError:
        # Never drop what the user did not clearly ask to drop.
        policy = DeletionPolicy.RETAIN
        report.warn("InvalidSpec", f"spec.deletionPolicy {raw_policy!r} is not Drop or "
                                   "Retain: the table is retained")
    try:
        with memo.pool.connection() as conn:
            outcome = delete_table(conn, memo.database, owner_of(body), policy,
                                   retention=memo.get("retention"))
    except Exception as e:
        _raise_classified(e, report, retry, memo, logger, action="delete the table",
                          deleting=True)
    if outcome.plan.refused:  # referenced by another table's foreign key: kept, retried
        (refusal,) = outcome.plan.refusals
        report.failed(refusal.reason.value, str(refusal))
        logger.warning("%s; retrying.", refusal)
        raise kopf.TemporaryError(str(refusal), delay=retry_delay(retry))
    if not outcome.plan.operations:
        logger.info("No table is owned by this resource; nothing to delete.")
    _announce(body, outcome.plan, logger)


def owner_of(body: kopf.Body) -> Owner:
    return Owner(namespace=body.metadata.namespace or "", name=body.metadata.name or "",
                 uid=body.metadata.uid or "")


def reporter(body: kopf.Body, status: kopf.Status, patch: kopf.Patch,
             memo: kopf.Memo) -> Reporter:
    """The status and Warning Events of this resource, for one handler call."""
    def post(type_: str, reason: str, message: str) -> None:
        kopf.event(body, type=type_, reason=reason, message=message)

    return Reporter(status, patch.status, body.meta.get("generation"), post, memo.events,
                    body.metadata.uid or (body.metadata.namespace, body.metadata.name))


def _announce(body: kopf.Body, plan: Plan, logger: logging.Logger) -> None:
    """One info log line and one Event per applied change."""
    creating = any(isinstance(op, CreateTable) for op in plan.operations)
    added = {op.name for op in plan.operations if isinstance(op, AddForeignKey)}
    for op in plan.operations:
        if creating and isinstance(op, MarkOwned):
            continue  # part of creating the table, not news of its own
        if isinstance(op, MarkForeignKey) and op.name in added:
            continue  # part of adding the key

        logger.info("%s.", op.describe().capitalize())
        kopf.info(body, reason=EVENT_REASONS[type(op)], message=op.describe())


def _raise_classified(error: Exception, report: Reporter, retry: int, memo: kopf.Memo,
                      logger: logging.Logger, action: str, deleting: bool = False) -> None:
    """Turn a database failure into the Ready condition, one Warning and Kopf's retry.

    Permanent failures are not retried with backoff (the next spec change, drift sweep or
    restart tries again), except while deleting: a permanent failure there would make Kopf
    release the finalizer and leave the table behind unmanaged, so deletion keeps trying at
    the longest backoff, visibly Terminating.
    """
    failure = classify(error, action, memo.database.statement_timeout_ms)
    if failure is None:
        raise error
    report.failed(failure.reason, failure.message)
    if failure.permanent and not deleting:
        logger.error("%s; not retried until the spec changes.", failure.message)
        raise kopf.PermanentError(failure.message) from None
    delay = MAX_RETRY_DELAY if failure.permanent else retry_delay(retry)
    logger.warning("%s; retrying in %ss.", failure.message, delay)
    raise kopf.TemporaryError(failure.message, delay=delay) from None


if __name__ == "__main__":
    from dbtable.cli import main

    sys.exit(main())
