"""RBAC, pinned rule by rule, so widening it fails here first."""
from __future__ import annotations

from typing import Any

from tests.support.manifests import ROOT, by_kind, rule_set
from tests.support.manifests import rbac  # noqa: F401 (fixtures)


def test_role_grants_exactly_what_kopf_and_the_operator_use(rbac: list[dict[str, Any]]) -> None:
    role = by_kind(rbac, "Role")
    assert role["metadata"]["namespace"] == "default"
    assert rule_set(role["rules"]) == {
        ("kopf.demo", "databasetables", "list"),
        ("kopf.demo", "databasetables", "watch"),
        ("kopf.demo", "databasetables", "patch"),
        ("kopf.demo", "databasetables/status", "patch"),
        ("", "events", "create"),
    }


def test_cluster_role_is_read_only_discovery_for_kopf(rbac: list[dict[str, Any]]) -> None:
    assert rule_set(by_kind(rbac, "ClusterRole")["rules"]) == {
        ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
    }


def test_no_rule_touches_secrets_or_names_a_versioned_group(rbac: list[dict[str, Any]]) -> None:
    rules = [r for d in rbac if "rules" in d for r in d["rules"]]
    assert all(resource != "secrets" for _, resource, _ in rule_set(rules))
    assert all("/" not in group for group, _, _ in rule_set(rules))


def test_bindings_give_the_roles_to_the_service_account(rbac: list[dict[str, Any]]) -> None:
    account = by_kind(rbac, "ServiceAccount")["metadata"]
    assert account == {**account, "name": "database-table-operator", "namespace": "default"}
    for kind, role_kind in (("RoleBinding", "Role"), ("ClusterRoleBinding", "ClusterRole")):
        binding = by_kind(rbac, kind)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                                      "name": by_kind(rbac, role_kind)["metadata"]["name"]}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"],
                                        "namespace": account["namespace"]}]


def test_every_rbac_rule_says_who_needs_it() -> None:
    text = (ROOT / "service-account.yaml").read_text(encoding="utf-8")
    rule_count = text.count("- apiGroups:")
    assert rule_count == 5
    assert text.count("needs:") >= rule_count
