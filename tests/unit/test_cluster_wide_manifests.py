"""Cluster-wide mode: deploy/cluster-wide's RBAC and patches, and the container command's choice
of namespaces (tests/e2e/test_cluster_wide.py runs them against a real API server)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hack.run import kopf_scope
from tests.support.manifests import by_kind, dockerfile_instructions, load_all, rule_set

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_WIDE = ROOT / "deploy" / "cluster-wide"

# What `kopf run --standalone --all-namespaces` and this operator use, and nothing else.
CLUSTER_WIDE_RULES = {
    ("kopf.demo", "databasetables", "list"),
    ("kopf.demo", "databasetables", "watch"),
    ("kopf.demo", "databasetables", "patch"),
    ("kopf.demo", "databasetables/status", "patch"),
    ("", "events", "create"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
}


def cluster_role() -> dict[str, Any]:
    (role,) = load_all("deploy/cluster-wide/cluster-role.yaml")
    return role


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((CLUSTER_WIDE / "kustomization.yaml").read_text(encoding="utf-8"))


def inline_patches() -> list[dict[str, Any]]:
    return [yaml.safe_load(p["patch"]) for p in kustomization()["patches"] if "patch" in p]


def test_cluster_role_grants_exactly_what_the_cluster_wide_mode_uses() -> None:
    role = cluster_role()
    assert role["kind"] == "ClusterRole"
    assert rule_set(role["rules"]) == CLUSTER_WIDE_RULES


def test_cluster_role_never_reaches_secrets_or_namespaces() -> None:
    resources = {resource for _, resource, _ in rule_set(cluster_role()["rules"])}
    assert not resources & {"secrets", "namespaces", "*"}
    assert all(verb not in ("*", "get", "create", "update", "delete")
               for _, resource, verb in rule_set(cluster_role()["rules"])
               if resource.startswith("databasetables"))


def test_every_cluster_wide_rule_says_who_needs_it() -> None:
    text = (CLUSTER_WIDE / "cluster-role.yaml").read_text(encoding="utf-8")
    assert text.count("- apiGroups:") == len(cluster_role()["rules"]) == 4
    assert text.count("needs:") >= 4


def test_cluster_role_replaces_the_namespaced_installs_cluster_role_and_keeps_its_binding() -> None:
    base = load_all("service-account.yaml")
    assert cluster_role()["metadata"]["name"] == by_kind(base, "ClusterRole")["metadata"]["name"]
    binding = by_kind(base, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == cluster_role()["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "database-table-operator",
                                    "namespace": "default"}]


def test_overlay_is_the_namespaced_install_with_three_changes() -> None:
    k = kustomization()
    assert k["resources"] == ["../../crd.yaml", "../../service-account.yaml", "../deployment.yaml"]
    assert all((CLUSTER_WIDE / r).resolve().is_file() for r in k["resources"])
    assert [p["path"] for p in k["patches"] if "path" in p] == ["cluster-role.yaml"]
    patches = inline_patches()
    deleted = {(p["kind"], p["metadata"]["name"], p["metadata"]["namespace"])
               for p in patches if p.get("$patch") == "delete"}
    assert deleted == {("Role", "database-table-operator", "default"),
                       ("RoleBinding", "database-table-operator", "default")}
    (deployment,) = [p for p in patches if p["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container == {"name": "operator", "env": [
        {"name": "WATCH_NAMESPACE", "value": "*", "valueFrom": None}]}
    assert len(patches) == 3


def run_command(tmp_path: Path, watch_namespace: str | None) -> list[str]:
    """The Dockerfile's CMD through sh, with a `kopf` that prints its arguments, run in a
    directory with files (so an unquoted * would be expanded)."""
    (command,) = [arg for op, arg in dockerfile_instructions() if op == "CMD"]
    stub = tmp_path / "bin" / "kopf"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stub.chmod(0o755)
    (tmp_path / "a-file").write_text("")
    env = {"PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}"}
    if watch_namespace is not None:
        env["WATCH_NAMESPACE"] = watch_namespace
    result = subprocess.run(["sh", "-c", command], env=env, cwd=tmp_path, capture_output=True,
                            text=True, check=True, timeout=30)
    return result.stdout.splitlines()


@pytest.mark.parametrize("watch_namespace, scope", [
    ("default", ["--namespace=default"]),
    ("team-a", ["--namespace=team-a"]),
    ("*", ["--all-namespaces"]),
    ("", ["--all-namespaces"]),
])
def test_container_command_serves_one_namespace_or_all(tmp_path: Path, watch_namespace: str,
                                                       scope: list[str]) -> None:
    args = run_command(tmp_path, watch_namespace)
    assert args == ["run", "--standalone", *scope, "--liveness=http://0.0.0.0:8080/healthz",
                    "/src/database_table_operator.py"]
    assert kopf_scope(watch_namespace) == scope  # `make run` maps it the same way

