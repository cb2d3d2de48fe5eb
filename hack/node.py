"""A real node beside the local control plane: containerd, kubelet, kube-scheduler and
kube-controller-manager, so that a Deployment's Pod really runs the operator's image.

    python -m hack.node build        # kubelet, kube-scheduler, kube-controller-manager + pause image
    python -m hack.node up           # control plane + node + the operator image, until Ctrl-C

In Python::

    with ControlPlane(service_account_admission=True) as plane, Node(plane, [archive]) as node:
        plane.kubectl_run("apply", "-k", overlay)

The Kubernetes binaries come from the same cached Go helper module as kube-apiserver
(hack/controlplane_build.py); containerd and runc are Debian's. Everything the daemons write is
under the workdir; what the kubelet changes on the host anyway (sysctls, iptables chains,
mounts, cgroup directories, files under /var/lib/kubelet) is recorded before and restored after
(hack/host_state.py). Needs root. Only one node runs on a machine at a time (a lock).

No CNI is configured: the node stays NotReady (taint node.kubernetes.io/not-ready) and only
``hostNetwork`` Pods with a toleration run, which is what the in-cluster suite's overlay asks for.

This file runs the node's processes; talking to its containerd (images, containers, shims) is
hack/node_containerd.py, the command line above hack/node_cli.py.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from hack import node_config
from hack.controlplane import ControlPlane, ControlPlaneError, _die_with_parent, _free_ports
from hack.controlplane_build import cache_root, ensure_binaries, log
from hack.host_state import HostSnapshot
from hack.node_config import NODE_NAME, NodeLayout
from hack.node_containerd import ContainerdClient

READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0
REQUIRED_TOOLS = ("containerd", "ctr", "runc", "umount")


def prerequisites_missing() -> str | None:
    """Why a node cannot run here (one line), or None."""
    if os.geteuid() != 0:
        return "needs root: the kubelet and containerd manage cgroups and mounts"
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        return f"needs {', '.join(missing)} (Debian: apt-get install containerd runc)"
    if not os.access("/sys/fs/cgroup", os.W_OK) and not any(
            os.access(p, os.W_OK) for p in Path("/sys/fs/cgroup").glob("*")):
        return "needs writable cgroups (/sys/fs/cgroup is read-only here)"
    return None


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    """Two nodes on one host would share /var/lib/kubelet/device-plugins and cgroup names."""
    path = cache_root() / "node.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for {path}: another node runs on this machine")
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


class Node(ContainerdClient):
    """containerd + kubelet + kube-scheduler + kube-controller-manager for ``plane``."""

    def __init__(self, plane: ControlPlane, archives: Sequence[Path] = (), workdir: Path | None = None,
                 ready_timeout: float = READY_TIMEOUT_SECONDS) -> None:
        self.plane = plane
        self.archives = list(archives)
        self.ready_timeout = ready_timeout
        self._own_workdir = workdir is None
        # short: a unix socket path must stay under 108 bytes
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="dbt-node-"))
        # containerd's image store is kept between runs (under the machine lock): importing the
        # operator image costs ~15 s, an unchanged image is not imported again
        self.layout = NodeLayout(self.workdir, cache_root() / "containerd-root")
        self.name = NODE_NAME
        self.kubelet_port, self.healthz_port = _free_ports(2)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock: contextlib.ExitStack | None = None
        self._snapshot: HostSnapshot | None = None
        self._keep_workdir = False
        self.undone: list[str] = []  # what stop() restored on the host (for tests and logs)

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Node:
        started = time.monotonic()
        bins = ensure_binaries(node=True)
        self._lock = contextlib.ExitStack()
        self._lock.enter_context(_machine_lock())
        self._snapshot = HostSnapshot.record()  # before anything runs that could change the host
        try:
            self._write_configs()
            self._start_containerd()
            if self._containers():  # left by a run that was killed before it could stop
                self._kill_containers()
                self._terminate("containerd")
                self._start_containerd()  # its CRI plugin forgets them only on a restart
            try:
                self._import_images()
            except ControlPlaneError as e:
                # seen once: "parent snapshot ... does not exist" after an older build was
                # removed; a cache must never fail a run, so start the store afresh
                log(f"containerd's image store is inconsistent, making it anew: {e}")
                self._terminate("containerd")
                shutil.rmtree(self.layout.containerd_root, ignore_errors=True)
                shutil.rmtree(self._marks(), ignore_errors=True)
                self._start_containerd()
                self._import_images()
            kubeconfig, ca = self.plane.kubeconfig, self.plane.ca_file
            self._spawn("kube-controller-manager",
                        node_config.controller_manager_args(bins.kube_controller_manager, kubeconfig, ca))
            self._spawn("kube-scheduler", node_config.scheduler_args(bins.kube_scheduler, kubeconfig))
            self._spawn("kubelet", node_config.kubelet_args(bins.kubelet, self.layout, kubeconfig))
            self._wait("kubelet", lambda: self.plane.kubectl_run(
                "get", "node", self.name, check=False).returncode == 0)
            self._wait("kubelet", self._set_address)
        except BaseException:
            self._keep_workdir = True
            self.stop()
            raise
        log(f"node {self.name} registered in {time.monotonic() - started:.1f}s (workdir {self.workdir})")
        return self

    def stop(self) -> None:
        """Stop every process (ours by pid, the containers through containerd), then restore the host."""
        try:
            for name in ("kubelet", "kube-scheduler", "kube-controller-manager"):
                self._terminate(name)
            if "containerd" in self._procs and self._procs["containerd"].poll() is None:
                self._kill_containers()
            self._terminate("containerd")
            self._kill_shims()
        finally:
            if self._snapshot is not None:
                self.undone = self._snapshot.restore(self.workdir)
                self._snapshot = None
                log("host restored: " + ("; ".join(self.undone) or "nothing had changed"))
            if self._lock is not None:
                self._lock.close()
                self._lock = None
            if self._own_workdir and not self._keep_workdir and not os.environ.get("DBT_KEEP_WORKDIR"):
                shutil.rmtree(self.workdir, ignore_errors=True)

    # --- helpers for tests ------------------------------------------------------------------

    def kubelet_get(self, path: str) -> str:
        """GET from the kubelet's own API (e.g. /metrics/probes) as the admin, over loopback.

        Not through the API server's node proxy: it refuses loopback node addresses.
        """
        ctx = ssl.create_default_context(cafile=str(self.layout.dir("kubelet-pki") / "kubelet.crt"))
        ctx.check_hostname = False  # its self-signed certificate names the node, not 127.0.0.1
        ctx.load_cert_chain(self.plane.pki / "admin.crt", self.plane.pki / "admin.key")
        with urllib.request.urlopen(f"https://127.0.0.1:{self.kubelet_port}{path}", context=ctx,
                                    timeout=10) as resp:
            return resp.read().decode()

    def pids(self) -> dict[str, int]:
        return {n: p.pid for n, p in self._procs.items() if p.poll() is None}

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    # --- internals --------------------------------------------------------------------------

    def _write_configs(self) -> None:
        for sub in ("manifests", "pod-logs", "volume-plugins", "cni-bin", "cni-conf", "kubelet-pki"):
            self.layout.dir(sub).mkdir(parents=True, exist_ok=True)
        runc = shutil.which("runc") or "runc"
        self.layout.containerd_config.write_text(node_config.containerd_config(self.layout, runc))
        self.layout.kubelet_config.write_text(node_config.kubelet_config(
            self.layout, self.kubelet_port, self.healthz_port, self.plane.ca_file))

    def _start_containerd(self) -> None:
        self._spawn("containerd", ["containerd", "--config", str(self.layout.containerd_config)])
        self._wait("containerd", lambda: self.ctr("version", check=False).returncode == 0)

    def _spawn(self, name: str, args: list[str]) -> None:
        logf: IO[bytes]
        with open(self.log_path(name), "ab") as logf:
            self._procs[name] = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, cwd=self.workdir,
                start_new_session=True, preexec_fn=_die_with_parent)

    def _wait(self, name: str, ready: object) -> None:
        deadline = time.monotonic() + self.ready_timeout
        proc = self._procs[name]
        while not ready():  # type: ignore[operator]
            if proc.poll() is not None:
                raise ControlPlaneError(f"{name} exited with code {proc.returncode} while starting:\n"
                                        f"{self._log_tail(name)}")
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{name} not ready after {self.ready_timeout:.0f}s:\n{self._log_tail(name)}")
            time.sleep(0.3)

    def _set_address(self) -> bool:
        """Give the node the address 127.0.0.1, which the kubelet refuses to report (loopback).

        The API server reaches the kubelet (logs, probe metrics) at the node's InternalIP; the
        kubelet leaves addresses it cannot validate alone, so the patched one stays.
        """
        patch = json.dumps({"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                                     {"type": "Hostname", "address": self.name}]}})
        self.plane.kubectl_run("patch", "node", self.name, "--subresource=status", "--type=merge",
                               "-p", patch, check=False)
        got = self.plane.kubectl_run("get", "node", self.name, "-o",
                                     "jsonpath={.status.addresses[?(@.type=='InternalIP')].address}",
                                     check=False).stdout
        return got == "127.0.0.1"

    def _log_tail(self, name: str) -> str:
        path = self.log_path(name)
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-30:]) + f"\n(full log: {path})"

    def _terminate(self, name: str) -> None:
        proc = self._procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()



if __name__ == "__main__":
    from hack.node_cli import main

    sys.exit(main())
