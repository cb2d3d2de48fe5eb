"""PostgreSQL stops answering but its connections stay open (a hung proxy, a frozen VM).

The operator reaches the database through a TCP proxy on loopback that the test freezes: it
keeps every socket open and forwards nothing, so the kernel keeps acknowledging and only the
operator's own bounds notice. The operator must not freeze: it reports DatabaseUnavailable on
every resource it is asked about and converges when the proxy resumes. And when a worker is
stuck past DBT_STUCK_AFTER_S, Kopf's /healthz fails, so the kubelet restarts the operator.
"""
from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.faults.conftest import Database, Namespace, column_list, wait_condition
from tests.support.k8s import resource, wait_for
from tests.support.proxy import FreezableProxy

COLUMNS = [{"ID": "integer"}, {"NAME": "text"}]


def spec(table: str, columns: list[dict[str, str]] = COLUMNS) -> dict[str, Any]:
    return {"tableName": table, "columns": columns, "primaryKey": "ID"}


@pytest.fixture
def proxy(database: Database) -> Iterator[FreezableProxy]:
    parts = urlsplit(database.url)
    with FreezableProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as running:
        yield running


def health(url: str) -> int:
    """The HTTP status of Kopf's /healthz (a refused or hung probe counts as failing)."""
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def test_frozen_database_is_reported_and_the_operator_recovers(
        namespace: Namespace, database: Database, proxy: FreezableProxy,
        start_operator) -> None:
    operator = start_operator("container", extra_env={
        "DATABASE_URL": proxy.url_through(database.url), "DBT_CONNECT_TIMEOUT_S": "2",
        "DBT_STATEMENT_TIMEOUT_MS": "3000"})
    namespace.apply(resource("before", spec("BEFORE")))
    namespace.wait_ready("before")  # the pool now holds an idle connection through the proxy

    proxy.freeze()
    namespace.apply(resource("before", spec("BEFORE", COLUMNS + [{"EMAIL": "text"}])))
    namespace.apply(resource("during", spec("DURING")))
    # The idle connection's check and a new connection each end after 2 s: both resources are
    # told, instead of workers waiting for an answer that never comes.
    for name in ("before", "during"):
        condition = wait_condition(namespace, name, "DatabaseUnavailable", timeout=60)
        assert "did not answer within 2 s" in condition["message"], condition
    # Slow answers, but nobody stuck past the bound (300 s): the probe stays healthy.
    wait_for(lambda: health(operator.liveness_url) == 200, timeout=30,
             message="/healthz answering 200 during the outage")

    proxy.resume()
    namespace.wait_ready("before", timeout=90)
    namespace.wait_ready("during", timeout=90)
    assert column_list(database, "before")[-1] == ("email", "text")
    assert column_list(database, "during") == [("id", "integer"), ("name", "text")]


def test_liveness_fails_while_a_worker_is_stuck_and_recovers(
        namespace: Namespace, database: Database, proxy: FreezableProxy,
        start_operator) -> None:
    # A connect bound far above the stuck bound: the worker waits on the frozen proxy for
    # longer than DBT_STUCK_AFTER_S, which is what the probe is there to see.
    operator = start_operator("container", extra_env={
        "DATABASE_URL": proxy.url_through(database.url), "DBT_CONNECT_TIMEOUT_S": "120",
        "DBT_STUCK_AFTER_S": "3"})
    wait_for(lambda: health(operator.liveness_url) == 200, timeout=60,
             message="/healthz answering 200 once the operator runs")
    proxy.freeze()
    namespace.apply(resource("stuck", spec("STUCK")))
    wait_for(lambda: health(operator.liveness_url) == 500, timeout=45,
             message="/healthz failing while a worker is stuck")

    proxy.resume()
    namespace.wait_ready("stuck", timeout=60)
    wait_for(lambda: health(operator.liveness_url) == 200, timeout=30,
             message="/healthz answering 200 again")
    assert "busy with the database for more than 3 s" in operator.logs()
