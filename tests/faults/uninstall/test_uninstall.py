"""The README's uninstall works while DatabaseTables are left, through a real API server.

Deleting the CRD puts a deletionTimestamp on every DatabaseTable; Kopf stops watching a
resource whose CRD is going away, so their finalizers would stay and the CRD would hang in
Terminating. The README therefore deletes the DatabaseTables first, while the operator still
runs to drop or release each table, and only then the CRD, RBAC and operator.
"""
from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from tests.faults.conftest import Database, Namespace
from tests.support.k8s import ROOT, resource
from tests.support.seed import seed_spec


def readme_teardown_commands() -> list[list[str]]:
    """The kubectl commands of the README's "Tear down" block, in order (not the Helm chart's
    or the PVC's: this cluster has neither)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Tear down\n\n```sh\n(.*?)```", readme, re.S)
    assert block, "README has no Tear down block"
    commands = [shlex.split(line.split("#")[0]) for line in block.group(1).splitlines()]
    return [c for c in commands if c and c[0] == "kubectl" and "pvc" not in c]


@pytest.mark.timeout(600)
def test_readme_uninstall_completes_with_databasetables_left(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container")
    namespace.kubectl("apply", "-f", str(ROOT / "example-cr.yaml"))
    namespace.apply(resource("kept", {"tableName": "KEPT", "columns": [{"ID": "integer"}],
                                      "primaryKey": "ID", "deletionPolicy": "Retain"}))
    namespace.apply(resource("dropped", {"tableName": "DROPPED", "columns": [{"ID": "integer"}],
                                         "primaryKey": "ID"}))
    for name in ("website-users", "kept", "dropped"):
        namespace.wait_ready(name)

    commands = readme_teardown_commands()
    assert commands, "no kubectl command in the README's Tear down block"
    cluster = namespace.cluster
    for command in commands:
        try:
            result = subprocess.run([str(cluster.kubectl), "--kubeconfig",
                                     str(cluster.kubeconfig), *command[1:]], cwd=ROOT,
                                    capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{shlex.join(command)}` from the README hung for 120 s")
        assert result.returncode == 0, (command, result.stdout, result.stderr)

    crd = namespace.cluster.kubectl_run("get", "crd", "databasetables.kopf.demo", check=False)
    assert crd.returncode != 0 and "NotFound" in crd.stderr, crd
    seed_table = seed_spec()["tableName"].lower()
    assert database.table(seed_table) is None and database.table("dropped") is None
    kept = database.table("kept")
    assert kept is not None and kept.owner is None  # released: the marker is gone
