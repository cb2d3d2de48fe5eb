"""deploy/finalizer-policy.yaml (optional, Kubernetes 1.36+) rendered for the namespaces an
operator serves (for `make run`, the tests and the benchmark, bench/burst_rows.py), and
installed until it is in effect (`make run` on the control plane it starts, hack/run.py; the
tests).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from dbtable.finalizer import FINALIZER
from hack.kubectl import Kubectl, KubectlError

ROOT = Path(__file__).resolve().parent.parent
FINALIZER_POLICY = Path("deploy") / "finalizer-policy.yaml"
POLICY_NAME = "databasetables.kopf.demo-finalizer"  # the policy's and its binding's, in the file
EXAMPLE = ROOT / "example-cr.yaml"


class PolicyNotInEffect(RuntimeError):
    """The policy was applied, but a create in a namespace it binds does not get our finalizer."""


def finalizer_policy(namespaces: list[str] | None, checkout: Path = ROOT,
                     suffix: str = "") -> str | None:
    """The checkout's deploy/finalizer-policy.yaml bound to ``namespaces`` (None: every
    namespace, as in cluster-wide mode), its cluster-scoped names suffixed; None when the
    checkout has no such file (an older one)."""
    path = checkout / FINALIZER_POLICY
    if not path.exists():
        return None
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for doc in documents:
        doc["metadata"]["name"] += suffix
        if doc["kind"] == "MutatingAdmissionPolicyBinding":
            doc["spec"]["policyName"] += suffix
            doc["spec"].pop("matchResources", None)
            if namespaces is not None:
                doc["spec"]["matchResources"] = {"namespaceSelector": {"matchExpressions": [{
                    "key": "kubernetes.io/metadata.name", "operator": "In",
                    "values": list(namespaces)}]}}
    return yaml.safe_dump_all(documents)


def admission_policies_served(kubectl: Kubectl) -> bool:
    """Whether the API server knows MutatingAdmissionPolicy (GA in Kubernetes 1.36)."""
    found = kubectl("api-resources", "--api-group=admissionregistration.k8s.io",
                    "-o", "name").stdout
    # -o name: "<resource>.<group>", one a line
    return "mutatingadmissionpolicies.admissionregistration.k8s.io" in found.split()


def install_policy(kubectl: Kubectl, namespaces: list[str] | None, probe_namespace: str,
                   suffix: str = "", timeout: float = 60, checkout: Path = ROOT) -> str:
    """Apply ``checkout``'s policy bound to ``namespaces`` and return (the manifest applied)
    once it is in effect: a server-side dry-run create of the example in ``probe_namespace``
    (one the policy binds) comes back with our finalizer. The API server takes a new policy in
    through an informer, so the first creates after the apply may still go without it."""
    manifest = finalizer_policy(namespaces, checkout, suffix=suffix)
    if manifest is None:
        raise FileNotFoundError(checkout / FINALIZER_POLICY)
    kubectl("apply", "-f", "-", input=manifest)
    deadline = time.monotonic() + timeout
    while True:
        seen = _probe(kubectl, probe_namespace)
        if seen is True:
            return manifest
        if time.monotonic() > deadline:
            raise PolicyNotInEffect(f"no finalizer on a dry-run create in {probe_namespace} "
                                    f"after {timeout:.0f} s; last seen: {seen}")
        time.sleep(0.3)


def _probe(kubectl: Kubectl, namespace: str) -> bool | str:
    """True when a dry-run create of the example (under a generated name, so that it never
    meets an existing one) is stored with our finalizer; else what came back instead. A 503 is
    waited out: the API server answers it for a CRD it has only just established."""
    document = yaml.safe_load(EXAMPLE.read_text())
    document["metadata"] = {"generateName": "finalizer-policy-probe-"}
    result = kubectl("create", "--dry-run=server", "-o", "json", "-n", namespace, "-f", "-",
                     input=yaml.safe_dump(document), check=False)
    if result.returncode != 0:
        if "(ServiceUnavailable)" in result.stderr:
            return result.stderr.strip()
        raise KubectlError(result.returncode, result.args, result.stdout, result.stderr)
    finalizers = json.loads(result.stdout)["metadata"].get("finalizers") or []
    return FINALIZER in finalizers or f"finalizers {finalizers}"
