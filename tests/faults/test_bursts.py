"""Bursts: many spec updates to one resource, and many resources at once."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes
import yaml

from bench.burst_procs import api_connections
from tests.faults.conftest import Database, Namespace, column_list
from tests.support.k8s import resource, wait_for

UPDATES = 20
RESOURCES = 100


class Peak(threading.Thread):
    """The highest value of ``sample()`` seen every 20 ms while the ``with`` block runs."""

    def __init__(self, sample: Callable[[], int]) -> None:
        super().__init__(daemon=True)
        self._sample, self._done, self.value = sample, threading.Event(), 0

    def run(self) -> None:
        while not self._done.wait(0.02):
            self.value = max(self.value, self._sample())

    def __enter__(self) -> Peak:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self.join()


def server_of(namespace: Namespace) -> str:
    config = yaml.safe_load(Path(namespace.cluster.kubeconfig).read_text())
    return str(config["clusters"][0]["cluster"]["server"])


def test_rapid_updates_end_in_the_last_spec(namespace: Namespace, database: Database,
                                            start_operator) -> None:
    start_operator("container")
    columns = [{"ID": "integer"}]
    namespace.apply(resource("burst", {"tableName": "BURST", "columns": columns,
                                       "primaryKey": "ID"}))
    namespace.wait_ready("burst")

    # Through the API client rather than kubectl, so the updates arrive faster than the
    # operator handles them (a kubectl process per update takes about as long as a reconcile).
    api = kubernetes.client.CustomObjectsApi(
        kubernetes.config.new_client_from_config(str(namespace.cluster.kubeconfig)))
    started = time.monotonic()
    for n in range(1, UPDATES + 1):
        columns = columns + [{f"C{n}": "integer"}]
        api.patch_namespaced_custom_object("kopf.demo", "v1", namespace.name, "databasetables",
                                           "burst", {"spec": {"columns": columns}})
    applied = time.monotonic()
    namespace.wait_ready("burst", timeout=60)
    print(f"\n{UPDATES} updates applied in {applied - started:.1f} s; Ready for the last "
          f"{time.monotonic() - applied:.1f} s later")

    assert column_list(database, "burst") == [("id", "integer")] + [
        (f"c{n}", "integer") for n in range(1, UPDATES + 1)]
    status = namespace.get("burst")["status"]
    assert [c["name"] for c in status["columns"]] == [name for name, _ in
                                                      column_list(database, "burst")]
    assert not [e for e in namespace.events("burst") if e.get("type") == "Warning"]


def test_a_hundred_resources_at_once_all_become_ready(namespace: Namespace, database: Database,
                                                      start_operator) -> None:
    """...through a pool of 4 connections to the API server, one of them held by the watch:
    the operator never opens more (Kopf's own session has no limit), and nothing stalls."""
    operator = start_operator("container", extra_env={"DBT_API_CONNECTIONS": "4"})
    port = urlsplit(server_of(namespace)).port
    peak = Peak(lambda: api_connections(operator.process.pid, port))
    manifest = yaml.safe_dump_all([yaml.safe_load(resource(f"t{n:03}", {
        "tableName": f"T{n:03}", "columns": [{"ID": "integer"}, {"NAME": "text"}],
        "primaryKey": "ID"})) for n in range(RESOURCES)])

    def ready() -> int:
        listing = json.loads(namespace.kubectl("get", "databasetables", "-o", "json").stdout)
        return sum(1 for obj in listing["items"]
                   for c in obj.get("status", {}).get("conditions", [])
                   if c["type"] == "Ready" and c["status"] == "True"
                   and c.get("observedGeneration") == obj["metadata"]["generation"])

    started = time.monotonic()
    with peak:
        namespace.apply(manifest)
        wait_for(lambda: ready() == RESOURCES, timeout=150, interval=1,
                 message=f"all {RESOURCES} resources Ready")
    print(f"\n{RESOURCES} resources Ready {time.monotonic() - started:.1f} s after one apply; "
          f"at most {peak.value} connections to the API server")
    assert 1 <= peak.value <= 4

    tables = database.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert tables == [(RESOURCES,)]
    events = json.loads(namespace.kubectl("get", "events", "-o", "json").stdout)["items"]
    assert not [(e["involvedObject"]["name"], e["reason"], e["message"]) for e in events
                if e.get("type") == "Warning"]


def test_a_connection_limit_with_no_room_beside_a_watch_stops_the_operator_naming_it(
        namespace: Namespace, start_operator) -> None:
    operator = start_operator("container", extra_env={"DBT_API_CONNECTIONS": "2"})
    wait_for(lambda: operator.process.poll() is not None, timeout=60,
             message="the operator to exit")
    assert operator.process.returncode != 0
    assert "DBT_API_CONNECTIONS must be a whole number of at least 4" in operator.logs()
