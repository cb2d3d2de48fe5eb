"""``python -m hack.controlplane build | up | env``: the command line of the local control plane
(see hack/controlplane.py, whose docstring is this command's help), apart from the class it
drives, like hack/postgres_cli.py."""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from hack import controlplane
from hack.controlplane import ControlPlane
from hack.controlplane_build import ensure_binaries, log
from hack.signals import stop_on_signals


def _up(workdir: str | None, controller_manager: bool) -> int:
    stop = stop_on_signals()
    with ControlPlane(workdir, controller_manager=controller_manager) as cp:
        print(f"export KUBECONFIG={cp.kubeconfig}\n# kubectl: {cp.kubectl}\n# server: {cp.server}\n"
              f"# logs: {cp.workdir}\n# Ctrl-C or SIGTERM stops it", flush=True)
        while not stop.is_set():
            if not cp.running():
                log(f"a control plane process exited unexpectedly; logs in {cp.workdir}")
                return 1
            time.sleep(0.5)
        log("stopping")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.controlplane",
                                     description=(controlplane.__doc__ or "").split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the binaries (or find them cached) and print their paths")
    up = sub.add_parser("up", help="run etcd + kube-apiserver until Ctrl-C / SIGTERM")
    up.add_argument("--workdir", help="directory for certificates, data and logs (default: a temp dir)")
    for p in (build, up):
        p.add_argument("--controller-manager", action="store_true",
                       help="also kube-controller-manager (namespace deletion, GC, default ServiceAccounts)")
    sub.add_parser("env", help="print shell exports for the cached binaries")
    args = parser.parse_args(argv)
    if args.command == "build":
        started = time.monotonic()
        paths = ensure_binaries(controller_manager=args.controller_manager)
        for p in paths.all() + [paths.kube_controller_manager] * args.controller_manager:
            print(p)
        print(f"# took {time.monotonic() - started:.1f}s", file=sys.stderr)
        return 0
    if args.command == "up":
        return _up(args.workdir, args.controller_manager)
    paths = ensure_binaries()
    # KUBEBUILDER_ASSETS: the directory layout controller-runtime's envtest expects too
    print(f'export PATH="{paths.dir}:$PATH"\nexport DBT_BIN_DIR="{paths.dir}"\n'
          f'export KUBEBUILDER_ASSETS="{paths.dir}"')
    return 0
