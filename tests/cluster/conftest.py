"""The in-cluster suite: the operator's image, run as the Pod that deploy/deployment.yaml's
Deployment makes, on a real kubelet (hack/node.py) beside the local control plane.

`kubectl apply -k` of the real manifests through tests/cluster/overlay (hostNetwork, a
toleration, and this run's API server and PostgreSQL addresses). The operator authenticates with
the ServiceAccount token the kubelet mounted, and reaches PostgreSQL with the password the kubelet
read from the Secret, as in any cluster.

Runs in CI (CI=true) or fails there: it never skips itself in CI. Elsewhere it skips, with one
line saying why, where it cannot run (not root, no containerd/runc, no container engine).
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hack.crd_wait import wait_established
from tests.cluster.support import CONTAINER, DEPLOYMENT, stage_overlay
from tests.e2e.conftest import Database
from tests.support.k8s import wait_for

DATABASE, USER = "demodb", "demouser"  # what deploy/deployment.yaml's PG* variables name
LABELS = f"app.kubernetes.io/name={DEPLOYMENT}"
FIGURES: dict[str, str] = {}  # measured values, printed at the end of the session


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: runs the operator's image as the Deployment's Pod on a "
                                       "local kubelet (hack/node.py; needs root)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.cluster)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.write_sep("-", "in-cluster figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def cannot_run(reason: str) -> None:
    if in_ci():
        pytest.fail(f"the in-cluster suite must run in CI, but: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class InCluster:
    """The running cluster, node and database, with what the tests ask of them."""

    plane: Any
    node: Any
    pg_server: Any
    database: Database
    image_user: str  # USER of the image itself (what `docker run` gets without a securityContext)
    pods_seen: list[str] = field(default_factory=list)
    # how the suite staged the manifests (_deploy): the base and this run's addresses
    base: str = "overlay"
    run_env: dict[str, str] = field(default_factory=dict)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> Any:
        return self.plane.kubectl_run("-n", "default", *args, input=input, check=check)

    def operator_pods(self) -> list[dict[str, Any]]:
        """The Deployment's Pods that are not being deleted."""
        pods = json.loads(self.kubectl("get", "pods", "-l", LABELS, "-o", "json").stdout)["items"]
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def running_pod(self, timeout: float = 120, other_than: str | None = None) -> dict[str, Any]:
        """The one running operator Pod (waits until there is exactly one, not named
        ``other_than``)."""
        def one() -> dict[str, Any] | None:
            pods = self.operator_pods()
            if len(pods) == 1 and pods[0]["status"].get("phase") == "Running" and \
                    pods[0]["metadata"]["name"] != other_than and \
                    container_status(pods[0]).get("state", {}).get("running"):
                return pods[0]
            return None
        pod = wait_for(one, timeout=timeout, message="one running operator Pod")
        if pod["metadata"]["name"] not in self.pods_seen:
            self.pods_seen.append(pod["metadata"]["name"])
        return pod

    def host_pid(self, pod: dict[str, Any]) -> int:
        """The host pid of the operator container's process (PID 1 in the container)."""
        container_id = container_status(pod)["containerID"].split("://", 1)[1]
        pid = self.node.task_pid(container_id)
        assert pid, f"containerd has no running task for {container_id}"
        return pid

    def logs(self, pod_name: str) -> str:
        return self.kubectl("logs", pod_name, "-c", CONTAINER).stdout

    def read_proc(self, pid: int, name: str) -> str:
        """/proc/<pid>/<name> of a process on the node (the host's for the local node)."""
        return self.node.read_file(f"/proc/{pid}/{name}")


def container_status(pod: dict[str, Any]) -> dict[str, Any]:
    statuses = pod["status"].get("containerStatuses") or [{}]
    return next((s for s in statuses if s.get("name") == CONTAINER), {})


def _operator_database(pg_server: Any) -> tuple[Database, str]:
    """The identity the README's PostgreSQL chart creates (role demouser owning demodb)."""
    password = secrets.token_urlsafe(18)
    pg_server.create_role(USER, password)
    pg_server.create_database(DATABASE, owner=USER)
    # counted per role and database: proves which statements the operator ran
    pg_server.execute_as_superuser("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", dbname="postgres")
    return Database(url=pg_server.url(USER, password, DATABASE), user=USER, password=password,
                    dbname=DATABASE), password


@pytest.fixture(scope="session")
def node_can_run() -> None:
    """Skip (fail in CI) before anything starts where a node cannot run; session-scoped so that
    it runs before the session's PostgreSQL server."""
    from hack import image, node

    if os.environ.get("DBT_E2E_KIND") == "1":
        return
    reason = node.prerequisites_missing()
    if reason:
        cannot_run(reason)
    try:
        image.find_engine()
    except image.ImageError as e:
        cannot_run(str(e))


