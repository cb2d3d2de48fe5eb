"""Waiting until the API server serves the DatabaseTable CRD.

Not ``kubectl wait --for=condition=Established``: it fails at once (".status.conditions
accessor error: <nil> is of the type <nil>") when it reads a CRD the API server has stored
but not yet given its first status, a known kubectl behaviour, seen once here in `make run` on
a loaded machine. Every place that applies crd.yaml and waits for it (make run, the test
fixtures, the benchmarks) polls the condition instead.
"""
from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

CRD = "crd/databasetables.kopf.demo"
_ESTABLISHED = '{.status.conditions[?(@.type=="Established")].status}'


def wait_established(kubectl: Callable[..., subprocess.CompletedProcess[str]],
                     crd: str = CRD, timeout: float = 60, poll: float = 0.2) -> None:
    """Poll ``crd``'s Established condition with ``kubectl`` (a runner of kubectl's
    arguments, returning its output) until it is True; TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while kubectl("get", crd, "-o", f"jsonpath={_ESTABLISHED}").stdout.strip() != "True":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{crd} not Established after {timeout:.0f} s")
        time.sleep(poll)
