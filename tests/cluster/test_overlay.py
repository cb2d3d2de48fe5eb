"""The test overlay changes only what the local node needs (runs anywhere kubectl is built).

Rendered with kubectl's kustomize and compared with the real manifests, object by object: if the
overlay ever touched the image, the probes, the limits or the security context, the in-cluster
suite would no longer test what users deploy.
"""
from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.support import ROOT, stage_cluster_wide, stage_overlay

RUN_ENV = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443",
           "PGHOST": "127.0.0.1", "PGPORT": "5433"}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}


def kustomize(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    from hack.controlplane_build import ensure_binaries

    # deploy/cluster-wide reads files above its directory: the restriction is lifted for all
    out = subprocess.run([str(ensure_binaries().kubectl), "kustomize",
                          "--load-restrictor=LoadRestrictionsNone", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}


def test_overlay_changes_only_network_toleration_and_addresses(tmp_path: Path) -> None:
    assert_only_node_changes(kustomize(ROOT), kustomize(stage_overlay(tmp_path, RUN_ENV)))


def test_cluster_wide_overlay_changes_only_network_toleration_and_addresses(
        tmp_path: Path) -> None:
    real = kustomize(ROOT / "deploy" / "cluster-wide")
    assert real[("ClusterRole", "database-table-operator")]["rules"] != \
        kustomize(ROOT)[("ClusterRole", "database-table-operator")]["rules"]
    assert_only_node_changes(real, kustomize(stage_cluster_wide(tmp_path, RUN_ENV)))


def assert_only_node_changes(real: dict[tuple[str, str], dict[str, Any]],
                             overlaid: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert real.keys() == overlaid.keys()
    for key, obj in real.items():
        if key != ("Deployment", "database-table-operator"):
            assert overlaid[key] == obj, key
    expected = copy.deepcopy(real[("Deployment", "database-table-operator")])
    pod = expected["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    pod["tolerations"] = [NOT_READY]
    env = pod["containers"][0]["env"]
    for name, value in RUN_ENV.items():
        entry = next((e for e in env if e["name"] == name), None)
        if entry is None:
            env.append({"name": name, "value": value})
        else:
            entry["value"] = value
    got = overlaid[("Deployment", "database-table-operator")]
    got_env = got["spec"]["template"]["spec"]["containers"][0]["env"]
    # kustomize may order merged entries differently: compare env as a set of entries
    assert sorted(map(repr, got_env)) == sorted(map(repr, env))
    got["spec"]["template"]["spec"]["containers"][0]["env"] = env
    assert got == expected
