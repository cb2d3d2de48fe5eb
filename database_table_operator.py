"""database-table-operator: DatabaseTable resources (kopf.demo/v1) become PostgreSQL tables.

Wiring only: this module registers the Kopf handlers; each delegates to ``dbtable`` (the
reconcile and drift work in ``converge``, the delete in ``release``, login in ``login``, the
background tasks in ``background``). Run it with::

    kopf run database_table_operator.py --namespace=default --verbose

or print the SQL it would run for a manifest (``python -m database_table_operator plan FILE``).
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any

import kopf

from dbtable import background
from dbtable.apisession import InvalidConnectionLimit, limit_from_env
from dbtable.converge import reconcile_in_thread, repair
from dbtable.database import settings_from_env
from dbtable.diffbase import DigestDiffBaseStorage
from dbtable.drift import Subject, subject_from
from dbtable.finalizer import FINALIZER, deleted_unreleased, is_held
from dbtable.finalizer_gate import holds_finalizer_async, start_api_writers
from dbtable.liveness import check_workers
from dbtable.login import login_session
from dbtable.persistence import ProgressAnnotations
from dbtable.pool import ConnectionPool
from dbtable.release import release, release_unheld
from dbtable.reporting import EventGate
from dbtable.sweep import DRIFT_ANNOTATION, reconcile_pending
from dbtable.worker import in_worker

GROUP, VERSION, PLURAL = "kopf.demo", "v1", "databasetables"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger,
              **_: Any) -> None:
    """Operator-wide settings, and the connection pool shared by all handlers."""
    # Our own finalizer name, so `kubectl get -o yaml` says who holds a resource.
    settings.persistence.finalizer = FINALIZER
    # Keep Kopf's bookkeeping in annotations: the status schema holds only our fields.
    settings.persistence.progress_storage = ProgressAnnotations(prefix=GROUP)
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
    """Lets a handler publish Reconciling before each step of a change, and put our finalizer
    on the object before it touches the database (dbtable/finalizer_gate.py)."""
    start_api_writers(settings, memo)


@kopf.on.login()
async def login(**kwargs: Any) -> kopf.AiohttpSession | None:
    """Kopf's session from the credentials, with at most DBT_API_CONNECTIONS connections.

    Declared explicitly (Kopf would pick it implicitly) so the operator authenticates the same
    way in every registry, e.g. kopf.testing.KopfRunner's fresh one in the end-to-end tests.
    """
    return await login_session(**kwargs)


@kopf.on.startup()
async def start_purging(memo: kopf.Memo, logger: logging.Logger, **_: Any) -> None:
    """With DBT_DROP_RETENTION, keep dropped tables aside, and drop them once their window
    is over."""
    background.start_purging(memo, logger)


@kopf.on.cleanup(id="stop-background")
async def stop_background(memo: kopf.Memo, **_: Any) -> None:
    """Stop the drift sweep, the heap trim and the purge of retained tables before the pool
    they use is closed."""
    await background.stop_background(memo)


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
    return check_workers(memo.get("pool"), memo.get("stuck_after", float("inf")))


@kopf.on.resume(GROUP, VERSION, PLURAL, id="reconcile")
@kopf.on.create(GROUP, VERSION, PLURAL, id="reconcile")
@kopf.on.update(GROUP, VERSION, PLURAL, id="reconcile", field="spec")
async def reconcile(body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo,
                    retry: int, logger: logging.Logger, reason: str, **_: Any) -> None:
    """Create, resume and update are one level-triggered reconcile: catalog → plan → apply.

    Async only to put the finalizer on from the event loop: a worker thread (one of
    DBT_WORKERS, each with a database connection) is then held for the database alone, not
    for an API round trip per create as well. The rest runs in Kopf's executor, as a sync
    handler would."""
    if not await holds_finalizer_async(body, memo, retry, logger):
        return
    await in_worker(memo.executor, reconcile_in_thread, body=body, status=status, patch=patch,
                    memo=memo, retry=retry, logger=logger, reason=str(reason))


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
    background.start_sweep(tables, memo, settings, logger)


@kopf.on.update(GROUP, VERSION, PLURAL, id="drift",
                field=("metadata", "annotations", DRIFT_ANNOTATION))
def repair_drift(body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo,
                 retry: int, logger: logging.Logger, **_: Any) -> None:
    """The sweep found this table out of step with its status: re-check and repair or report.

    Kopf runs this in the resource's own worker, after every earlier handler of the resource
    and never once it is being deleted, with the body as it is now: it cannot act on an old
    spec, undo a rename, or bring back a dropped table.
    """
    repair(body, status, patch, memo, retry, logger)


# Gated on our finalizer: Kopf then neither adds it in a cycle of its own (which would hold
# the create handler back until that PATCH came back as a watch event) nor removes it while
# the resource lives; the handlers that write add it first (dbtable/finalizer_gate.py).
@kopf.on.delete(GROUP, VERSION, PLURAL, id="cleanup", when=is_held)
def cleanup(body: kopf.Body, spec: kopf.Spec, status: kopf.Status, patch: kopf.Patch,
            memo: kopf.Memo, retry: int, logger: logging.Logger, **_: Any) -> None:
    """Drop the table (deletionPolicy Drop) or release it (Retain); retried until it works."""
    release(body, spec, status, patch, memo, retry, logger)


@kopf.on.event(GROUP, VERSION, PLURAL, id="deleted-unreleased", when=deleted_unreleased)
async def cleanup_after_racing_delete(body: kopf.Body, spec: kopf.Spec, memo: kopf.Memo,
                                      logger: logging.Logger, **_: Any) -> None:
    """The object went without its cleanup (see dbtable.finalizer.deleted_unreleased): do it
    now, as the delete handler would have. Kopf delivers this event to the object's worker
    after its create handler returned, so the table it made is there to drop. While that
    fails, it is retried in the background until it works or the operator stops (Kopf does
    not retry event handlers); each failure is logged and reported as a Warning Event."""
    logger.warning("Deleted without its cleanup (a delete raced the finalizer): cleaning up.")
    await release_unheld(body, spec, memo, logger)


if __name__ == "__main__":
    from dbtable.cli import main

    sys.exit(main())
