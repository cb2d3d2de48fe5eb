"""`make run`: the operator on a laptop, with an embedded default for everything missing.

- Kubernetes: the current kube context when KUBECONFIG is set or ~/.kube/config exists;
  otherwise a local control plane (etcd + kube-apiserver, hack/controlplane.py).
- PostgreSQL: DATABASE_URL or PGHOST when set; otherwise a local server (hack/postgres.py)
  with the seed's demo identity (demouser/demopw, database demodb).

It applies crd.yaml, then on the control plane it started (never on a user's cluster: the policy
is cluster-scoped and optional) deploy/finalizer-policy.yaml bound to the served namespace, then
example-cr.yaml; prints how to reach the cluster and the database, and runs
``kopf run database_table_operator.py --namespace=default --verbose`` in the foreground.
``WATCH_NAMESPACE`` names another namespace; ``WATCH_NAMESPACE='*'`` serves all of them
(``--all-namespaces``, the example still goes to ``default``), as the container's command does.
Ctrl-C, SIGTERM or SIGHUP stops everything it started.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from hack.controlplane import ControlPlane
from hack.crd_wait import wait_established
from hack.finalizer_policy import (EXAMPLE, FINALIZER_POLICY, PolicyNotInEffect,
                                   admission_policies_served, install_policy)
from hack.kubectl import Kubectl, run_kubectl

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = os.environ.get("WATCH_NAMESPACE", "default")
ALL_NAMESPACES = ("", "*")


def kopf_scope(watch_namespace: str) -> list[str]:
    """`kopf run`'s namespace options for WATCH_NAMESPACE, mapped as the Dockerfile's CMD maps
    it (tests/unit/test_cluster_wide_manifests.py runs both): "*" or empty serves every
    namespace, anything else the one it names."""
    if watch_namespace in ALL_NAMESPACES:
        return ["--all-namespaces"]
    return [f"--namespace={watch_namespace}"]


def policy_namespaces(watch_namespace: str) -> list[str] | None:
    """The namespaces the finalizer policy binds for WATCH_NAMESPACE: the served one, or every
    namespace (None) when the operator serves them all; never one no operator serves, where a
    resource holding the finalizer could only be deleted by hand."""
    if watch_namespace in ALL_NAMESPACES:
        return None
    return [watch_namespace]


def example_namespace(watch_namespace: str) -> str:
    return "default" if watch_namespace in ALL_NAMESPACES else watch_namespace


def set_up_cluster(kubectl: Kubectl, watch_namespace: str, own_control_plane: bool,
                   policy_suffix: str = "") -> None:
    """The CRD; only on the control plane `make run` started, the served namespace and the
    finalizer policy in effect; then the example, which the policy (if installed) has stored
    holding our finalizer.
    ``policy_suffix`` suffixes the policy's names (tests sharing an API server)."""
    kubectl("apply", "-f", str(ROOT / "crd.yaml"))
    wait_established(kubectl)
    namespace = example_namespace(watch_namespace)
    if own_control_plane:
        # a fresh control plane has only `default`: WATCH_NAMESPACE=other needs its namespace
        kubectl("apply", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))
        _install_policy(kubectl, watch_namespace, policy_suffix)
    else:
        _log(f"the finalizer policy (optional, Kubernetes 1.36+, cluster-scoped) is not installed "
             f"on your cluster: see README, 'The finalizer at admission' "
             f"(kubectl apply -f {FINALIZER_POLICY})")
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    _log(f"applied {EXAMPLE.name} in namespace {namespace}")


def _install_policy(kubectl: Kubectl, watch_namespace: str, suffix: str) -> None:
    if not admission_policies_served(kubectl):
        _log("this API server has no MutatingAdmissionPolicy: the operator adds its finalizer")
        return
    namespaces = policy_namespaces(watch_namespace)
    try:
        install_policy(kubectl, namespaces, example_namespace(watch_namespace), suffix=suffix)
    except PolicyNotInEffect as e:  # optional: without it the operator adds the finalizer
        _log(f"{FINALIZER_POLICY} applied but not in effect ({e}): the operator adds its "
             f"finalizer")
        return
    _log(f"installed {FINALIZER_POLICY} (the finalizer at admission) for "
         f"{'every namespace' if namespaces is None else 'namespace ' + namespaces[0]}")


def _log(message: str) -> None:
    print(f"[make run] {message}", file=sys.stderr, flush=True)


def kubectl_runner(kubectl: str, env: dict[str, str]) -> Kubectl:
    """kubectl against the user's kube context, in ControlPlane.kubectl_run's shape (its error
    names kubectl's stderr, which the capture would otherwise hide)."""
    def run(*args: str, input: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_kubectl([kubectl, *args], input=input, check=check, env=env)
    return run


def _stop(signum: int, _frame: object) -> None:
    """SIGTERM and SIGHUP (`kill`, a closed terminal) stop `make run` as Ctrl-C does, so the
    `with` below stops the PostgreSQL and the control plane it started. Left to their default,
    they end the process at once, and the PostgreSQL server lives on with nobody to stop it."""
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    env = dict(os.environ)
    with contextlib.ExitStack() as started:
        own_control_plane = False
        if env.get("KUBECONFIG") or Path("~/.kube/config").expanduser().exists():
            binary = shutil.which("kubectl") or ""
            if not binary:  # no kubectl installed: use the one the control plane builds
                from hack.controlplane_build import ensure_binaries

                binary = str(ensure_binaries().kubectl)
            kubectl = kubectl_runner(binary, env)
            _log("using the current kube context")
        else:
            _log("no kube context: starting a local control plane (first run builds it: minutes)")
            plane = started.enter_context(ControlPlane())
            env.update(KUBECONFIG=str(plane.kubeconfig),
                       PATH=f"{plane.bin_dir}{os.pathsep}{env.get('PATH', '')}")
            kubectl, own_control_plane = plane.kubectl_run, True
        if env.get("DATABASE_URL") or env.get("PGHOST"):
            _log("using the configured PostgreSQL (DATABASE_URL / PG* variables)")
        else:
            from hack.postgres import LocalPostgres

            _log("no database configured: starting a local PostgreSQL")
            server = started.enter_context(LocalPostgres())
            env.update(server.setup_demo())

        set_up_cluster(kubectl, NAMESPACE, own_control_plane)
        print(f"\nTo reach the cluster:   export KUBECONFIG={env['KUBECONFIG']}"
              if "KUBECONFIG" in env else "\nThe cluster: your current kube context", flush=True)
        if "PGHOST" in env and "PGPASSWORD" in env and not os.environ.get("PGHOST"):
            print(f"To reach the database:  PGPASSWORD={env['PGPASSWORD']} "
                  f"psql -h {env['PGHOST']} -p {env['PGPORT']} -U {env['PGUSER']} "
                  f"{env['PGDATABASE']}", flush=True)
        print("Stop with Ctrl-C.\n", flush=True)

        operator = subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "database_table_operator.py",
             *kopf_scope(NAMESPACE), "--verbose"], cwd=ROOT, env=env)
        try:
            return operator.wait()
        except KeyboardInterrupt:
            _log("stopping")
            operator.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 15
            while operator.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            if operator.poll() is None:
                operator.kill()
            return 0


if __name__ == "__main__":
    sys.exit(main())