# module, not session: the node holds the machine's node lock, which test_node.py needs too
@pytest.fixture(scope="module")
def in_cluster(node_can_run: None, pg_server: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[InCluster]:
    """The Deployment running on the local node, or on kind with DBT_E2E_KIND=1."""
    if os.environ.get("DBT_E2E_KIND") == "1":
        yield from _on_kind(pg_server, tmp_path_factory)
    else:
        yield from _on_local_node(pg_server, tmp_path_factory)


def _on_local_node(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InCluster]:
    from hack import image, node, node_images
    from hack.controlplane import ControlPlane

    engine = image.find_engine()  # node_can_run said there is one
    pause = node_images.ensure_pause_archive(engine)
    archive, ident = node_images.ensure_operator_archive(engine)
    FIGURES["image"] = f"{image.IMAGE} {ident[:19]} ({engine.name})"
    database, password = _operator_database(pg_server)
    with ControlPlane(service_account_admission=True) as plane:
        started = time.monotonic()
        with node.Node(plane, [pause, archive]) as local_node:
            FIGURES["node start (containerd, image import, kubelet registered)"] = \
                f"{time.monotonic() - started:.1f}s"
            cluster = InCluster(plane, LocalNode(local_node), pg_server, database,
                                image_user=node_images.archive_config(archive).get("User") or "")
            yield _deploy(cluster, password, tmp_path_factory, "overlay", {
                "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(plane.port),
                "PGHOST": pg_server.host, "PGPORT": str(pg_server.port)})


def _on_kind(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InCluster]:
    """The same image loaded into kind (pytest-kind), for machines with Docker.

    The real manifests, only the database address changed (no overlay: kind has CNI). The Pods
    must reach PostgreSQL: give DBT_TEST_DATABASE_URL with an address the kind node can reach
    (e.g. the Docker bridge's gateway), or DBT_KIND_PGHOST to name the test server's address.
    """
    from pytest_kind import KindCluster

    from hack import image
    from tests.support.k8s import ExternalCluster

    try:
        engine = image.find_engine("docker")
    except image.ImageError as e:
        cannot_run(f"DBT_E2E_KIND=1 needs docker: {e}")
    ident = image.build(engine)
    FIGURES["image"] = f"{image.IMAGE} {ident[:19]} (docker, kind)"
    database, password = _operator_database(pg_server)
    kind = KindCluster("dbt-cluster")
    kind.create()
    try:
        kind.load_docker_image(image.IMAGE)
        external = ExternalCluster(kind.kubeconfig_path, kubectl=str(kind.kubectl_path))
        cluster = InCluster(external, KindNode(f"{kind.name}-control-plane", external), pg_server, database,
                            image_user=engine.run("inspect", "--type=image", "--format", "{{.Config.User}}",
                                                  image.IMAGE).stdout.decode().strip())
        yield _deploy(cluster, password, tmp_path_factory, "manifests", {
            "PGHOST": os.environ.get("DBT_KIND_PGHOST", pg_server.host), "PGPORT": str(pg_server.port)})
    finally:
        kind.delete()


def _deploy(cluster: InCluster, password: str, tmp_path_factory: pytest.TempPathFactory, base: str,
            env: dict[str, str]) -> InCluster:
    """The Secret the chart would have made, then `kubectl apply -k`; wait for the operator."""
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "postgresql"},
        "stringData": {"password": password}}))
    cluster.base, cluster.run_env = base, dict(env)
    run = stage_overlay(tmp_path_factory.mktemp("overlay"), env, base=base)
    applied = time.monotonic()
    cluster.plane.kubectl_run("apply", "-k", str(run))
    wait_established(cluster.plane.kubectl_run)
    cluster.running_pod(timeout=180)
    FIGURES["kubectl apply -k to a running operator Pod"] = f"{time.monotonic() - applied:.1f}s"
    return cluster


class LocalNode:
    """The node of hack/node.py: its processes are the host's."""

    def __init__(self, node: Any) -> None:
        self._node = node
        self.name: str = node.name

    def task_pid(self, container_id: str) -> int | None:
        return self._node.task_pid(container_id)

    def kubelet_get(self, path: str) -> str:
        return self._node.kubelet_get(path)

    def read_file(self, path: str) -> str:
        return Path(path).read_text()


class KindNode:
    """A kind node: a Docker container whose processes are read through `docker exec`."""

    def __init__(self, container: str, cluster: Any) -> None:
        self.name = container
        self._container = container
        self._cluster = cluster

    def _exec(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "exec", self._container, *args], capture_output=True,
                              text=True, timeout=60)

    def task_pid(self, container_id: str) -> int | None:
        for line in self._exec("ctr", "-n", "k8s.io", "tasks", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 3 and fields[0] == container_id and fields[2] == "RUNNING":
                return int(fields[1])
        return None

    def kubelet_get(self, path: str) -> str:
        # kind's node has a routable address: the API server's node proxy reaches its kubelet
        return self._cluster.kubectl_run("get", "--raw", f"/api/v1/nodes/{self.name}/proxy{path}").stdout

    def read_file(self, path: str) -> str:
        res = self._exec("cat", path)
        if res.returncode != 0:
            raise FileNotFoundError(path)
        return res.stdout


