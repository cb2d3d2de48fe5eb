"""Calling the operator's handlers as Kopf calls them, against a real PostgreSQL: the operator
configured by its own startup handler (the run_operator fixture), Kopf's own bodies and patches,
and the Events read back from Kopf's posting queue. Shared by the integration tests of the
handlers (test_operator_handlers.py, test_drift_handler.py, test_foreign_key_handlers.py and
test_racing_delete.py)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import kopf
import pytest
from kopf._core.engines import posting
from psycopg2 import sql

import database_table_operator as operator
from dbtable.catalog import read_table
from dbtable.converge import reconcile_in_thread
from dbtable.database import DatabaseSettings
from dbtable.finalizer import FINALIZER

LOG = logging.getLogger("test-handlers")
KEY = [{"ID": "integer"}, {"NAME": "text"}]


@dataclass
class Operator:
    memo: kopf.Memo
    settings: DatabaseSettings
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Any]

    def events(self) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the Events posted since the last call."""
        self.loop.run_until_complete(asyncio.sleep(0))  # deliver cross-thread enqueues
        found = []
        while not self.queue.empty():
            event = self.queue.get_nowait()
            found.append((event.type, event.reason, event.message))
        return found

    def table(self, name: str) -> Any:
        conn = self.memo.pool
        with conn.connection() as c, c.cursor() as cur:
            return read_table(cur, self.settings.schema, name)

    def sql(self, statement: str | sql.Composable, params: tuple = ()) -> None:
        with self.memo.pool.connection() as conn, conn, conn.cursor() as cur:
            cur.execute(statement, params)


@pytest.fixture
def run_operator(settings: DatabaseSettings,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Configure the operator with its own startup handler; returns a factory taking env."""
    started: list[Operator] = []

    def start(**env: str) -> Operator:
        for key, value in {"DATABASE_URL": settings.url, "DBT_SCHEMA": settings.schema,
                           "DBT_LOCK_TIMEOUT_MS": "500", "DBT_WORKERS": "2", **env}.items():
            monkeypatch.setenv(key, value)
        memo, kopf_settings = kopf.Memo(), kopf.OperatorSettings()
        operator.configure(settings=kopf_settings, memo=memo, logger=LOG)
        loop = asyncio.new_event_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        posting.settings_var.set(kopf_settings)
        posting.event_queue_loop_var.set(loop)
        posting.event_queue_var.set(queue)
        started.append(Operator(memo, memo.database, loop, queue))
        return started[-1]

    yield start
    for running in started:
        operator.close_pool(memo=running.memo)
        running.loop.close()


def body(spec: dict[str, Any], status: dict[str, Any] | None = None, generation: int = 1,
         uid: str = "9d0c3f7e-0000-4000-8000-000000000001") -> kopf.Body:
    return kopf.Body({"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
                      "metadata": {"namespace": "default", "name": "things", "uid": uid,
                                   "generation": generation,
                                   # As the handler finds it after its first call added it.
                                   "finalizers": [FINALIZER]},
                      "spec": spec, "status": status or {}})


def reconcile(running: Operator, resource: kopf.Body, retry: int = 0,
              handler: Any = reconcile_in_thread) -> tuple[kopf.Patch, BaseException | None]:
    """Call a handler like Kopf does; return the patch (Kopf applies it even on failure)."""
    patch = kopf.Patch()
    try:
        handler(body=resource, spec=resource.spec, status=resource.status, patch=patch,
                memo=running.memo, retry=retry, logger=LOG)
    except Exception as e:  # noqa: BLE001 - the outcome is what is tested
        return patch, e
    return patch, None


def after(resource: kopf.Body, patch: kopf.Patch) -> kopf.Body:
    """The resource as the next call sees it: the status patch applied."""
    raw = dict(resource)
    raw["status"] = {**resource.status, **patch.status}
    return kopf.Body(raw)


def ready(patch: kopf.Patch) -> dict[str, Any]:
    return next(c for c in patch.status["conditions"] if c["type"] == "Ready")


def spec(table: str, columns: list[dict[str, str]], key: str = "ID") -> dict[str, Any]:
    return {"tableName": table, "columns": columns, "primaryKey": key}
