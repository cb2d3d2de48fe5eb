"""hack/crd_wait.py and hack/kubectl.py's runners against the real kubectl: the CRD as the API
server stores it over time, from no status at all to Established True, and kubectl's own answer
for each state.

No API server is needed for those states, nor can one be held in them on demand: kubectl
evaluates ``-o json`` or ``-o jsonpath=...`` on a local object the same way (``annotate
--local`` prints the object it was given; removing an annotation it does not have leaves the
status as it is). A fake that printed what we thought kubectl prints hid a failure the
benchmark met: kubectl's jsonpath filter exits 1 on ``conditions: null`` instead of printing
nothing. The last test installs the CRD on a control plane of its own: whether the resource
is served once the wait returns is the API server's to answer.
"""
from __future__ import annotations

import http.client
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hack.controlplane_build import ensure_binaries
from hack.crd_wait import CRD, LIST, wait_established
from hack.kubectl import Kubectl, KubectlError, run_kubectl
from tests.support.crd_states import crd_states


@pytest.fixture(scope="module")
def kubectl_binary() -> str:
    return str(ensure_binaries().kubectl)


@pytest.fixture
def local_env(tmp_path: Path) -> dict[str, str]:
    """No kube context at all: ``--local`` must not need one."""
    return {**{k: v for k, v in os.environ.items() if k != "KUBECONFIG"}, "HOME": str(tmp_path)}


def served_as(states: list[dict[str, Any]], kubectl: str, env: dict[str, str],
              ) -> tuple[Kubectl, list[tuple[str, ...]]]:
    """A runner in ControlPlane.kubectl_run's shape whose ``get crd/...`` is answered by the
    real kubectl from each state in turn (the last one from then on); the LIST that ends the
    wait is recorded and answered with an empty list."""
    calls: list[tuple[str, ...]] = []

    def run(*args: str, input: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        assert ("get", "--raw", LIST) not in calls, "called again after the LIST"
        calls.append(args)
        if args == ("get", "--raw", LIST):
            return subprocess.CompletedProcess(args, 0, '{"items": []}', "")
        assert args[:2] == ("get", CRD), args  # the only other call wait_established makes
        state = states[min(len(calls), len(states)) - 1]
        return run_kubectl([kubectl, "annotate", "--local", "-f", "-", "unused-", *args[2:]],
                           input=json.dumps(state), check=check, env=env, timeout=60)
    return run, calls


def test_the_crd_is_waited_for_through_each_state_real_kubectl_prints(
        kubectl_binary: str, local_env: dict[str, str]) -> None:
    run, calls = served_as(crd_states(), kubectl_binary, local_env)
    wait_established(run, timeout=120, poll=0.01)
    # Read until the first Established True, not after it; then listed once.
    assert calls[:4] == [("get", CRD, "-o", "json")] * 4
    assert calls[4:] == [("get", "--raw", LIST)]


def test_a_crd_stuck_with_null_conditions_times_out_naming_it(
        kubectl_binary: str, local_env: dict[str, str]) -> None:
    run, calls = served_as(crd_states()[1:2], kubectl_binary, local_env)
    with pytest.raises(TimeoutError, match="databasetables.kopf.demo not Established"):
        wait_established(run, timeout=1, poll=0.01)
    assert calls  # a timeout, not a KubectlError: the state was read and waited on


def test_a_failed_kubectl_call_raises_with_kubectls_own_words(
        kubectl_binary: str, local_env: dict[str, str]) -> None:
    """Why wait_established no longer filters with jsonpath: on the first status kubectl exits 1,
    and the runners (hack/kubectl.py) raise with its stderr, or hand back the exit code."""
    run, _ = served_as(crd_states()[1:2], kubectl_binary, local_env)
    jsonpath = 'jsonpath={.status.conditions[?(@.type=="Established")].status}'
    with pytest.raises(KubectlError, match="<nil> is not array or slice and cannot be filtered"):
        run("get", CRD, "-o", jsonpath)
    assert run("get", CRD, "-o", jsonpath, check=False).returncode == 1


def test_once_waited_for_the_crd_is_listed_without_a_retry_after() -> None:
    """A new CRD is Established a moment before its storage serves it: until the watch cache
    is filled the API server answers 429 ("storage is (re)initializing", retry after 1 s), and
    an operator started then logs an ERROR and watches a second late (seen in every benchmark
    run's first row). wait_established returns only once the resource is served: the very
    next request, sent once with no retry, is answered."""
    if os.environ.get("DBT_E2E_KUBECONFIG") or os.environ.get("DBT_E2E_USE_KUBECONFIG") == "1" \
            or os.environ.get("DBT_E2E_KIND") == "1":
        pytest.skip("installs the CRD on a control plane of its own")
    from hack.controlplane import ControlPlane
    from hack.pki import admin_ssl_context

    with ControlPlane() as plane:
        plane.kubectl_run("apply", "-f", str(Path(__file__).parents[2] / "crd.yaml"))
        wait_established(plane.kubectl_run)
        connection = http.client.HTTPSConnection(
            "127.0.0.1", plane.port, context=admin_ssl_context(plane.pki, plane.ca_file),
            timeout=30)
        connection.request("GET", "/apis/kopf.demo/v1/namespaces/default/databasetables")
        answer = connection.getresponse()
        assert answer.status == 200, answer.read()[:300]
