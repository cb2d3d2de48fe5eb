"""Waiting until the API server serves the DatabaseTable CRD.

Not ``kubectl wait --for=condition=Established``: it fails at once (".status.conditions
accessor error: <nil> is of the type <nil>") when it reads a CRD the API server has stored
but not yet given its first status, a known kubectl behaviour, seen once here in `make run` on
a loaded machine. Nor a jsonpath filter (``{.status.conditions[?(@.type=="Established")]}``):
the API server's first status has ``conditions: null``, on which kubectl's filter exits 1
("<nil> is not array or slice and cannot be filtered") instead of printing nothing, seen in a
benchmark's setup. Every place that applies crd.yaml and waits for it (make run, the test
fixtures, the benchmarks) reads the whole CRD (``-o json``) and finds Established here, where
a missing status, null conditions and a False condition all mean "not yet".

Established comes a moment before the resource is served: until the API server has filled its
watch cache for the new resource it answers 429 ("storage is (re)initializing", retry after
1 s), and an operator started then logged an ERROR and watched a second late (the first row of
every benchmark run). So the wait ends with one LIST of the resource, which kubectl retries
on a 429 as the API server asks.
"""
from __future__ import annotations

import json
import time
from typing import Any

from hack.kubectl import Kubectl

CRD = "crd/databasetables.kopf.demo"
# At most one object, whatever the number of resources.
LIST = "/apis/kopf.demo/v1/databasetables?limit=1"


def established(crd: dict[str, Any]) -> bool:
    """Whether the CRD object (as ``kubectl get -o json`` prints it) is Established."""
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def wait_established(kubectl: Kubectl, crd: str = CRD, timeout: float = 60,
                     poll: float = 0.2) -> None:
    """Poll ``crd`` with ``kubectl`` (a runner of kubectl's arguments, returning its output)
    until it is Established; TimeoutError naming it after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not established(json.loads(kubectl("get", crd, "-o", "json").stdout)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{crd} not Established after {timeout:.0f} s")
        time.sleep(poll)
    # Served: kubectl waits out the 429s itself. Any other failure (a user's context that may
    # not list every namespace) is not this wait's to report.
    kubectl("get", "--raw", LIST, check=False)
