"""`make run` installs deploy/finalizer-policy.yaml on the control plane it starts, bound to the
namespace it serves (hack/run.py); tests/faults/test_finalizer_policy.py applies it to a real
API server."""
from __future__ import annotations

from typing import Any

import pytest
import yaml

from hack.finalizer_policy import POLICY_NAME, finalizer_policy
from hack.run import kopf_scope, policy_namespaces


def rendered(watch_namespace: str) -> dict[str, dict[str, Any]]:
    manifest = finalizer_policy(policy_namespaces(watch_namespace))
    assert manifest is not None
    return {doc["kind"]: doc for doc in yaml.safe_load_all(manifest)}


@pytest.mark.parametrize("watch_namespace, namespaces", [
    ("default", ["default"]),
    ("team-a", ["team-a"]),
    ("*", None),  # every namespace: the binding selects them all
    ("", None),
])
def test_the_policy_is_bound_to_what_the_operator_serves(watch_namespace: str,
                                                        namespaces: list[str] | None) -> None:
    assert policy_namespaces(watch_namespace) == namespaces
    # the same reading of WATCH_NAMESPACE as the operator's own scope
    assert kopf_scope(watch_namespace) == (
        ["--all-namespaces"] if namespaces is None else [f"--namespace={watch_namespace}"])


def test_a_served_namespace_is_the_only_one_the_binding_selects() -> None:
    binding = rendered("team-a")["MutatingAdmissionPolicyBinding"]
    assert binding["spec"]["matchResources"] == {"namespaceSelector": {"matchExpressions": [{
        "key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team-a"]}]}}


def test_all_namespaces_leave_the_binding_without_a_selector() -> None:
    binding = rendered("*")["MutatingAdmissionPolicyBinding"]
    assert "matchResources" not in binding["spec"]


def test_make_run_installs_the_policy_under_its_own_names() -> None:
    """The names in deploy/finalizer-policy.yaml (README's tear down deletes it as is), which
    are also the names the tests clean up by (POLICY_NAME)."""
    documents = rendered("default")
    assert documents["MutatingAdmissionPolicy"]["metadata"]["name"] == POLICY_NAME
    binding = documents["MutatingAdmissionPolicyBinding"]
    assert (binding["metadata"]["name"], binding["spec"]["policyName"]) == (POLICY_NAME,
                                                                           POLICY_NAME)
