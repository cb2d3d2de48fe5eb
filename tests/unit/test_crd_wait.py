"""hack/crd_wait.py: waiting for the CRD by polling its condition, since `kubectl wait` fails at
once on a CRD that has no status yet. kubectl is replaced by a runner that answers as the API
server would over time (no real API server can be held in that state on demand)."""
from __future__ import annotations

import subprocess

import pytest

from hack.crd_wait import CRD, wait_established


def answers(*statuses: str):
    """A kubectl runner whose `get` prints each status in turn (the last one from then on)."""
    calls: list[tuple[str, ...]] = []

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        status = statuses[min(len(calls), len(statuses)) - 1]
        return subprocess.CompletedProcess(["kubectl", *args], 0, stdout=status, stderr="")
    return kubectl, calls


def test_a_crd_without_status_yet_is_waited_for_not_an_error() -> None:
    kubectl, calls = answers("", "False", "True")
    wait_established(kubectl, poll=0.01)
    assert len(calls) == 3
    assert calls[0][:2] == ("get", CRD) and "Established" in calls[0][-1]


def test_a_crd_that_never_becomes_established_times_out_naming_it() -> None:
    kubectl, calls = answers("")
    with pytest.raises(TimeoutError, match="databasetables.kopf.demo not Established"):
        wait_established(kubectl, timeout=0.05, poll=0.01)
    assert len(calls) >= 2
