"""The manifests meet a real API server: install, security context, and least-privilege RBAC."""
from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import SERVICE_ACCOUNT, Namespace
from tests.support.k8s import ROOT, resource, wait_for

DEPLOYMENT = yaml.safe_load((ROOT / "deploy" / "deployment.yaml").read_text())

# The API server itself enforces what the Deployment promises: a ValidatingAdmissionPolicy for
# the read-only root filesystem (Pod Security Standards do not cover it), and the "restricted"
# Pod Security Standard (non-root, no privilege escalation, all capabilities dropped, seccomp).
POLICY = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: dbt-e2e-locked-down-deployments}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments]
  validations:
    - expression: >-
        object.spec.template.spec.containers.all(c, has(c.securityContext) &&
        has(c.securityContext.readOnlyRootFilesystem) && c.securityContext.readOnlyRootFilesystem)
      message: every container must have a read-only root filesystem
    - expression: >-
        object.spec.template.spec.containers.all(c, has(c.resources.limits) &&
        has(c.resources.requests))
      message: every container must set resource requests and limits
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: dbt-e2e-locked-down-deployments}
spec:
  policyName: dbt-e2e-locked-down-deployments
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {dbt-e2e/locked-down: "true"}
"""


def _deployment_in(namespace: str, mutate: Any = None) -> str:
    deployment = copy.deepcopy(DEPLOYMENT)
    deployment["metadata"]["namespace"] = namespace
    if mutate:
        mutate(deployment)
    return yaml.safe_dump(deployment)


def _pod_from_template(namespace: str) -> str:
    template = DEPLOYMENT["spec"]["template"]
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": "operator-pod", "namespace": namespace,
                                        "labels": template["metadata"]["labels"]},
                           "spec": template["spec"]})


def test_kustomization_installs_crd_rbac_and_deployment(cluster: Any, crd: None) -> None:
    result = cluster.kubectl_run("apply", "-k", str(ROOT))
    for line in ("customresourcedefinition.apiextensions.k8s.io/databasetables.kopf.demo",
                 "serviceaccount/database-table-operator", "role.rbac.authorization.k8s.io/",
                 "rolebinding.rbac.authorization.k8s.io/", "deployment.apps/"):
        assert line in result.stdout, result.stdout
    deployment = json.loads(cluster.kubectl_run(
        "get", "deployment", "database-table-operator", "-n", "default", "-o", "json").stdout)
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert deployment["spec"]["replicas"] == 1


def test_example_resource_is_accepted(namespace: Namespace) -> None:
    result = namespace.kubectl("apply", "--dry-run=server", "-f", str(ROOT / "example-cr.yaml"),
                               check=False)
    assert result.returncode == 0, result.stderr
    assert "databasetable.kopf.demo/website-users created (server dry run)" in result.stdout


def test_api_server_enforces_the_deployments_security_context(cluster: Any, crd: None) -> None:
    name = f"locked-{secrets.token_hex(4)}"
    cluster.kubectl_run("apply", "-f", "-", input=POLICY)
    cluster.kubectl_run("create", "namespace", name)
    cluster.kubectl_run("label", "namespace", name, "dbt-e2e/locked-down=true",
                        "pod-security.kubernetes.io/enforce=restricted")

    def dry_run(manifest: str) -> Any:
        return cluster.kubectl_run("apply", "--dry-run=server", "-f", "-", input=manifest,
                                   check=False)

    # The policy takes a moment to be loaded by the API server: poll until it denies.
    def writable(deployment: dict[str, Any]) -> None:
        deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"][
            "readOnlyRootFilesystem"] = False

    denied = wait_for(lambda: (r := dry_run(_deployment_in(name, writable))).returncode != 0
                      and r, timeout=30, message="the admission policy to deny")
    assert "read-only root filesystem" in denied.stderr
    accepted = dry_run(_deployment_in(name))
    assert accepted.returncode == 0, accepted.stderr

    # The restricted Pod Security Standard admits a Pod built from the Deployment's template.
    pod = dry_run(_pod_from_template(name))
    assert pod.returncode == 0, pod.stderr
    as_root = yaml.safe_load(_pod_from_template(name))
    for container in as_root["spec"]["containers"]:
        container["securityContext"].pop("runAsNonRoot")
        container["securityContext"]["runAsUser"] = 0
    as_root["spec"]["securityContext"].pop("runAsNonRoot")
    as_root["spec"]["securityContext"]["runAsUser"] = 0
    rejected = dry_run(yaml.safe_dump(as_root))
    assert rejected.returncode != 0 and "restricted" in rejected.stderr


def test_service_account_has_exactly_the_operators_permissions(namespace: Namespace,
                                                                tmp_path: Any) -> None:
    cluster = namespace.cluster
    token = cluster.create_token(namespace.name, SERVICE_ACCOUNT)
    kubeconfig = cluster.write_token_kubeconfig(tmp_path / "sa.kubeconfig", token,
                                                namespace.name)

    def can(*args: str) -> bool:
        result = cluster.kubectl_run("auth", "can-i", *args, kubeconfig=kubeconfig, check=False)
        return result.stdout.strip() == "yes"

    granted = [("list", "databasetables.kopf.demo"), ("watch", "databasetables.kopf.demo"),
               ("patch", "databasetables.kopf.demo"), ("patch", "databasetables.kopf.demo",
                                                       "--subresource=status"),
               ("create", "events")]
    for args in granted:
        assert can(*args, "-n", namespace.name), args
    denied = [("get", "secrets"), ("list", "secrets"), ("delete", "secrets"),
              ("create", "databasetables.kopf.demo"), ("delete", "databasetables.kopf.demo"),
              ("update", "databasetables.kopf.demo"), ("create", "pods")]
    for verb, what in denied:
        assert not can(verb, what, "-n", namespace.name), (verb, what)
    other = f"other-{secrets.token_hex(4)}"
    cluster.kubectl_run("create", "namespace", other)
    assert not can("patch", "databasetables.kopf.demo", "-n", other)
    assert not can("list", "databasetables.kopf.demo", "-n", other)
    assert not can("create", "events", "-n", other)
    # And for real, not only as a review: reading Secrets is forbidden.
    attempt = cluster.kubectl_run("get", "secrets", "-n", namespace.name,
                                  kubeconfig=kubeconfig, check=False)
    assert attempt.returncode != 0 and "Forbidden" in attempt.stderr


def _largest(columns: list[dict[str, str]], **changes: Any) -> str:
    spec = {"tableName": "WIDE", "columns": columns, "primaryKey": next(iter(columns[0])),
            **changes}
    return json.dumps({"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
                       "metadata": {"name": "widest"}, "spec": spec})


def test_column_rules_fit_the_cost_budget_at_1600_columns(namespace: Namespace) -> None:
    """The duplicate, reference and transition rules (crd.yaml) on the largest resource: 1600
    columns of 63-character names, 1599 columnOptions with two previousNames each, created and
    then changed (kubectl create/replace: the client-side apply annotation would not fit)."""
    names = [f"C{i:04d}" + "x" * 58 for i in range(1600)]
    columns = [{name: "integer"} for name in names]
    options = {name: {"nullable": False, "default": "'x'",
                      "previousNames": [f"P{j}_{i}" + "y" * 50 for j in range(2)]}
               for i, name in enumerate(names[:1599])}

    def send(verb: str, manifest: str) -> Any:
        return namespace.kubectl(verb, "-f", "-", input=manifest, check=False)

    created = send("create", _largest(columns, columnOptions=options))
    assert created.returncode == 0, created.stderr
    # Removing the last column without saying how: the transition rule refuses it.
    removed = send("replace", _largest(columns[:-1], columnOptions=options))
    assert removed.returncode != 0
    assert "spec.columns" in removed.stderr and "must be named in spec.dropColumns" \
        in removed.stderr, removed.stderr
    assert "cost" not in removed.stderr, removed.stderr
    # Named in dropColumns (folded), or renamed through previousNames: admitted.
    dropped = send("replace", _largest(columns[:-1], columnOptions=options,
                                       dropColumns=[names[-1].lower()]))
    assert dropped.returncode == 0, dropped.stderr
    back = send("replace", _largest(columns, columnOptions=options))
    assert back.returncode == 0, back.stderr
    renamed = send("replace", _largest(columns[:-1] + [{"NEWNAME": "integer"}], columnOptions={
        **options, "NEWNAME": {"previousNames": [names[-1]]}}))
    assert renamed.returncode == 0, renamed.stderr
    # Duplicates after folding and undeclared references, at full size, refused by the rules.
    duplicate = send("create", _largest(columns[:-1] + [{names[5].lower(): "text"}]))
    assert duplicate.returncode != 0 and "must differ after folding" in duplicate.stderr, \
        duplicate.stderr
    undeclared = send("create", _largest(columns, columnOptions={**options, "NOPE": {}}))
    assert undeclared.returncode != 0
    assert "every columnOptions key must be one of the declared columns" in undeclared.stderr


def test_index_rules_fit_the_cost_budget_at_1600_columns(namespace: Namespace) -> None:
    """The index rules (crd.yaml) on the largest resource they can see: 1600 columns of
    63-character names and 64 named indexes of 32 columns each, in mixed case."""
    names = [f"C{i:04d}" + "x" * 58 for i in range(1600)]
    columns = [{name: "integer"} for name in names]
    indexes = [{"name": f"I{i:02d}" + "n" * 60, "unique": True,
                "columns": [names[(i * 32 + j) % 1600].lower() for j in range(32)]}
               for i in range(64)]

    def send(verb: str, manifest: str) -> Any:
        return namespace.kubectl(verb, "-f", "-", input=manifest, check=False)

    created = send("create", _largest(columns, indexes=indexes))
    assert created.returncode == 0, created.stderr
    undeclared = send("replace", _largest(columns, indexes=[
        *indexes[:-1], {**indexes[-1], "columns": [*indexes[-1]["columns"][:31], "NOPE"]}]))
    assert undeclared.returncode != 0 and "cost" not in undeclared.stderr, undeclared.stderr
    assert "every column of spec.indexes must be one of the declared columns" \
        in undeclared.stderr, undeclared.stderr
    repeated = send("replace", _largest(columns, indexes=[
        *indexes[:-1], {**indexes[-1], "name": indexes[0]["name"].lower()}]))
    assert repeated.returncode != 0 and "cost" not in repeated.stderr, repeated.stderr
    assert "index names must differ" in repeated.stderr, repeated.stderr


def test_foreign_key_rules_fit_the_cost_budget_at_1600_columns(namespace: Namespace) -> None:
    """The foreign-key rules (crd.yaml) on the largest resource: 1600 columns of 63-character
    names, 64 keys of 32 columns each (63-character names, SetNull on all but the first) and
    1600 columnOptions (the last 50 nullable: false), admitted; an undeclared column, SetNull
    on a NOT NULL column and a repeated name each refused by its rule, not by the cost limit."""
    names = [f"C{i:04d}" + "x" * 58 for i in range(1600)]
    columns = [{name: "integer"} for name in names]
    options = {name.lower(): {"nullable": i < 1550} for i, name in enumerate(names)}
    keys = [{"name": f"FK{k:02d}" + "k" * 59, "columns": names[k * 24:k * 24 + 32],
             "references": {"table": "T" * 63, "columns": [n.lower() for n in names[:32]]},
             "onDelete": "SetNull" if k else "Cascade", "onUpdate": "Restrict"}
            for k in range(64)]

    def send(verb: str, manifest: str) -> Any:
        return namespace.kubectl(verb, "-f", "-", input=manifest, check=False)

    created = send("create", _largest(columns, foreignKeys=keys, columnOptions=options))
    assert created.returncode == 0, created.stderr
    undeclared = [*keys[:-1], {**keys[-1], "columns": [*keys[-1]["columns"][:-1], "NOPE"]}]
    refused = send("replace", _largest(columns, foreignKeys=undeclared,
                                       columnOptions=options))
    assert refused.returncode != 0
    assert "every foreignKeys column must be one of the declared columns" in refused.stderr, \
        refused.stderr
    assert "cost" not in refused.stderr, refused.stderr
    not_null = [*keys[:-1], {**keys[-1], "columns": [*keys[-1]["columns"][:-1], names[-1]]}]
    refused = send("replace", _largest(columns, foreignKeys=not_null, columnOptions=options))
    assert refused.returncode != 0 and "cost" not in refused.stderr, refused.stderr
    assert "SetNull cannot apply to a column that cannot be NULL" in refused.stderr, \
        refused.stderr
    repeated = [*keys[:-1], {**keys[-1], "name": keys[0]["name"].lower()}]
    refused = send("replace", _largest(columns, foreignKeys=repeated, columnOptions=options))
    assert refused.returncode != 0 and "cost" not in refused.stderr, refused.stderr
    assert "foreign key names must differ" in refused.stderr, refused.stderr


def test_the_operator_logs_in_without_the_kubernetes_client(
        namespace: Namespace, start_operator, tmp_path: Path) -> None:
    """The image has no kubernetes client (only requirements.txt): Kopf reads the kubeconfig
    (or, in a Pod, the ServiceAccount) itself. Here the client is hidden from the operator."""
    hidden = tmp_path / "hidden" / "kubernetes"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text('raise ImportError("not installed in the image")\n')
    operator = start_operator("container", extra_env={"PYTHONPATH": str(hidden.parent)})
    namespace.apply(resource("plain", {"tableName": "PLAIN", "columns": [{"ID": "integer"}],
                                       "primaryKey": "ID"}))
    namespace.wait_ready("plain")
    assert "Traceback" not in operator.logs()
