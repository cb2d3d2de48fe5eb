"""`make run`: the operator on a laptop, with an embedded default for everything missing.

- Kubernetes: the current kube context when KUBECONFIG is set or ~/.kube/config exists;
  otherwise a local control plane (etcd + kube-apiserver, hack/controlplane.py).
- PostgreSQL: DATABASE_URL or PGHOST when set; otherwise a local server (hack/postgres.py)
  with the seed's demo identity (demouser/demopw, database demodb).

It applies crd.yaml and example-cr.yaml, prints how to reach the cluster and the database, and
runs ``kopf run database_table_operator.py --namespace=default --verbose`` in the foreground.
``WATCH_NAMESPACE`` names another namespace; ``WATCH_NAMESPACE='*'`` serves all of them
(``--all-namespaces``, the example still goes to ``default``), as the container's command does.
Ctrl-C stops everything it started.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def _log(message: str) -> None:
    print(f"[make run] {message}", file=sys.stderr, flush=True)


def _kubectl(kubectl: str, env: dict[str, str], *args: str) -> None:
    subprocess.run([kubectl, *args], env=env, check=True, cwd=ROOT)


def main() -> int:
    env = dict(os.environ)
    with contextlib.ExitStack() as started:
        if env.get("KUBECONFIG") or Path("~/.kube/config").expanduser().exists():
            kubectl = shutil.which("kubectl") or ""
            if not kubectl:  # no kubectl installed: use the one the control plane builds
                from hack.controlplane_build import ensure_binaries

                kubectl = str(ensure_binaries().kubectl)
            _log("using the current kube context")
        else:
            from hack.controlplane import ControlPlane

            _log("no kube context: starting a local control plane (first run builds it: minutes)")
            plane = started.enter_context(ControlPlane())
            env.update(KUBECONFIG=str(plane.kubeconfig),
                       PATH=f"{plane.bin_dir}{os.pathsep}{env.get('PATH', '')}")
            kubectl = str(plane.kubectl)
        if env.get("DATABASE_URL") or env.get("PGHOST"):
            _log("using the configured PostgreSQL (DATABASE_URL / PG* variables)")
        else:
            from hack.postgres import LocalPostgres

            _log("no database configured: starting a local PostgreSQL")
            server = started.enter_context(LocalPostgres())
            env.update(server.setup_demo())

        _kubectl(kubectl, env, "apply", "-f", "crd.yaml")
        _kubectl(kubectl, env, "wait", "--for=condition=Established", "--timeout=60s",
                 "crd/databasetables.kopf.demo")
        example_namespace = "default" if NAMESPACE in ALL_NAMESPACES else NAMESPACE
        _kubectl(kubectl, env, "apply", "-n", example_namespace, "-f", "example-cr.yaml")
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
