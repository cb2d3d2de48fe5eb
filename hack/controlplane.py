"""A throwaway local Kubernetes control plane (etcd + kube-apiserver) for tests and development.

The operator's behaviour that matters (watches, resourceVersion conflicts, status subresources,
finalizers, RBAC denials) is the API server's, so the e2e tests talk to a real one. There is no
Docker engine and no way to download release binaries here, so ``hack/controlplane_build.py``
builds etcd, kube-apiserver and kubectl from Go modules once and caches them outside the repo.

    python -m hack.controlplane build            # build (or find) the cached binaries
    python -m hack.controlplane up [--workdir D] # run until Ctrl-C / SIGTERM
    python -m hack.controlplane env              # shell exports (PATH with kubectl, ...)

In Python::

    with ControlPlane() as cp:
        cp.kubectl_run("apply", "-f", "crd.yaml")
        token = cp.create_token("ns1", "operator")

What is missing by default, because there is no kube-controller-manager (nor scheduler, nor
kubelet): namespaces never finish deleting (they stay Terminating: use a fresh namespace per
test and do not wait for deletion), ownerReferences are never garbage-collected, no ``default``
ServiceAccount and no ``kube-root-ca.crt`` ConfigMap appear in new namespaces (create the
ServiceAccount you need), the aggregated ``admin``/``edit``/``view`` ClusterRoles stay empty
(bind to your own Roles), and no workload controller runs (Deployments make no Pods).
TokenRequest (``create_token``) works: the API server alone signs tokens.

``ControlPlane(controller_manager=True)`` (``up --controller-manager``) also runs
kube-controller-manager with only the namespace, garbage-collector, serviceaccount,
clusterrole-aggregation and root-ca-certificate-publisher controllers, which fixes all of the
above but workloads. It is built on first use: about 2 more minutes of a cold build.

Apart, so that this file holds the processes only: the certificates and kubeconfigs are made by
``hack/pki.py``, the command line above is ``hack/controlplane_cli.py``.

Child processes get SIGKILL if the process (strictly: the thread) that started them dies, so a
killed test run leaves nothing behind; start the control plane from a long-lived thread.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from hack.controlplane_build import BinPaths, bin_paths, ensure_binaries, log
from hack.kubectl import run_kubectl
from hack.pki import ControlPlaneError, admin_ssl_context, b64, make_pki, write_kubeconfig

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
SERVICE_CIDR = "10.0.0.0/24"  # never routed: only names the in-cluster "kubernetes" Service IP
_LOG_TAIL_LINES = 30


def _free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (held open together so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent() -> None:
    """preexec_fn: PR_SET_PDEATHSIG(SIGKILL), so a SIGKILLed test run leaves no server behind.

    SIGKILL, not SIGTERM: a SIGTERMed kube-apiserver whose etcd is already gone keeps retrying
    etcd in its graceful shutdown (still up after 20 s here). Nothing in the data is worth keeping.
    """
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


class ControlPlane:
    """etcd + kube-apiserver on free loopback ports, with certificates made on the fly."""

    def __init__(self, workdir: Path | str | None = None, ready_timeout: float = READY_TIMEOUT_SECONDS,
                 controller_manager: bool = False, service_account_admission: bool = False) -> None:
        self._own_workdir = workdir is None  # a temp dir we made is removed by stop()
        self._keep_workdir = False
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="dbt-controlplane-"))
        self.ready_timeout = ready_timeout  # for each of etcd, kube-apiserver (and KCM)
        self.controller_manager = controller_manager
        # for real Pods (hack/node.py): the admission plugin mounts each Pod's token, and the
        # API server reaches kubelets (logs, probes' metrics) with the admin client certificate
        self.service_account_admission = service_account_admission
        self.bins: BinPaths = bin_paths()
        self.bin_dir: Path = self.bins.dir
        self.kubectl: Path = self.bins.kubectl
        self.kubeconfig = self.workdir / "kubeconfig"
        self.pki = self.workdir / "pki"
        self.ca_file = self.pki / "ca.crt"
        self.etcd_port, self.etcd_peer_port, self.port = _free_ports(3)
        self.server = f"https://127.0.0.1:{self.port}"
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None
        self._kcm: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        """Start etcd and kube-apiserver and wait until the API is ready; stop all on failure."""
        started = time.monotonic()
        self._keep_workdir = False
        self.bins = ensure_binaries(controller_manager=self.controller_manager)
        atexit.register(self.stop)
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            make_pki(self.pki)
            write_kubeconfig(self.kubeconfig, self.server, self.ca_file,
                             {"client-certificate-data": b64(self.pki / "admin.crt"),
                              "client-key-data": b64(self.pki / "admin.key")})
            self._start_etcd()
            self._start_apiserver()
            if self.controller_manager:
                self._start_controller_manager()
        except BaseException:
            self._keep_workdir = True  # the error names its logs: keep them
            self.stop()
            raise
        log(f"control plane ready at {self.server} in {time.monotonic() - started:.1f}s "
            f"(workdir {self.workdir})")
        return self

    def stop(self) -> None:
        """Stop kube-controller-manager, kube-apiserver, then etcd; safe to call twice or after a
        failed start."""
        self._terminate(self._kcm)
        self._kcm = None
        self._terminate(self._apiserver)
        self._apiserver = None
        self._terminate(self._etcd)
        self._etcd = None
        atexit.unregister(self.stop)
        if self._own_workdir and not self._keep_workdir and not os.environ.get("DBT_KEEP_WORKDIR"):
            shutil.rmtree(self.workdir, ignore_errors=True)  # etcd preallocates 64 MB WAL files

    def restart_apiserver(self) -> None:
        """Stop and start kube-apiserver only (same port and certificates), wait until ready."""
        self._terminate(self._apiserver)
        self._apiserver = None
        self._start_apiserver()

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    # --- processes --------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with open(self.workdir / f"{name}.log", "ab") as logf:
            # a new session: Ctrl-C in a terminal reaches only us, and we stop them in order
            return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                    cwd=self.workdir, start_new_session=True, preexec_fn=_die_with_parent)

    def _start_etcd(self) -> None:
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        client = f"http://127.0.0.1:{self.etcd_port}"
        self._etcd = self._spawn("etcd", [
            str(self.bins.etcd), "--name", "default", "--data-dir", str(self.workdir / "etcd"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"default={peer}",
            "--unsafe-no-fsync",  # nothing here is worth an fsync; much faster on slow disks
        ])
        self._wait("etcd", self._etcd, lambda: self._get(f"{client}/health", None) == 200)

    def _start_controller_manager(self) -> None:
        ctx = admin_ssl_context(self.pki, self.ca_file)
        self._kcm = self._spawn("kube-controller-manager", [
            str(self.bins.kube_controller_manager), "--kubeconfig", str(self.kubeconfig),
            "--controllers", "namespace-controller,garbage-collector-controller,serviceaccount-controller,"
                             "clusterrole-aggregation-controller,root-ca-certificate-publisher-controller",
            "--root-ca-file", str(self.ca_file), "--leader-elect=false", "--secure-port", "0",
        ])
        # the serviceaccount controller's first work proves the controllers run
        self._wait("kube-controller-manager", self._kcm, lambda: self._get(
            f"{self.server}/api/v1/namespaces/default/serviceaccounts/default", ctx) == 200)

    def _start_apiserver(self) -> None:
        pki = self.pki
        self._apiserver = self._spawn("kube-apiserver", [
            str(self.bins.kube_apiserver),
            "--etcd-servers", f"http://127.0.0.1:{self.etcd_port}",
            "--bind-address", "127.0.0.1", "--secure-port", str(self.port),
            # without it the server looks for a default route and exits on loopback-only hosts
            "--advertise-address", "127.0.0.1",
            "--tls-cert-file", str(pki / "serving.crt"), "--tls-private-key-file", str(pki / "serving.key"),
            "--client-ca-file", str(self.ca_file),
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--authorization-mode", "RBAC",
            "--allow-privileged",
            "--service-account-issuer", f"{self.server}/",
            "--service-account-key-file", str(pki / "sa.pub"),
            "--service-account-signing-key-file", str(pki / "sa.key"),
            *self._admission_flags(),
        ])
        ctx = admin_ssl_context(self.pki, self.ca_file)
        self._wait("kube-apiserver", self._apiserver,
                   lambda: self._get(f"{self.server}/readyz", ctx) == 200
                   and self._get(f"{self.server}/api/v1/namespaces/default", ctx) == 200)

    def _admission_flags(self) -> list[str]:
        if not self.service_account_admission:
            # the ServiceAccount admission plugin wants the default SA that only KCM creates
            return ["--disable-admission-plugins", "ServiceAccount"]
        return ["--kubelet-client-certificate", str(self.pki / "admin.crt"),
                "--kubelet-client-key", str(self.pki / "admin.key"),
                "--kubelet-preferred-address-types", "InternalIP"]

    def _wait(self, name: str, proc: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
        """Poll ready() until the deadline; raise with the log's tail if the process exits."""
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if proc.poll() is not None:
                raise ControlPlaneError(f"{name} exited with code {proc.returncode} while starting:\n"
                                        f"{self._log_tail(name)}")
            if ready():
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{name} not ready after {self.ready_timeout:.1f}s:\n"
                                        f"{self._log_tail(name)}")
            time.sleep(0.2)

    @staticmethod
    def _get(url: str, ctx: ssl.SSLContext | None) -> int | None:
        try:
            with urllib.request.urlopen(url, timeout=5, context=ctx) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code
        except (OSError, ssl.SSLError):
            return None

    def _log_tail(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-_LOG_TAIL_LINES:]) + f"\n(full log: {path})"

    # --- helpers for tests ------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """os.environ plus KUBECONFIG for the admin, and kubectl first on PATH."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig),
                "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}

    def kubectl_run(self, *args: str, input: str | None = None, check: bool = True,
                    kubeconfig: Path | str | None = None) -> subprocess.CompletedProcess[str]:
        """Run kubectl (as admin unless another kubeconfig is given), capturing text output."""
        return run_kubectl([str(self.kubectl), "--kubeconfig", str(kubeconfig or self.kubeconfig),
                            *args], input=input, check=check, env=self.env())

    def create_token(self, namespace: str, serviceaccount: str, duration: str = "1h") -> str:
        """A bound ServiceAccount token via TokenRequest (the ServiceAccount must exist)."""
        return self.kubectl_run("create", "token", serviceaccount, "-n", namespace,
                                f"--duration={duration}").stdout.strip()

    def write_token_kubeconfig(self, path: Path | str, token: str, namespace: str) -> Path:
        """A kubeconfig that authenticates with a (ServiceAccount) bearer token."""
        return write_kubeconfig(Path(path), self.server, self.ca_file, {"token": token}, namespace)

    def pids(self) -> dict[str, int]:
        """PIDs of the running processes (for memory measurements and fault tests)."""
        procs = (("etcd", self._etcd), ("kube-apiserver", self._apiserver),
                 ("kube-controller-manager", self._kcm))
        return {name: p.pid for name, p in procs if p is not None and p.poll() is None}

    def running(self) -> bool:
        return len(self.pids()) == 2 + self.controller_manager


if __name__ == "__main__":
    from hack.controlplane_cli import main

    sys.exit(main())
