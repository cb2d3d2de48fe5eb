"""Bursts: many spec updates to one resource, and many resources at once."""
from __future__ import annotations

import json
import time

import kubernetes
import yaml

from tests.faults.conftest import Database, Namespace, column_list
from tests.support.k8s import resource, wait_for

UPDATES = 20
RESOURCES = 100


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
    start_operator("container")
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
    namespace.apply(manifest)
    wait_for(lambda: ready() == RESOURCES, timeout=150, interval=1,
             message=f"all {RESOURCES} resources Ready")
    print(f"\n{RESOURCES} resources Ready {time.monotonic() - started:.1f} s after one apply")

    tables = database.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert tables == [(RESOURCES,)]
    events = json.loads(namespace.kubectl("get", "events", "-o", "json").stdout)["items"]
    assert not [(e["involvedObject"]["name"], e["reason"], e["message"]) for e in events
                if e.get("type") == "Warning"]
