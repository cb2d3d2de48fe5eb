"""The delete handler's work (an edge: Kopf's status, patch and retries around
dbtable.reconcile.delete_table): drop the table (deletionPolicy Drop) or release it (Retain);
and the same for an object that went without its delete handler, retried in the background."""
from __future__ import annotations

import asyncio
import logging

import kopf

from dbtable.background import spawn
from dbtable.failures import retry_delay
from dbtable.handler_report import announce, owner_of, raise_classified, reporter
from dbtable.model import DeletionPolicy
from dbtable.reconcile import delete_table
from dbtable.worker import in_worker


def release(body: kopf.Body, spec: kopf.Spec, status: kopf.Status, patch: kopf.Patch,
            memo: kopf.Memo, retry: int, logger: logging.Logger) -> None:
    """Drop or release the resource's table; raises Kopf's retry while that fails."""
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
        raise_classified(e, report, retry, memo, logger, action="delete the table",
                         deleting=True)
    if outcome.plan.refused:  # referenced by another table's foreign key: kept, retried
        (refusal,) = outcome.plan.refusals
        report.failed(refusal.reason.value, str(refusal))
        logger.warning("%s; retrying.", refusal)
        raise kopf.TemporaryError(str(refusal), delay=retry_delay(retry))
    if not outcome.plan.operations:
        logger.info("No table is owned by this resource; nothing to delete.")
    announce(body, outcome.plan, logger)


async def release_unheld(body: kopf.Body, spec: kopf.Spec, memo: kopf.Memo,
                         logger: logging.Logger) -> None:
    """The cleanup of an object that went without it (a DELETE raced the PATCH adding our
    finalizer: dbtable.finalizer.deleted_unreleased). Tried now; while it fails, again in the
    background with the delete handler's backoff (5 s, doubling to 300 s) until it works or
    the operator stops: no deletion follows and Kopf never retries an event handler, so
    nothing else would. Each attempt runs in Kopf's executor, and like the delete handler's
    drops only a table whose marker names this very object (its uid): a newer object of the
    resource that reclaimed the table meanwhile keeps it."""
    delay = await _attempt(body, spec, memo, logger, retry=0)
    if delay is not None:
        spawn(memo, _retry(body, spec, memo, logger, delay),
              name=f"cleanup of {body.metadata.namespace}/{body.metadata.name}")


async def _retry(body: kopf.Body, spec: kopf.Spec, memo: kopf.Memo, logger: logging.Logger,
                 delay: float) -> None:
    retry = 1
    next_delay: float | None = delay
    while next_delay is not None:
        await asyncio.sleep(next_delay)
        next_delay = await _attempt(body, spec, memo, logger, retry)
        retry += 1


async def _attempt(body: kopf.Body, spec: kopf.Spec, memo: kopf.Memo, logger: logging.Logger,
                   retry: int) -> float | None:
    """One cleanup in Kopf's executor: None once done, else how long to wait before the next
    (release has logged and reported why)."""
    try:
        await in_worker(memo.executor, release, body=body, spec=spec, status={},
                        patch=kopf.Patch(), memo=memo, retry=retry, logger=logger)
    except kopf.TemporaryError as e:
        return e.delay if e.delay is not None else retry_delay(retry)
    except Exception:  # not a database failure (a bug): shown in full, and tried again
        delay = retry_delay(retry)
        logger.exception("Could not clean up after a racing delete; retrying in %ss.", delay)
        return delay
    return None
