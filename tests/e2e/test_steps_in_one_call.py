"""A change in steps through the running operator: every step runs in one handler call (no
Kopf retry between them), and the status says Reconciling, naming the step, while it runs
(published through the API server in the middle of the call)."""
from __future__ import annotations

import json
import subprocess

from tests.e2e.conftest import Database, Namespace
from tests.support.k8s import resource

NAME = "steps"
COLUMNS = [{"ID": "integer"}, {"A": "text"}, {"B": "text"}]


def spec(**extra: object) -> dict[str, object]:
    return {"tableName": "STEPS", "columns": COLUMNS, "primaryKey": "ID", **extra}


def test_steps_run_in_one_call_and_publish_reconciling(namespace: Namespace, database: Database,
                                                       start_operator) -> None:
    operator = start_operator("container")
    namespace.apply(resource(NAME, spec()))
    namespace.wait_ready(NAME)
    database.execute("INSERT INTO public.steps SELECT g, g::text, g::text "
                     "FROM generate_series(1, 1000) g")
    cluster = namespace.cluster
    watch = subprocess.Popen(
        [str(cluster.kubectl), "--kubeconfig", str(cluster.kubeconfig), "-n", namespace.name,
         "get", "databasetable", NAME, "--watch", "--output-watch-events", "-o", "json"],
        stdout=subprocess.PIPE, text=True, env=cluster.env())
    try:
        namespace.apply(resource(NAME, spec(columnOptions={
            "A": {"nullable": False, "unique": True}, "B": {"nullable": False}})))
        namespace.wait_ready(NAME, timeout=90)
    finally:
        watch.terminate()
        seen, _ = watch.communicate(timeout=20)
    decoder, position, states = json.JSONDecoder(), 0, []
    while position < len(seen.strip()):
        event, end = decoder.raw_decode(seen, position)
        position = end + (len(seen[end:]) - len(seen[end:].lstrip()))
        ready = next((c for c in event["object"].get("status", {}).get("conditions", [])
                      if c["type"] == "Ready"), {})
        if ready.get("observedGeneration") == 2:
            states.append((ready["reason"], ready["message"]))
    logs = operator.logs()
    assert "Could not publish the status" not in logs, logs[-3000:]
    reconciling = [message for reason, message in states if reason == "Reconciling"]
    assert any("in progress: ValidateNotNullCheck" in m for m in reconciling), states
    assert any("in progress: CreateUniqueIndex" in m for m in reconciling), states
    assert states[-1][0] == "Reconciled"
    assert "Applying the spec in steps" not in logs  # no TemporaryError between the steps
    assert database.table("steps").columns[1].not_null
