"""Helpers of the in-cluster suite: staging the overlay, reading a process and the kubelet.

The parsers are pure (tests/unit/test_incluster_helpers.py); the suite's fixtures are in
conftest.py.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = Path(__file__).resolve().parent / "overlay"
DEPLOYMENT = "database-table-operator"
CONTAINER = "operator"
# Statements that change a schema: none may run when a restarted operator resumes.
DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|COMMENT|TRUNCATE|GRANT|REVOKE|RENAME)\b", re.I)


def stage_overlay(dest: Path, env: Mapping[str, str], base: str = "overlay") -> Path:
    """Lay out manifests/ (the real kustomization and its files, copied unchanged), overlay/
    (tests/cluster/overlay) and run/ (this run's addresses, over ``base``: the overlay, or the
    bare manifests where a cluster needs no change, as kind); return run/ for `kubectl apply -k`."""
    manifests = dest / "manifests"
    kustomization = yaml.safe_load((ROOT / "kustomization.yaml").read_text())
    for name in ["kustomization.yaml", *kustomization["resources"]]:
        target = manifests / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, target)
    (dest / "overlay").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(OVERLAY / "kustomization.yaml", dest / "overlay" / "kustomization.yaml")
    run = dest / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / "kustomization.yaml").write_text(run_kustomization(env, base))
    return run


def stage_cluster_wide(dest: Path, env: Mapping[str, str], base: str = "overlay") -> Path:
    """stage_overlay's layout for deploy/cluster-wide: its files copied unchanged beside the
    real manifests, the test overlay's changes (``base`` "overlay") or none ("manifests") over
    it, and run/ on top; return run/ (build it with --load-restrictor=LoadRestrictionsNone,
    as deploy/cluster-wide says)."""
    stage_overlay(dest, env, base)
    cluster_wide = dest / "manifests" / "deploy" / "cluster-wide"
    cluster_wide.mkdir(parents=True, exist_ok=True)
    for source in (ROOT / "deploy" / "cluster-wide").iterdir():
        shutil.copyfile(source, cluster_wide / source.name)
    layer = dest / "cluster-wide"
    layer.mkdir(parents=True, exist_ok=True)
    if base == "overlay":
        overlay = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())
        overlay["resources"] = ["../manifests/deploy/cluster-wide"]
    else:
        overlay = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                   "resources": ["../manifests/deploy/cluster-wide"]}
    (layer / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    (dest / "run" / "kustomization.yaml").write_text(run_kustomization(env, "cluster-wide"))
    return dest / "run"


def run_kustomization(env: Mapping[str, str], base: str = "overlay") -> str:
    """The per-run layer: environment variables of the operator container, merged by name."""
    patch = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": DEPLOYMENT, "namespace": "default"},
             "spec": {"template": {"spec": {"containers": [
                 {"name": CONTAINER, "env": [{"name": k, "value": v} for k, v in env.items()]}]}}}}
    return yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                           "resources": [f"../{base}"], "patches": [{"patch": yaml.safe_dump(patch)}]})


def proc_status(text: str) -> dict[str, str]:
    """/proc/<pid>/status as {field: value}."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    return fields


def root_mount_options(mountinfo: str) -> set[str]:
    """Per-mount options of "/" as the process sees it (the last mount on "/" wins)."""
    options: set[str] = set()
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) > 5 and fields[4] == "/":
            options = set(fields[5].split(","))
    return options


def probe_results(metrics: str, pod: str, probe_type: str = "Liveness") -> dict[str, float]:
    """The kubelet's prober_probe_total for one Pod: {result: count}."""
    results: dict[str, float] = {}
    for match in re.finditer(r"^prober_probe_total\{([^}]*)\}\s+(\S+)$", metrics, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if labels.get("pod") == pod and labels.get("probe_type") == probe_type:
            results[labels["result"]] = results.get(labels["result"], 0) + float(match.group(2))
    return results


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT (not verified: the API server did that when it accepted it)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def watch_events(output: str) -> list[dict[str, Any]]:
    """`kubectl get -w --output-watch-events -o json` output: concatenated JSON documents."""
    decoder = json.JSONDecoder()
    events, pos = [], 0
    while True:
        while pos < len(output) and output[pos].isspace():
            pos += 1
        if pos >= len(output):
            return events
        try:
            event, pos = decoder.raw_decode(output, pos)
        except json.JSONDecodeError:
            return events  # a document cut off when the watch was stopped
        events.append(event)


def burst_manifest(count: int) -> str:
    docs = [{"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable", "metadata": {"name": f"burst-{i:03d}"},
             "spec": {"tableName": f"BURST_{i:03d}", "columns": [{"ID": "integer"}, {"NOTE": "text"}],
                      "primaryKey": "ID"}} for i in range(count)]
    return yaml.safe_dump_all(docs)
