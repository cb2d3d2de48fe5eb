"""The API server restarts under a running operator: it watches again and handles new changes."""
from __future__ import annotations

import time

import pytest

from tests.faults.conftest import Database, Namespace, column_list
from tests.support.k8s import resource, wait_for

COLUMNS = [{"ID": "integer"}, {"NAME": "text"}]


def test_operator_resumes_watching_after_an_api_server_restart(
        cluster, namespace: Namespace, database: Database, start_operator) -> None:
    if not hasattr(cluster, "restart_apiserver"):
        pytest.skip("needs the local control plane to restart kube-apiserver; "
                    "a cluster given by DBT_E2E_KUBECONFIG or kind cannot be restarted here")
    operator = start_operator("container")
    namespace.apply(resource("before", {"tableName": "BEFORE", "columns": COLUMNS,
                                        "primaryKey": "ID"}))
    namespace.wait_ready("before")

    cluster.restart_apiserver()
    restarted = time.monotonic()
    # Changes made only after the restart: an update and a new resource.
    wait_for(lambda: namespace.apply(resource("before", {
        "tableName": "BEFORE", "columns": COLUMNS + [{"EMAIL": "text"}], "primaryKey": "ID"})),
        timeout=30, message="the API server to take the update")
    namespace.apply(resource("after", {"tableName": "AFTER", "columns": COLUMNS,
                                       "primaryKey": "ID"}))
    namespace.wait_ready("before", timeout=90)
    namespace.wait_ready("after", timeout=90)
    print(f"\nhandled changes {time.monotonic() - restarted:.1f} s after the API server "
          "was back")

    assert operator.process.poll() is None, operator.logs()
    assert column_list(database, "before")[-1] == ("email", "text")
    assert column_list(database, "after") == [("id", "integer"), ("name", "text")]
