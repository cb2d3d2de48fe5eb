"""The handlers' way to the API server from inside a call (an edge: Kopf and the Kubernetes
API): the status published before each step of a change (dbtable/status_publisher.py) and our
finalizer put on the object before any DDL (dbtable/finalizer.py), both on the operator's loop.
"""
from __future__ import annotations

import asyncio
import logging

import kopf

from dbtable.failures import retry_delay
from dbtable.finalizer import FinalizerKeeper, FinalizerNotAdded, is_held
from dbtable.status_publisher import StatusPublisher


def start_api_writers(settings: kopf.OperatorSettings, memo: kopf.Memo) -> None:
    """From a startup handler, on the operator's loop: the publisher and the keeper bind to it;
    the executor is Kopf's, sized by configure() (see dbtable.worker.in_worker)."""
    memo.publish_status = StatusPublisher(asyncio.get_running_loop(), settings)
    memo.keep_finalizer = FinalizerKeeper(asyncio.get_running_loop(), settings)
    memo.executor = settings.execution.executor


def holds_finalizer(body: kopf.Body, memo: kopf.Memo, retry: int,
                    logger: logging.Logger) -> bool:
    """holds_finalizer_async, from a sync handler's thread (on the operator's loop)."""
    if is_held(body):
        return True  # every call after the first: no hop to the loop
    return asyncio.run_coroutine_threadsafe(holds_finalizer_async(body, memo, retry, logger),
                                            memo.keep_finalizer.loop).result()


async def holds_finalizer_async(body: kopf.Body, memo: kopf.Memo, retry: int,
                                logger: logging.Logger) -> bool:
    """Our finalizer is on the object before any DDL (added now if need be, see
    dbtable/finalizer.py), so no table exists that a deletion could leave behind. False: the
    object is being deleted or gone, and nothing is created for it. (``ensure`` answers at
    once, with no request, when the object already holds it.)"""
    try:
        held = await memo.keep_finalizer.ensure(body)
    except FinalizerNotAdded as e:
        delay = retry_delay(retry)
        logger.warning("%s; retrying in %ss.", e, delay)
        raise kopf.TemporaryError(str(e), delay=delay) from None
    if not held:
        logger.info("The resource is being deleted: nothing is created for it.")
    return held
