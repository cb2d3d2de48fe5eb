"""``python -m hack.node build | up``: the command line of the local node (see hack/node.py,
whose docstring is this command's help), apart from the class it drives, like
hack/controlplane_cli.py."""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from hack import image
from hack import node as node_module  # "node" is the running Node in main()
from hack.controlplane import ControlPlane
from hack.controlplane_build import ensure_binaries, log
from hack.node import Node, prerequisites_missing
from hack.node_images import ensure_operator_archive, ensure_pause_archive
from hack.signals import stop_on_signals


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.node",
                                     description=(node_module.__doc__ or "").split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build kubelet, kube-scheduler, kube-controller-manager and the pause image")
    sub.add_parser("up", help="control plane + node + the operator image, until Ctrl-C / SIGTERM")
    args = parser.parse_args(argv)
    started = time.monotonic()
    paths = ensure_binaries(node=True)
    if args.command == "build":
        print(f"{paths.kubelet}\n{paths.kube_scheduler}\n{paths.kube_controller_manager}")
        try:  # the pause image needs an engine; without one the suite says so when it runs
            print(ensure_pause_archive(image.find_engine()))
        except image.ImageError as e:
            log(f"no pause image yet: {e}")
        print(f"# took {time.monotonic() - started:.1f}s", file=sys.stderr)
        return 0
    engine = image.find_engine()
    pause = ensure_pause_archive(engine)
    reason = prerequisites_missing()
    if reason:
        log(reason)
        return 1
    operator, _ident = ensure_operator_archive(engine)
    stop = stop_on_signals()
    with ControlPlane(service_account_admission=True) as plane, Node(plane, [pause, operator]) as node:
        print(f"export KUBECONFIG={plane.kubeconfig}\n# kubectl: {plane.kubectl}\n"
              f"# node logs: {node.workdir}\n# Ctrl-C or SIGTERM stops it", flush=True)
        while not stop.is_set() and len(node.pids()) == 4:
            time.sleep(0.5)
    return 0
