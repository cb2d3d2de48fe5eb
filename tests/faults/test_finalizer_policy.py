"""deploy/finalizer-policy.yaml: the API server puts our finalizer on a new DatabaseTable as it
stores it (a MutatingAdmissionPolicy, Kubernetes 1.36), so the operator writes one PATCH fewer
per create and no DELETE can slip in between the create and the finalizer.

The policy is applied as a user would, bound to the test's namespace only (its names suffixed,
so tests sharing an API server do not meet). Admission is checked with server-side dry runs:
what the API server would store, nothing stored. The last tests run what `make run` sets up
(hack/run.py): the policy on the control plane it starts, never on a user's cluster.
"""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from hack.controlplane import ControlPlane
from hack.controlplane_build import K8S_VERSION
from hack.finalizer_policy import (EXAMPLE, POLICY_NAME, PolicyNotInEffect,
                                   admission_policies_served, install_policy)
from hack.run import kubectl_runner, set_up_cluster
from tests.faults.conftest import Database, Namespace
from tests.faults.test_api_writes import Watch, is_ready, table, watch  # noqa: F401  (fixture)
from tests.support.k8s import wait_for

FINALIZER = "kopf.demo/database-table-operator"
OTHER = "example.com/hold"


def dry_run_create(namespace: Namespace, manifest: str) -> dict[str, Any]:
    """The object the API server would store for this create (admission included)."""
    return json.loads(namespace.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-",
                                        input=manifest).stdout)


def object_patches(namespace: Namespace) -> int:
    """PATCH requests to DatabaseTables themselves (not their status) the API server has
    answered so far, from its /metrics (the tests of a session run one at a time)."""
    total = 0
    for line in namespace.cluster.kubectl_run("get", "--raw", "/metrics").stdout.splitlines():
        if line.startswith("apiserver_request_total{") and 'verb="PATCH"' in line \
                and 'resource="databasetables"' in line and 'subresource=""' in line:
            total += int(float(line.rpartition(" ")[2]))
    return total


def with_finalizers(name: str, finalizers: list[str]) -> str:
    document = yaml.safe_load(table(name))
    document["metadata"]["finalizers"] = finalizers
    return yaml.safe_dump(document)


def require_admission_policies(cluster: Any) -> None:
    """Skip on a cluster older than Kubernetes 1.36; the control plane this repository builds
    (hack/controlplane_build.py) is 1.36, so there a missing kind is a failure, not a skip."""
    if admission_policies_served(cluster.kubectl_run):
        return
    if isinstance(cluster, ControlPlane):
        pytest.fail(f"the control plane built at {K8S_VERSION} serves no MutatingAdmissionPolicy")
    pytest.skip("this API server has no MutatingAdmissionPolicy (Kubernetes 1.36 or later)")


@pytest.fixture
def policy(namespace: Namespace) -> Iterator[None]:
    """The policy bound to the test's namespace, in effect (a dry run shows the finalizer)."""
    cluster = namespace.cluster
    require_admission_policies(cluster)
    manifest = install_policy(cluster.kubectl_run, [namespace.name], namespace.name,
                              suffix=f"-{namespace.name}", timeout=30)
    yield
    cluster.kubectl_run("delete", "-f", "-", "--ignore-not-found", input=manifest)


def test_the_policy_adds_our_finalizer_once_after_any_other(namespace: Namespace,
                                                             policy: None) -> None:
    assert dry_run_create(namespace, table("plain"))["metadata"]["finalizers"] == [FINALIZER]
    kept = dry_run_create(namespace, with_finalizers("other", [OTHER]))
    assert kept["metadata"]["finalizers"] == [OTHER, FINALIZER]
    listed = dry_run_create(namespace, with_finalizers("listed", [FINALIZER, OTHER]))
    assert listed["metadata"]["finalizers"] == [FINALIZER, OTHER]


def test_the_policy_leaves_namespaces_it_is_not_bound_to_alone(namespace: Namespace,
                                                                policy: None) -> None:
    other = Namespace(f"e2e-{secrets.token_hex(4)}", namespace.cluster)
    namespace.cluster.kubectl_run("create", "namespace", other.name)
    try:
        assert "finalizers" not in dry_run_create(other, table("elsewhere"))["metadata"]
    finally:
        namespace.cluster.kubectl_run("delete", "namespace", other.name, "--wait=false")


