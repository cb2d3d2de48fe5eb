"""The reconcile and drift handlers' blocking part, in a worker thread (an edge: Kopf's
status, patch and retries around dbtable.reconcile): parse the spec, reconcile in steps, and
report Ready, Reconciling or the failure."""
from __future__ import annotations

import logging
from typing import Any

import kopf

from dbtable.drift import refusal_message, subject_from
from dbtable.errors import InvalidSpec
from dbtable.failures import first_line, retry_delay
from dbtable.finalizer_gate import holds_finalizer
from dbtable.fresh_create import create_fresh
from dbtable.handler_report import announce, owner_of, raise_classified, reporter
from dbtable.model import DesiredTable
from dbtable.plan import Plan
from dbtable.reconcile import Outcome, reconcile_table
from dbtable.reporting import Reporter
from dbtable.spec import parse_spec
from dbtable.sweep import DRIFT_ANNOTATION, PARK, park_table, reconcile_pending

# A change applied in steps runs them all in one call, one transaction each, replanning before
# each; past this many the rest waits for Kopf's next call, this soon (a guard, not a pace).
MAX_STEPS_PER_CALL = 32
NEXT_STEP_DELAY_S = 1.0


def reconcile_in_thread(body: kopf.Body, status: kopf.Status, patch: kopf.Patch,
                        memo: kopf.Memo, retry: int, logger: logging.Logger,
                        reason: str = "", **_: Any) -> None:
    """The reconcile's blocking part, in a worker thread, once the finalizer is on (the body
    may not show it yet: it is the version the handler was called with). On the first try of
    a create, a plain table is made without reading the catalog first
    (dbtable/fresh_create.py)."""
    converge(body, status, patch, memo, retry, logger, repair_only=False,
             fresh=reason == "create" and retry == 0)


def repair(body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo,
           retry: int, logger: logging.Logger) -> None:
    """The drift handler's work: re-check this resource's table, repair or report it."""
    subject = subject_from(body, pending=reconcile_pending(body, memo))
    if not subject.settled(own_retry=retry > 0):
        logger.info("Drift check skipped: the resource's own handlers are not done yet.")
        return
    if not holds_finalizer(body, memo, retry, logger):
        return
    if subject.in_conflict() and body.metadata.annotations.get(DRIFT_ANNOTATION, "").startswith(
            PARK):
        _step_aside(body, memo, logger)
    converge(body, status, patch, memo, retry, logger,
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
    announce(body, plan, logger)


def converge(body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo,
             retry: int, logger: logging.Logger, repair_only: bool, fresh: bool = False) -> None:
    report = reporter(body, status, patch, memo)
    try:
        desired = parse_spec(dict(body.spec))
    except InvalidSpec as e:
        report.failed("InvalidSpec", f"Invalid spec: {e}", warnings=[("InvalidSpec", str(e))])
        raise kopf.PermanentError(f"Invalid spec: {e}") from None
    try:
        outcome, applied = _apply_in_steps(body, desired, report, memo, logger, repair_only,
                                           fresh)
    except Exception as e:  # classified below: temporary or permanent
        raise_classified(e, report, retry, memo, logger, action="apply the spec")
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
    announce(body, Plan(operations=outcome.applied), logger)
    if outcome.pending:
        report.reconciling(outcome.table, applied, outcome.pending[0])
        raise kopf.TemporaryError(f"Applying the spec in steps; next: "
                                  f"{outcome.pending[0].describe()}", delay=NEXT_STEP_DELAY_S)
    report.ready(outcome.table, applied)


def _apply_in_steps(body: kopf.Body, desired: DesiredTable, report: Reporter,
                    memo: kopf.Memo, logger: logging.Logger, repair_only: bool,
                    fresh: bool = False) -> tuple[Outcome, Plan]:
    """Reconcile; while steps remain after a transaction committed, say Reconciling (naming
    the next step, published at once) and run the next one now, replanning from the catalog
    first: no retry delay between steps. Returns the last outcome and all that was applied
    (the last outcome's own operations not yet announced). Each step takes a pool connection
    of its own, so /healthz's bound on a worker's time at the database (DBT_STUCK_AFTER_S)
    still applies to one step, not to the sum of them."""
    outcome = _reconcile_once(body, desired, memo, repair_only, fresh)
    applied: tuple[Any, ...] = outcome.applied
    publish = getattr(memo, "publish_status", None)
    for _ in range(MAX_STEPS_PER_CALL - 1):
        if outcome.plan.refused or not outcome.pending:
            break
        announce(body, Plan(operations=outcome.applied), logger)
        report.reconciling(outcome.table, Plan(operations=applied), outcome.pending[0])
        if publish is not None:
            publish(body, report.patch_status)
        outcome = _reconcile_once(body, desired, memo, repair_only)
        applied += outcome.applied
    return outcome, Plan(operations=applied)


def _reconcile_once(body: kopf.Body, desired: DesiredTable, memo: kopf.Memo,
                    repair_only: bool, fresh: bool = False) -> Outcome:
    with memo.pool.connection() as conn:
        outcome = create_fresh(conn, memo.database, desired, owner_of(body)) if fresh else None
        return outcome or reconcile_table(conn, memo.database, desired, owner_of(body),
                                          repair_only=repair_only)


def _says_ready(status: kopf.Status, body: kopf.Body) -> bool:
    """The Ready condition is True for the current generation."""
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    return bool(ready) and ready.get("status") == "True" \
        and ready.get("observedGeneration") == body.meta.get("generation")
