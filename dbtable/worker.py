"""Blocking work run from an async handler in Kopf's executor, as Kopf runs a sync handler
(an edge: Kopf's contexts and its thread pool)."""
from __future__ import annotations

import asyncio
import contextvars
import functools
from typing import Any


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