def test_with_the_policy_a_create_costs_one_write_the_status(
        namespace: Namespace, database: Database, policy: None, start_operator,
        watch) -> None:
    """The object is stored with the finalizer; the operator's only write until Ready is its
    status (without the policy: the finalizer PATCH first, test_api_writes.py). Nor does it
    send a PATCH that changes nothing: the PATCH requests are counted too."""
    start_operator("container")
    seen = watch()
    patches_before = object_patches(namespace)
    names = ("alpha", "beta")
    for name in names:
        namespace.apply(table(name))
    for name in names:
        namespace.wait_ready(name)
        writes = wait_for(lambda: (w := seen.writes(name)) and is_ready(w[-1]) and w,
                          timeout=30, message=f"the watch to see {name} Ready")
        assert len(writes) == 1, [(w["metadata"].get("finalizers"),
                                   w["metadata"].get("annotations")) for w in writes]
        added = next(e["object"] for e in seen.seen() if e["type"] == "ADDED"
                     and e["object"]["metadata"]["name"] == name)
        assert added["metadata"]["finalizers"] == [FINALIZER]
        assert database.table(name) is not None
    assert object_patches(namespace) == patches_before

    namespace.kubectl("delete", "databasetable", "alpha", "--wait=false")
    wait_for(lambda: namespace.get("alpha") is None, timeout=60, message="alpha gone")
    assert database.table("alpha") is None
    assert database.table("beta") is not None


def test_a_resource_deleted_before_the_operator_saw_it_goes_without_a_table(
        namespace: Namespace, database: Database, policy: None, start_operator) -> None:
    """Held since its create, deleted while no operator runs: it waits Terminating; the
    operator then runs the cleanup (nothing to drop), lets it go, and creates nothing."""
    namespace.apply(table("early"))
    namespace.kubectl("delete", "databasetable", "early", "--wait=false")
    terminating = namespace.get("early")
    assert terminating is not None and terminating["metadata"].get("deletionTimestamp")
    assert terminating["metadata"]["finalizers"] == [FINALIZER]

    start_operator("container")
    wait_for(lambda: namespace.get("early") is None, timeout=60, message="early gone")
    assert database.table("early") is None


@pytest.fixture
def make_run_suffix(namespace: Namespace) -> Iterator[str]:
    """The suffix of the cluster-scoped names `make run` gives the policy in a test (tests
    share an API server); whatever it installed is deleted after."""
    require_admission_policies(namespace.cluster)
    suffix = f"-run-{namespace.name}"
    yield suffix
    namespace.kubectl("delete", "databasetable", EXAMPLE_NAME, "--ignore-not-found", "--wait=false")
    for kind in ("mutatingadmissionpolicybinding", "mutatingadmissionpolicy"):
        namespace.cluster.kubectl_run("delete", kind, POLICY_NAME + suffix, "--ignore-not-found")


EXAMPLE_NAME = yaml.safe_load(EXAMPLE.read_text())["metadata"]["name"]


def stored_example(namespace: Namespace) -> dict[str, Any]:
    found = namespace.get(EXAMPLE_NAME)
    assert found is not None, "make run's set-up did not create the example"
    return found


def test_make_run_on_its_own_control_plane_puts_our_finalizer_on_the_example(
        namespace: Namespace, make_run_suffix: str) -> None:
    """What `make run` applies on the control plane it started, with WATCH_NAMESPACE naming a
    namespace that does not exist yet (a fresh control plane has only `default`): the namespace
    is made, the policy is in effect before the example is created, so the example is stored
    holding our finalizer (no operator runs here)."""
    served = Namespace(f"{namespace.name}-served", namespace.cluster)
    try:
        set_up_cluster(namespace.cluster.kubectl_run, served.name, own_control_plane=True,
                       policy_suffix=make_run_suffix)
        assert stored_example(served)["metadata"]["finalizers"] == [FINALIZER]
    finally:
        served.kubectl("patch", "databasetable", EXAMPLE_NAME, "--type=merge",
                       "-p", '{"metadata": {"finalizers": null}}', check=False)
        namespace.cluster.kubectl_run("delete", "namespace", served.name, "--wait=false",
                                      "--ignore-not-found")


def test_make_run_never_installs_the_policy_into_an_existing_kube_context(
        namespace: Namespace, make_run_suffix: str) -> None:
    """A user's cluster gets only the CRD and the example: the policy is cluster-scoped and
    optional, so `make run` only says how to install it."""
    cluster = namespace.cluster  # reached as `make run` reaches a kube context: KUBECONFIG
    kubectl = kubectl_runner(str(cluster.kubectl),
                             {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)})
    set_up_cluster(kubectl, namespace.name, own_control_plane=False,
                   policy_suffix=make_run_suffix)
    assert "finalizers" not in stored_example(namespace)["metadata"]
    found = namespace.cluster.kubectl_run("get", "mutatingadmissionpolicies", "-o", "name").stdout
    assert POLICY_NAME + make_run_suffix not in found.replace("/", " ").split()


def test_the_install_returns_only_once_a_create_gets_our_finalizer(
        namespace: Namespace, make_run_suffix: str) -> None:
    """The install waits on a dry-run create in the namespace it is told to probe: probed where
    the binding does not reach, it never sees our finalizer and says so."""
    with pytest.raises(PolicyNotInEffect, match="no finalizer on a dry-run create in default"):
        install_policy(namespace.cluster.kubectl_run, [namespace.name], "default",
                       suffix=make_run_suffix, timeout=2)
