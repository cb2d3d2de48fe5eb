"""The cleanup after a DELETE that raced our finalizer (the ``deleted-unreleased`` event
handler), called as Kopf calls it, while the database is away: against a real PostgreSQL
reached through a proxy the test freezes.

Kopf never retries an event handler, and no deletion follows (the object is already gone),
so a failed cleanup must be retried by the operator itself, in the background, or the table
is left behind for good; and a retry must still drop only a table this very object owns.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import kopf
import pytest

import database_table_operator as operator
from dbtable.catalog import read_table
from dbtable.database import DatabaseSettings
from dbtable.worker import in_worker
from tests.support.handlers import (  # noqa: F401  (fixture)
    KEY, LOG, Operator, body, reconcile, run_operator, spec)
from tests.support.proxy import FreezableProxy

pytestmark = pytest.mark.integration
RETRY_WITHIN_S = 30.0  # the first retry comes after 5 s; a loaded machine may add a few more
OLD_UID = "9d0c3f7e-0000-4000-8000-0000000000aa"
NEW_UID = "9d0c3f7e-0000-4000-8000-0000000000bb"


@pytest.fixture
def proxy(settings: DatabaseSettings) -> Iterator[FreezableProxy]:
    parts = urlsplit(settings.url)
    with FreezableProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as running:
        yield running


@pytest.fixture
def through_proxy(run_operator: Any, proxy: FreezableProxy,  # noqa: F811
                  settings: DatabaseSettings) -> Iterator[Operator]:
    """The operator, started by its own startup handlers, reaching PostgreSQL through the
    proxy with short bounds (a frozen server fails an attempt within about 2 s); its
    background tasks stopped by its own cleanup handler afterwards."""
    running = run_operator(DATABASE_URL=proxy.url_through(settings.url),
                           DBT_CONNECT_TIMEOUT_S="1", DBT_STATEMENT_TIMEOUT_MS="1000")
    running.loop.run_until_complete(operator.start_status_publisher(
        settings=kopf.OperatorSettings(), memo=running.memo))
    yield running
    proxy.resume()
    stop(running)


def stop(running: Operator, timeout: float = RETRY_WITHIN_S) -> bool:
    """The operator's cleanup handler stopping its background tasks: True once it returned
    (not waited for past ``timeout``: a task that ignores its cancellation would hang it)."""
    stopping = running.loop.create_task(operator.stop_background(memo=running.memo))
    done, _ = running.loop.run_until_complete(asyncio.wait({stopping}, timeout=timeout))
    return stopping in done


def deleted(name: str, uid: str) -> kopf.Body:
    """The object as the DELETED event of a racing delete shows it: our finalizer listed, no
    deletionTimestamp."""
    return body(spec(name, KEY), uid=uid)


def call_event_handler(running: Operator, resource: kopf.Body) -> int:
    """As Kopf calls an event handler: an async one on the loop, a sync one in a thread; an
    error is logged and dropped (Kopf has no retry for events). Returns how many times the
    loop ran another task meanwhile (every 50 ms): the operator's other work goes on."""
    handler = operator.cleanup_after_racing_delete
    kwargs = {"type": "DELETED", "event": {"type": "DELETED", "object": dict(resource)},
              "body": resource, "spec": resource.spec, "memo": running.memo, "logger": LOG}
    ticks = 0

    async def call() -> None:
        if asyncio.iscoroutinefunction(handler):
            await handler(**kwargs)
        else:
            await in_worker(None, handler, **kwargs)

    async def tick(until: asyncio.Task[None]) -> None:
        nonlocal ticks
        while not until.done():
            await asyncio.sleep(0.05)
            ticks += 1

    async def both() -> None:
        handling = asyncio.ensure_future(call())
        await asyncio.gather(handling, tick(handling))

    try:
        running.loop.run_until_complete(both())
    except Exception as e:  # noqa: BLE001 - what Kopf does with it
        LOG.warning("Event handler failed: %s", e)
    return ticks


def settle(running: Operator, timeout: float = RETRY_WITHIN_S) -> None:
    """Run the operator's loop until its background tasks are done (at most ``timeout``)."""
    async def wait() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while [t for t in running.memo.get("background", ()) if not t.done()] \
                and loop.time() < deadline:
            await asyncio.sleep(0.1)

    running.loop.run_until_complete(wait())


def table_in(conn: Any, settings: DatabaseSettings, name: str) -> Any:
    """The table as PostgreSQL has it, read directly (not through the frozen proxy)."""
    with conn, conn.cursor() as cur:
        return read_table(cur, settings.schema, name)


def test_a_cleanup_that_fails_while_the_database_is_away_is_retried_until_the_table_is_dropped(
        through_proxy: Operator, proxy: FreezableProxy, conn: Any,
        settings: DatabaseSettings) -> None:
    running = through_proxy
    assert reconcile(running, deleted("raced", OLD_UID))[1] is None
    assert table_in(conn, settings, "raced") is not None
    running.events()

    proxy.freeze()
    # The attempt waits about 2 s for the frozen server, in a worker thread: not on the loop.
    assert call_event_handler(running, deleted("raced", OLD_UID)) >= 5
    assert table_in(conn, settings, "raced") is not None  # the first attempt failed
    assert [(t, r) for t, r, _ in running.events()] == [("Warning", "DatabaseUnavailable")]

    proxy.resume()
    settle(running)
    assert table_in(conn, settings, "raced") is None
    assert [(t, r) for t, r, _ in running.events()] == [("Normal", "TableDropped")]
    assert running.memo.get("background", []) == []  # done: nothing kept running


def test_a_retried_cleanup_leaves_a_table_a_newer_object_of_the_resource_reclaimed(
        through_proxy: Operator, proxy: FreezableProxy, conn: Any,
        settings: DatabaseSettings) -> None:
    """The resource is created again (a new uid) while the old object's cleanup waits for its
    retry; the new object reclaims the table, and the retry must not drop it."""
    running = through_proxy
    assert reconcile(running, deleted("raced", OLD_UID))[1] is None
    proxy.freeze()
    call_event_handler(running, deleted("raced", OLD_UID))
    assert running.memo.get("background")  # a retry is waiting

    proxy.resume()
    assert reconcile(running, deleted("raced", NEW_UID))[1] is None  # reclaims it
    running.events()
    settle(running)
    kept = table_in(conn, settings, "raced")
    assert kept is not None and kept.owner is not None and kept.owner.uid == NEW_UID
    assert running.memo.get("background", []) == []  # the retry found nothing of its own
    assert running.events() == []


def test_a_waiting_cleanup_retry_ends_when_the_operator_stops(
        through_proxy: Operator, proxy: FreezableProxy) -> None:
    running = through_proxy
    assert reconcile(running, deleted("raced", OLD_UID))[1] is None
    proxy.freeze()
    call_event_handler(running, deleted("raced", OLD_UID))
    (waiting,) = running.memo["background"]

    assert stop(running)
    assert waiting.cancelled()
    running.loop.run_until_complete(asyncio.sleep(0))  # its done-callback
    assert running.memo["background"] == []
