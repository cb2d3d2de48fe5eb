"""The largest spec the CRD admits works end to end with the README's commands.

1,600 columns with 63-character names and 128-character types make a spec of about 320 KB.
Kubernetes allows 256 KiB for all of an object's annotations together: client-side
`kubectl apply` (a copy in kubectl.kubernetes.io/last-applied-configuration) and Kopf's default
diff base (another copy) cannot hold it. The README applies large specs with
`kubectl apply --server-side`, and the operator keeps its diff base as digests.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.faults.conftest import Database, Namespace
from tests.support.k8s import wait_for

TYPE = " " * 121 + "integer"  # 128 characters, the CRD's maxLength; a valid integer type


def largest_spec(key: int) -> dict[str, Any]:
    return {"tableName": "t" * 63, "primaryKey": column(key),
            "columns": [{column(i): TYPE} for i in range(1600)]}


def column(i: int) -> str:
    return f"c{i:04d}".ljust(63, "x")


@pytest.mark.timeout(600)
def test_largest_admitted_spec_is_created_and_updated(
        namespace: Namespace, database: Database, start_operator, tmp_path: Path) -> None:
    operator = start_operator("container")
    manifest = tmp_path / "large.yaml"

    def apply(key: int) -> None:
        manifest.write_text(yaml.safe_dump({
            "apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
            "metadata": {"name": "large"}, "spec": largest_spec(key)}))
        namespace.kubectl("apply", "--server-side", "-f", str(manifest))

    apply(key=0)
    assert len(json.dumps(largest_spec(0))) > 256 * 1024
    namespace.wait_ready("large", timeout=180)
    table = database.table("t" * 63)
    assert table is not None and len(table.columns) == 1600 and table.primary_key == (column(0),)

    apply(key=1599)  # an update: Kopf must see it as one
    namespace.wait_ready("large", timeout=180)
    assert database.table("t" * 63).primary_key == (column(1599),)

    large = namespace.get("large")
    annotations = large["metadata"].get("annotations", {})
    assert "kopf.demo/last-handled-configuration" not in annotations
    assert "kopf.demo/last-handled-digest" not in annotations
    assert len(json.dumps(large["status"]["lastHandled"])) < 200
    assert "[ERROR" not in operator.logs()  # e.g. Kopf failing to patch a too-long annotation
