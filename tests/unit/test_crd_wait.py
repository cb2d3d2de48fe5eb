"""hack/crd_wait.py: waiting for the CRD by polling it, since `kubectl wait` fails at once on a
CRD that has no status yet and a jsonpath filter fails on its first status (null conditions).
kubectl is replaced by a runner that prints what `kubectl get -o json` prints for the CRD as the
API server stores it over time; tests/faults/test_crd_wait.py has the real kubectl answer (and
a real API server the LIST that ends the wait)."""
from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from hack.crd_wait import CRD, LIST, established, wait_established
from hack.kubectl import Kubectl
from tests.support.crd_states import crd_states


def answers(*states: dict[str, Any],
            ) -> tuple[Kubectl, list[tuple[str, ...]]]:
    """A kubectl runner whose `get -o json` prints each state in turn (the last from then on);
    the LIST that ends the wait answers an empty list."""
    calls: list[tuple[str, ...]] = []

    def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        if args == ("get", "--raw", LIST):
            return subprocess.CompletedProcess(["kubectl", *args], 0, stdout="{}", stderr="")
        assert args == ("get", CRD, "-o", "json"), args
        state = states[min(len(calls), len(states)) - 1]
        return subprocess.CompletedProcess(["kubectl", *args], 0, stdout=json.dumps(state),
                                           stderr="")
    return kubectl, calls


def test_only_an_established_true_condition_counts() -> None:
    assert [established(s) for s in crd_states()] == [False, False, False, True]


def test_a_crd_is_waited_for_from_no_status_to_established() -> None:
    kubectl, calls = answers(*crd_states())
    wait_established(kubectl, poll=0.01)
    # Read until Established, then listed once: the resource is served, not only Established.
    assert calls == [("get", CRD, "-o", "json")] * 4 + [("get", "--raw", LIST)]


def test_a_crd_that_never_becomes_established_times_out_naming_it() -> None:
    kubectl, calls = answers(crd_states()[1])
    with pytest.raises(TimeoutError, match="databasetables.kopf.demo not Established"):
        wait_established(kubectl, timeout=0.05, poll=0.01)
    assert len(calls) >= 2
