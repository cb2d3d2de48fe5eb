"""deploy/finalizer-policy.yaml: the API server puts our finalizer on a new DatabaseTable as it
stores it (a MutatingAdmissionPolicy, Kubernetes 1.36), so the operator writes one PATCH fewer
per create and no DELETE can slip in between the create and the finalizer.

The policy is applied as a user would, bound to the test's namespace only (its names suffixed,
so tests sharing an API server do not meet). Admission is checked with server-side dry runs:
what the API server would store, nothing stored.
"""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.faults.conftest import Database, Namespace
from tests.faults.test_api_writes import Watch, is_ready, table, watch  # noqa: F401  (fixture)
from tests.support.k8s import finalizer_policy, wait_for

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


@pytest.fixture
def policy(namespace: Namespace) -> Iterator[None]:
    """The policy bound to the test's namespace, in effect (a dry run shows the finalizer)."""
    cluster = namespace.cluster
    found = cluster.kubectl_run("api-resources", "--api-group=admissionregistration.k8s.io",
                                "-o", "name").stdout
    if "mutatingadmissionpolicies" not in found:
        pytest.skip("this API server has no MutatingAdmissionPolicy (Kubernetes 1.36 or later)")
    manifest = finalizer_policy([namespace.name], suffix=f"-{namespace.name}")
    assert manifest is not None, "deploy/finalizer-policy.yaml is missing"
    cluster.kubectl_run("apply", "-f", "-", input=manifest)
    # A new policy takes effect once the API server's informer has it: poll, do not assume.
    wait_for(lambda: FINALIZER in (dry_run_create(namespace, table("probe"))["metadata"]
                                   .get("finalizers") or []),
             timeout=30, message="the policy to put the finalizer on a dry-run create")
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
