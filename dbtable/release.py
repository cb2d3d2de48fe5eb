"""The delete handler's work (an edge: Kopf's status, patch and retries around
dbtable.reconcile.delete_table): drop the table (deletionPolicy Drop) or release it (Retain)."""
from __future__ import annotations

import logging

import kopf

from dbtable.failures import retry_delay
from dbtable.handler_report import announce, owner_of, raise_classified, reporter
from dbtable.model import DeletionPolicy
from dbtable.reconcile import delete_table


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
