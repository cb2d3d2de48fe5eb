"""End-to-end fixtures: a real API server, real PostgreSQL, and the operator running.

The cluster is, in order of preference: the one named by ``DBT_E2E_KUBECONFIG``, or by
``KUBECONFIG`` (or ~/.kube/config) when ``DBT_E2E_USE_KUBECONFIG=1`` (any cluster, opt-in), a kind cluster through pytest-kind when ``DBT_E2E_KIND=1`` (needs Docker), or the
local control plane (etcd + kube-apiserver built from Go modules), which is what CI uses.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest

import database_table_operator  # noqa: F401  (fail fast on import errors: KopfRunner would hang)
from dbtable.catalog import read_table
from dbtable.model import ActualTable
from hack.crd_wait import wait_established
from tests.support.k8s import ROOT, ExternalCluster, namespaced_rbac, wait_for
from tests.support.postgres import create_operator_database

SERVICE_ACCOUNT = "database-table-operator"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    kubeconfig = os.environ.get("DBT_E2E_KUBECONFIG")
    if os.environ.get("DBT_E2E_USE_KUBECONFIG") == "1":  # the current context, opted into
        kubeconfig = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    if kubeconfig:
        yield ExternalCluster(kubeconfig)
    elif os.environ.get("DBT_E2E_KIND") == "1":
        from pytest_kind import KindCluster

        kind = KindCluster("dbt-e2e")
        kind.create()
        try:
            yield ExternalCluster(kind.kubeconfig_path, kubectl=str(kind.kubectl_path))
        finally:
            kind.delete()
    else:
        from hack.controlplane import ControlPlane

        with ControlPlane() as plane:
            yield plane


@pytest.fixture(scope="session")
def crd(cluster: Any) -> None:
    cluster.kubectl_run("apply", "-f", str(ROOT / "crd.yaml"))
    wait_established(cluster.kubectl_run)


@dataclass
class Namespace:
    """A fresh namespace with the operator's ServiceAccount and RBAC from service-account.yaml."""

    name: str
    cluster: Any

    def kubectl(self, *args: str, input: str | None = None,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl_run("-n", self.name, *args, input=input, check=check)

    def apply(self, manifest: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", "-f", "-", input=manifest, check=check)

    def get(self, name: str) -> dict[str, Any] | None:
        result = self.kubectl("get", "databasetable", name, "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def ready(self, name: str) -> dict[str, Any] | None:
        """The Ready condition, once it describes the current generation."""
        obj = self.get(name)
        if obj is None:
            return None
        status = obj.get("status", {})
        condition = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
        if condition and condition.get("observedGeneration") == obj["metadata"]["generation"]:
            return condition
        return None

    def wait_ready(self, name: str, status: str = "True", timeout: float = 60) -> dict[str, Any]:
        return wait_for(lambda: (c := self.ready(name)) and c["status"] == status and c,
                        timeout=timeout, message=f"{name} Ready={status}")

    def events(self, name: str) -> list[dict[str, Any]]:
        result = self.kubectl("get", "events", "-o", "json",
                              "--field-selector", f"involvedObject.name={name}")
        return json.loads(result.stdout)["items"]


@pytest.fixture
def namespace(cluster: Any, crd: None) -> Namespace:
    name = f"e2e-{secrets.token_hex(4)}"
    cluster.kubectl_run("create", "namespace", name)
    cluster.kubectl_run("apply", "-f", "-", input=namespaced_rbac(name))
    return Namespace(name, cluster)


@dataclass
class Database:
    url: str
    user: str
    password: str
    dbname: str

    def connect(self) -> Any:
        return psycopg2.connect(self.url)

    def table(self, name: str) -> ActualTable | None:
        conn = self.connect()
        try:
            with conn, conn.cursor() as cur:
                return read_table(cur, "public", name)
        finally:
            conn.close()

    def execute(self, statement: str, params: tuple = ()) -> list[tuple]:
        conn = self.connect()
        try:
            with conn, conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()


@pytest.fixture
def database(pg_server: Any) -> Database:
    """A fresh database owned by a fresh, unprivileged role: what the operator gets."""
    return Database(**create_operator_database(pg_server, prefix="e2e"))


@dataclass
class RunningOperator:
    stop: Callable[[], None]
    logs: Callable[[], str]
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    liveness_url: str | None = None  # Kopf's /healthz (container mode)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dockerfile_command() -> str:
    """The Dockerfile's CMD (shell form), pointed at this checkout instead of /src."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            return line[len("CMD "):].replace("/src/", f"{ROOT}/")
    raise AssertionError("Dockerfile has no CMD line")


@pytest.fixture
def start_operator(namespace: Namespace, database: Database, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., RunningOperator]]:
    """Start the operator for the test's namespace with the ServiceAccount's token.

    mode="container" runs the Dockerfile's command as a subprocess (with WATCH_NAMESPACE);
    mode="inprocess" runs it in a thread through kopf.testing.KopfRunner.
    """
    running: list[RunningOperator] = []

    def start(mode: str = "container", extra_env: dict[str, str] | None = None,
              identity: str = "serviceaccount") -> RunningOperator:
        if identity == "serviceaccount":
            token = namespace.cluster.create_token(namespace.name, SERVICE_ACCOUNT)
            kubeconfig = namespace.cluster.write_token_kubeconfig(
                tmp_path / f"sa-{len(running)}.kubeconfig", token, namespace.name)
        else:
            kubeconfig = namespace.cluster.kubeconfig
        env = {"KUBECONFIG": str(kubeconfig), "DATABASE_URL": database.url,
               "WATCH_NAMESPACE": namespace.name, "DBT_LOCK_TIMEOUT_MS": "2000",
               **(extra_env or {})}
        operator = (_start_container(env, tmp_path / f"operator-{len(running)}.log")
                    if mode == "container" else _start_inprocess(env, namespace, monkeypatch))
        running.append(operator)
        return operator

    yield start
    for operator in running:
        operator.stop()


def _start_container(env: dict[str, str], log_path: Path) -> RunningOperator:
    liveness = f"127.0.0.1:{_free_port()}"
    command = dockerfile_command().replace("0.0.0.0:8080", liveness)
    full_env = {**os.environ, **env,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log = log_path.open("wb")
    process = subprocess.Popen(["sh", "-c", command], cwd=ROOT, env=full_env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)

    def stop() -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()

    return RunningOperator(stop=stop, logs=lambda: log_path.read_text(errors="replace"),
                           process=process, env=env, liveness_url=f"http://{liveness}/healthz")


def _start_inprocess(env: dict[str, str], namespace: Namespace,
                     monkeypatch: pytest.MonkeyPatch) -> RunningOperator:
    import kopf
    from kopf.testing import KopfRunner

    import kubernetes.config.kube_config

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # The kubernetes client reads KUBECONFIG once, at import time: point it at this identity.
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION",
                        env["KUBECONFIG"])
    runner = KopfRunner(["run", "--standalone", f"--namespace={namespace.name}", "--verbose",
                         str(ROOT / "database_table_operator.py")],
                        registry=kopf.OperatorRegistry())
    runner.__enter__()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            runner.__exit__(None, None, None)
            assert runner.exception is None, runner.output
            assert runner.exit_code == 0, runner.output

    return RunningOperator(stop=stop, logs=lambda: runner.output if stopped else "", env=env)


def describe(namespace: Namespace, name: str) -> str:
    return namespace.kubectl("describe", "databasetable", name).stdout
