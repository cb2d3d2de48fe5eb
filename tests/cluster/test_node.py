"""The local node itself (hack/node.py): it leaves the host as it found it, and only one runs.

A Pod (the pause image, hostNetwork) makes the kubelet do what it does to a host: sysctls,
iptables chains, cgroup directories, mounts, files under /var/lib/kubelet. After the node stops,
all of it must be gone, and no process of the node may be left.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hack.host_state import HOST_PATHS, HostSnapshot, _iptables_save, iptables_rules
from tests.support.k8s import wait_for

pytestmark = pytest.mark.timeout(600)

POD = """
apiVersion: v1
kind: Pod
metadata: {name: pause, namespace: default}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  tolerations: [{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoSchedule}]
  containers: [{name: pause, image: "localhost/dbt-pause:1", imagePullPolicy: Never}]
"""


@pytest.fixture(scope="module")
def pause_archive(node_can_run: None) -> Path:
    from hack import image, node_images

    return node_images.ensure_pause_archive(image.find_engine())


def host_state() -> dict[str, Any]:
    snap = HostSnapshot.record()
    return {"sysctls": dict(snap.sysctls), "mounts": sorted(snap.mounts), "paths": dict(snap.paths),
            "cgroups": snap.cgroups,
            "iptables": {tool: iptables_rules(_iptables_save(tool) or "") for tool in ("iptables", "ip6tables")}}


def node_processes(socket: str) -> list[int]:
    """Processes that belong to a node: started with its containerd config, or its socket."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and socket.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_node_leaves_the_host_as_it_found_it(pause_archive: Path) -> None:
    from hack.controlplane import ControlPlane
    from hack.node import Node

    before = host_state()
    with ControlPlane(service_account_admission=True) as plane:
        with Node(plane, [pause_archive]) as node:
            wait_for(lambda: plane.kubectl_run("get", "serviceaccount", "default", check=False).returncode == 0,
                     timeout=60, message="the default ServiceAccount")
            plane.kubectl_run("apply", "-f", "-", input=POD)
            wait_for(lambda: plane.kubectl_run("get", "pod", "pause", "-o", "jsonpath={.status.phase}").stdout
                     == "Running", timeout=120, message="the pause Pod running")
            during = host_state()
            socket = str(node.layout.containerd_socket)
            pids = list(node.pids().values())
        after = host_state()
    # the check can fail: the node did change the host while it ran
    assert during["cgroups"] - before["cgroups"], "the kubelet made no cgroup directories?"
    assert len(during["mounts"]) > len(before["mounts"])
    assert after["sysctls"] == before["sysctls"]
    assert after["iptables"] == before["iptables"]
    assert after["paths"] == before["paths"], [p for p in HOST_PATHS if after["paths"][p] != before["paths"][p]]
    assert after["cgroups"] - before["cgroups"] == frozenset()
    assert after["mounts"] == before["mounts"]
    assert node_processes(socket) == []
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []


def test_only_one_node_runs_on_a_machine(pause_archive: Path) -> None:
    """A second node waits for the first one's lock before it touches the host."""
    from hack.controlplane import ControlPlane
    from hack.node import Node, _machine_lock

    with ControlPlane(service_account_admission=True) as plane:
        node = Node(plane, [pause_archive])
        ran: list[Any] = []

        def run() -> None:
            # start and stop in one thread: the node's processes die with the thread that
            # started them (PR_SET_PDEATHSIG)
            try:
                node.start()
                ran.append(set(node.pids()))
            except BaseException as e:  # reported by the test's thread
                ran.append(e)
            finally:
                node.stop()

        with _machine_lock():  # what a node running elsewhere on this machine holds
            runner = threading.Thread(target=run, daemon=True)
            runner.start()
            time.sleep(5)
            assert not node.log_path("containerd").exists(), "a second node started beside the first"
            assert ran == []
        runner.join(timeout=120)
    assert ran == [{"containerd", "kubelet", "kube-scheduler", "kube-controller-manager"}]
    assert not os.path.exists(node.workdir)
