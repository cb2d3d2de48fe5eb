"""The operator-wide background tasks (an edge: Kopf's memo and the event loop): the drift
sweep, the heap trim, with DBT_DROP_RETENTION the purge of retained tables, and the retries of
a cleanup after a racing delete (dbtable/release.py). Started by the handlers, stopped by a
cleanup handler before the pool they use is closed."""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from typing import Any

import kopf

from dbtable.drift import Subject
from dbtable.failures import first_line
from dbtable.heap import trim_when_quiet
from dbtable.retention import InvalidRetention, parse_retention, purge_expired, purge_interval
from dbtable.sweep import sweep_forever


def background(memo: kopf.Memo) -> list[asyncio.Task[None]]:
    """The operator-wide tasks, under one memo key: Kopf gives every resource a shallow copy
    of the memo, and past 10 keys each copy doubles (296 to 488 bytes: 2 MB at 10,000)."""
    tasks: list[asyncio.Task[None]] = memo.setdefault("background", [])
    return tasks


def spawn(memo: kopf.Memo, work: Coroutine[Any, Any, None], name: str) -> None:
    """Run ``work`` among the operator-wide tasks (cancelled when the operator stops), and
    forget it once done, so the list does not grow with every task ever run."""
    tasks = background(memo)
    task = asyncio.create_task(work, name=name)
    tasks.append(task)
    task.add_done_callback(tasks.remove)


def start_sweep(tables: kopf.Index[None, Subject], memo: kopf.Memo,
                settings: kopf.OperatorSettings, logger: logging.Logger) -> None:
    """One background sweep for all tables, instead of a timer per resource; beside it, the
    heap handed back to the system once a burst is over (dbtable/heap.py)."""
    memo.progress_storage = settings.persistence.progress_storage
    background(memo).append(asyncio.create_task(sweep_forever(tables, memo, settings, logger),
                                                name="drift sweep"))
    background(memo).append(asyncio.create_task(trim_when_quiet(logger), name="heap trim"))


def start_purging(memo: kopf.Memo, logger: logging.Logger) -> None:
    """With DBT_DROP_RETENTION, keep dropped tables aside, and drop them once their window
    is over."""
    try:
        memo.retention = parse_retention(os.environ.get("DBT_DROP_RETENTION"))
    except InvalidRetention as e:  # a setting only a restart fixes: stop, saying which
        raise kopf.PermanentError(str(e)) from None
    if memo.retention is not None:
        background(memo).append(asyncio.create_task(_purge_forever(memo, logger),
                                                    name="purge"))


async def stop_background(memo: kopf.Memo) -> None:
    """Cancel every background task and wait for them (in the event loop: a task is cancelled
    from its own loop's thread)."""
    for task in memo.get("background", ()):
        task.cancel()
    await asyncio.gather(*memo.get("background", ()), return_exceptions=True)


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
