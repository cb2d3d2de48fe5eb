"""The Deployment, kustomization, Dockerfile, licence and field reference, checked as files."""
from __future__ import annotations

from typing import Any

from tests.support.admission import walk
from tests.support.manifests import ROOT, by_kind, dockerfile_instructions, load_one
from tests.support.manifests import (crd, deployment, rbac, spec_schema,  # noqa: F401 (fixtures)
                                     version)


def test_deployment_runs_one_standalone_replica(deployment: dict[str, Any],
                                                rbac: list[dict[str, Any]]) -> None:
    assert deployment["metadata"]["name"] == "database-table-operator"
    assert deployment["metadata"]["namespace"] == "default"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "database-table-operator"
    service_account = by_kind(rbac, "ServiceAccount")["metadata"]["name"]
    assert pod["spec"]["serviceAccountName"] == service_account


def test_deployment_is_locked_down(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for context in (pod["securityContext"], container["securityContext"]):
        assert context["runAsNonRoot"] is True
        assert (context["runAsUser"], context["runAsGroup"]) == (1000, 1000)
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == "/tmp"
    assert {"name": mount["name"], "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]


def test_deployment_probes_kopf_and_bounds_resources(deployment: dict[str, Any]) -> None:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "database-table-operator:latest"
    assert container["imagePullPolicy"] == "IfNotPresent"
    probe = container["livenessProbe"]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert (probe["path"], ports[probe["port"]]) == ("/healthz", 8080)
    assert container["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"},
                                      "limits": {"memory": "256Mi"}}


def test_deployment_takes_the_password_from_the_secret(deployment: dict[str, Any]) -> None:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["WATCH_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert {name: env[name]["value"] for name in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")} == {
        "PGHOST": "postgresql", "PGPORT": "5432", "PGDATABASE": "demodb", "PGUSER": "demouser"}
    assert env["PGPASSWORD"] == {"name": "PGPASSWORD", "valueFrom": {
        "secretKeyRef": {"name": "postgresql", "key": "password"}}}


# --- Kustomization, image, licence, docs ------------------------------------------------------

def test_kustomization_installs_the_operator_but_not_the_example() -> None:
    resources = load_one("kustomization.yaml")["resources"]
    assert resources == ["crd.yaml", "service-account.yaml", "deploy/deployment.yaml"]
    assert all((ROOT / r).is_file() for r in resources)


def test_dockerfile_builds_in_two_stages_and_runs_as_user_1000() -> None:
    instructions = dockerfile_instructions()
    froms = [arg for op, arg in instructions if op == "FROM"]
    assert froms == ["python:3.11-slim AS builder", "python:3.11-slim"]
    assert [arg for op, arg in instructions if op == "USER"] == ["1000:1000"]
    assert ("WORKDIR", "/src") in instructions
    assert ("EXPOSE", "8080") in instructions
    assert ("COPY", "dbtable/ /src/dbtable/") in instructions
    env = " ".join(arg for op, arg in instructions if op == "ENV")
    for setting in ("WATCH_NAMESPACE=default", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"):
        assert setting in env.split()


def test_dockerfile_command_runs_kopf_standalone_with_liveness() -> None:
    (command,) = [arg for op, arg in dockerfile_instructions() if op == "CMD"]
    # The namespace options it picks: tests/unit/test_cluster_wide_manifests.py runs it.
    assert command.startswith('case "$WATCH_NAMESPACE" in ')
    assert command.endswith('; exec kopf run --standalone "$@" '
                            "--liveness=http://0.0.0.0:8080/healthz "
                            "/src/database_table_operator.py")


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv/", "tests/", ".git/", "**/__pycache__/"} <= set(ignored)


def test_licence_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert text.count("\n") > 190


def test_field_reference_covers_every_spec_field(spec_schema: dict[str, Any]) -> None:
    reference = (ROOT / "docs" / "crd-reference.md").read_text(encoding="utf-8")
    for path, _ in walk(spec_schema, "spec"):
        if path != "spec":
            assert f"`{path}`" in reference, path


def test_the_finalizer_policy_adds_the_operators_own_finalizer_on_create_only(
        deployment: dict[str, Any]) -> None:
    """deploy/finalizer-policy.yaml must name the finalizer the operator removes (any other
    name would hold every resource forever), bind to the namespace the Deployment serves, and
    touch creates of DatabaseTables only."""
    import yaml

    from dbtable.finalizer import FINALIZER

    documents = [d for d in yaml.safe_load_all(
        (ROOT / "deploy" / "finalizer-policy.yaml").read_text()) if d]
    policy = by_kind(documents, "MutatingAdmissionPolicy")
    binding = by_kind(documents, "MutatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule == {"apiGroups": ["kopf.demo"], "apiVersions": ["v1"],
                    "operations": ["CREATE"], "resources": ["databasetables"]}
    (mutation,) = policy["spec"]["mutations"]
    (condition,) = policy["spec"]["matchConditions"]
    for expression in (mutation["jsonPatch"]["expression"], condition["expression"]):
        assert f"'{FINALIZER}'" in expression or f'"{FINALIZER}"' in expression
        assert expression.count("kopf.demo/") == expression.count(FINALIZER)
    assert policy["spec"]["failurePolicy"] == "Ignore"  # the operator adds it otherwise
    served = binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]
    assert served == {"kubernetes.io/metadata.name": deployment["metadata"]["namespace"]}
