"""Kubernetes helpers for the end-to-end tests: clusters, manifests, polling with deadlines."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from hack.kubectl import run_kubectl

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


class ExternalCluster:
    """Any cluster given by a kubeconfig (opt-in: DBT_E2E_KUBECONFIG, or kind via pytest-kind).

    Offers the subset of hack.controlplane.ControlPlane that the tests use.
    """

    def __init__(self, kubeconfig: Path | str, kubectl: str | None = None) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.kubectl = kubectl or shutil.which("kubectl") or _built_kubectl()

    def kubectl_run(self, *args: str, input: str | None = None, check: bool = True,
                    kubeconfig: Path | str | None = None) -> subprocess.CompletedProcess[str]:
        return run_kubectl([str(self.kubectl), "--kubeconfig",
                            str(kubeconfig or self.kubeconfig), *args],
                           input=input, check=check, timeout=120)

    def create_token(self, namespace: str, serviceaccount: str, duration: str = "1h") -> str:
        return self.kubectl_run("create", "token", serviceaccount, "-n", namespace,
                                f"--duration={duration}").stdout.strip()

    def write_token_kubeconfig(self, path: Path | str, token: str, namespace: str) -> Path:
        config = json.loads(self.kubectl_run("config", "view", "--raw", "--minify", "--flatten",
                                             "-o", "json").stdout)
        cluster = config["clusters"][0]
        kubeconfig = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [cluster],
            "users": [{"name": "token", "user": {"token": token}}],
            "contexts": [{"name": "token", "context": {"cluster": cluster["name"],
                                                       "user": "token",
                                                       "namespace": namespace}}],
            "current-context": "token",
        }
        Path(path).write_text(yaml.safe_dump(kubeconfig))
        return Path(path)


def _built_kubectl() -> str:
    from hack.controlplane_build import ensure_binaries

    return str(ensure_binaries().kubectl)


def wait_for(condition: Callable[[], T], timeout: float = 60, interval: float = 0.3,
             message: str = "condition") -> T:
    """Poll until ``condition()`` returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = condition()
        except Exception as e:  # a poll may fail transiently (API server restarting, ...)
            last = e
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}; "
                                 f"last seen: {last!r}")
        time.sleep(interval)


def namespaced_rbac(namespace: str, checkout: Path = ROOT) -> str:
    """The checkout's service-account.yaml moved into ``namespace`` (cluster-scoped names get a
    suffix)."""
    documents = [d for d in yaml.safe_load_all((checkout / "service-account.yaml").read_text())
                 if d]
    for doc in documents:
        meta = doc["metadata"]
        if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            meta["name"] = f"{meta['name']}-{namespace}"
        else:
            meta["namespace"] = namespace
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] = f"{doc['roleRef']['name']}-{namespace}"
        for subject in doc.get("subjects", []):
            subject["namespace"] = namespace
    return yaml.safe_dump_all(documents)


def resource(name: str, spec: dict[str, Any]) -> str:
    return yaml.safe_dump({"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
                           "metadata": {"name": name}, "spec": spec})
