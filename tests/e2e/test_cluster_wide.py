"""Cluster-wide mode through a real API server, with exactly deploy/cluster-wide's RBAC.

deploy/cluster-wide is rendered with kubectl kustomize and applied; the operator runs as the
container runs it (the Dockerfile's CMD, with the rendered Deployment's WATCH_NAMESPACE="*"),
authenticated by a token of a ServiceAccount bound to the rendered ClusterRole and nothing else.

This module has a control plane of its own: an operator serving every namespace would serve
whatever the other tests left in the session's cluster. Each operator here starts on a cluster
with no DatabaseTables, and its resources are removed once it has stopped.
"""
from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dbtable.ownership import Owner
from hack.crd_wait import wait_established
from tests.e2e.conftest import (SERVICE_ACCOUNT, Database, Namespace, RunningOperator,
                                _start_container)
from tests.support.k8s import ROOT, resource, wait_for

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DBT_E2E_KUBECONFIG")) or os.environ.get("DBT_E2E_USE_KUBECONFIG") == "1"
    or os.environ.get("DBT_E2E_KIND") == "1",
    reason="cluster-wide tests start a control plane of their own: in a shared cluster the "
           "operator would serve every other namespace too")

COLUMNS = [{"ID": "integer"}, {"NAME": "text"}]
# How Kopf logs a request the API server refused (it retries it, at ERROR).
FORBIDDEN = re.compile(r"(GET|PATCH|POST) \S+ -> APIForbiddenError")
# Each rule of the ClusterRole (by its resource), and the request Kopf makes that needs it.
NEEDED_FOR = {
    "databasetables": re.compile(r"GET \S+/apis/kopf\.demo/v1/databasetables\S* -> "
                                 r"APIForbiddenError"),
    "databasetables/status": re.compile(r"PATCH \S+/databasetables/users/status -> "
                                        r"APIForbiddenError"),
    "events": re.compile(r"POST \S+/namespaces/\S+/events -> APIForbiddenError"),
    "customresourcedefinitions": re.compile(r"GET \S+/customresourcedefinitions\S* -> "
                                            r"APIForbiddenError"),
}


@dataclass
class Site:
    plane: Any
    docs: list[dict[str, Any]]  # deploy/cluster-wide, rendered


def render(plane: Any) -> list[dict[str, Any]]:
    """deploy/cluster-wide as kustomize builds it (see its kustomization.yaml for the flag)."""
    out = plane.kubectl_run("kustomize", "--load-restrictor=LoadRestrictionsNone",
                            str(ROOT / "deploy" / "cluster-wide")).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """A control plane with deploy/cluster-wide applied as it renders (the Deployment too:
    the API server validates it, and no controller runs it here)."""
    from hack.controlplane import ControlPlane

    with ControlPlane() as plane:
        docs = render(plane)
        assert sorted(d["kind"] for d in docs) == [
            "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Deployment",
            "ServiceAccount"]
        plane.kubectl_run("apply", "-f", "-", input=yaml.safe_dump_all(docs))
        wait_established(plane.kubectl_run)
        yield Site(plane, docs)


def identity(site: Site, tmp_path: Path, name: str, drop: str | None = None) -> Path:
    """A kubeconfig of a ServiceAccount bound to the rendered ClusterRole (less the rule for
    ``drop``), named ``name`` with its own ClusterRole and binding: one identity per scenario,
    so no scenario's grants reach another's operator."""
    home = of_kind(site.docs, "ServiceAccount")["metadata"]["namespace"]
    account, role, binding = (copy.deepcopy(of_kind(site.docs, k)) for k in
                              ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"))
    for doc in (account, role, binding):
        doc["metadata"]["name"] = name
    if drop is not None:
        kept = [r for r in role["rules"] if drop not in r["resources"]]
        assert len(kept) == len(role["rules"]) - 1, drop
        role["rules"] = kept
    binding["roleRef"]["name"] = name
    binding["subjects"] = [{"kind": "ServiceAccount", "name": name, "namespace": home}]
    site.plane.kubectl_run("apply", "-f", "-", input=yaml.safe_dump_all([account, role, binding]))
    token = site.plane.create_token(home, name)
    return site.plane.write_token_kubeconfig(tmp_path / f"{name}.kubeconfig", token, home)


@pytest.fixture
def operator(site: Site, database: Database, tmp_path: Path) -> Iterator[Any]:
    """Start the operator as deploy/cluster-wide's Deployment configures it, with a kubeconfig;
    stopped afterwards, and every DatabaseTable removed (finalizers too) for the next one."""
    started: list[RunningOperator] = []
    (container,) = of_kind(site.docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    # The Deployment's own settings (WATCH_NAMESPACE, KOPF_RUN_VERBOSE); the test's database
    # instead of the chart's PG* address.
    settings = {e["name"]: e["value"] for e in container["env"]
                if "value" in e and not e["name"].startswith("PG")}
    assert settings["WATCH_NAMESPACE"] == "*"

    def start(kubeconfig: Path) -> RunningOperator:
        running = _start_container({**settings, "KUBECONFIG": str(kubeconfig),
                                    "DATABASE_URL": database.url, "DBT_LOCK_TIMEOUT_MS": "2000"},
                                   tmp_path / f"operator-{len(started)}.log")
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
    remove_all_databasetables(site.plane)


def remove_all_databasetables(plane: Any) -> None:
    listed = json.loads(plane.kubectl_run("get", "databasetables", "-A", "-o", "json").stdout)
    for item in listed["items"]:
        meta = item["metadata"]
        plane.kubectl_run("patch", "databasetable", meta["name"], "-n", meta["namespace"],
                          "--type=merge", "-p", '{"metadata": {"finalizers": null}}')
        plane.kubectl_run("delete", "databasetable", meta["name"], "-n", meta["namespace"],
                          "--wait=false")
    wait_for(lambda: not json.loads(plane.kubectl_run(
        "get", "databasetables", "-A", "-o", "json").stdout)["items"], timeout=30,
        message="no DatabaseTables left")


def namespace(site: Site, name: str) -> Namespace:
    site.plane.kubectl_run("create", "namespace", name)
    return Namespace(name, site.plane)


def events_of(space: Namespace, name: str) -> list[tuple[str, str]]:
    return [(e["type"], e["reason"]) for e in space.events(name)]


def test_one_operator_serves_three_namespaces_with_only_the_cluster_wide_rbac(
        site: Site, operator: Any, database: Database, tmp_path: Path) -> None:
    running = operator(identity(site, tmp_path, "cw-full"))
    spaces = [namespace(site, f"team-{n}") for n in ("a", "b", "c")]
    # The same resource name in every namespace: three owners, three tables.
    for n, space in enumerate(spaces):
        space.apply(resource("users", {"tableName": f"USERS_{n}", "columns": COLUMNS,
                                       "primaryKey": "ID"}))
    for n, space in enumerate(spaces):
        space.wait_ready("users")
        assert ("Normal", "TableCreated") in wait_for(
            lambda s=space: events_of(s, "users"), message=f"{space.name}'s Events")
        owner = Owner.from_marker(database.table(f"users_{n}").comment)
        assert owner and (owner.namespace, owner.name) == (space.name, "users")

    # One tableName claimed from two namespaces: the first keeps it, the second is refused.
    first, second = spaces[1], spaces[2]
    first.apply(resource("shared", {"tableName": "SHARED", "columns": COLUMNS,
                                    "primaryKey": "ID"}))
    first.wait_ready("shared")
    before = database.table("shared")
    second.apply(resource("shared", {"tableName": "shared",
                                     "columns": COLUMNS + [{"EMAIL": "text"}],
                                     "primaryKey": "NAME"}))
    refused = wait_for(lambda: (c := second.ready("shared")) and c["reason"] == "Conflict" and c,
                       timeout=60, message="the second claim refused")
    assert refused["status"] == "False"
    assert f"table shared belongs to DatabaseTable {first.name}/shared" in refused["message"]
    assert ("Warning", "Conflict") in wait_for(lambda: events_of(second, "shared"),
                                               message="the Conflict Warning")
    assert database.table("shared") == before
    assert first.ready("shared")["status"] == "True"

    refusals = [line for line in running.logs().splitlines()
                if FORBIDDEN.search(line) or "Not enough permissions" in line]
    assert not refusals


def test_the_token_can_do_exactly_what_the_cluster_wide_mode_needs(
        site: Site, tmp_path: Path) -> None:
    kubeconfig = identity(site, tmp_path, "cw-review")
    namespace(site, "elsewhere")

    def can(*args: str) -> bool:
        result = site.plane.kubectl_run("auth", "can-i", *args, kubeconfig=kubeconfig,
                                        check=False)
        return result.stdout.strip() == "yes"

    for args in (("list", "databasetables.kopf.demo", "-A"),
                 ("watch", "databasetables.kopf.demo", "-A"),
                 ("patch", "databasetables.kopf.demo", "-n", "elsewhere"),
                 ("patch", "databasetables.kopf.demo", "--subresource=status", "-n", "elsewhere"),
                 ("create", "events", "-n", "elsewhere"),
                 ("list", "customresourcedefinitions.apiextensions.k8s.io"),
                 ("watch", "customresourcedefinitions.apiextensions.k8s.io")):
        assert can(*args), args
    for args in (("get", "secrets", "-n", "default"), ("list", "secrets", "-A"),
                 ("get", "secrets", "-n", "elsewhere"), ("list", "namespaces"),
                 ("get", "databasetables.kopf.demo", "-n", "elsewhere"),
                 ("create", "databasetables.kopf.demo", "-n", "elsewhere"),
                 ("update", "databasetables.kopf.demo", "-n", "elsewhere"),
                 ("delete", "databasetables.kopf.demo", "-n", "elsewhere"),
                 ("list", "events", "-n", "elsewhere"), ("create", "pods", "-n", "default"),
                 ("patch", "customresourcedefinitions.apiextensions.k8s.io")):
        assert not can(*args), args
    # And for real: reading a Secret of its own namespace is forbidden.
    attempt = site.plane.kubectl_run("get", "secrets", "-n", "default", kubeconfig=kubeconfig,
                                     check=False)
    assert attempt.returncode != 0 and "Forbidden" in attempt.stderr


def test_every_rule_is_needed(site: Site) -> None:
    """The parametrized test below covers each rule of the ClusterRole, no more, no fewer."""
    rules = of_kind(site.docs, "ClusterRole")["rules"]
    assert sorted(r for rule in rules for r in rule["resources"]) == sorted(NEEDED_FOR)


@pytest.mark.parametrize("drop", sorted(NEEDED_FOR))
def test_without_any_one_rule_the_operator_is_refused_what_it_needs(
        site: Site, operator: Any, tmp_path: Path, drop: str) -> None:
    running = operator(identity(site, tmp_path, f"cw-no-{drop.replace('/', '-')}", drop=drop))
    space = namespace(site, f"no-{drop.replace('/', '-')}")
    space.apply(resource("users", {"tableName": "USERS", "columns": COLUMNS, "primaryKey": "ID"}))
    refused = wait_for(lambda: [line for line in running.logs().splitlines()
                                if NEEDED_FOR[drop].search(line)],
                       timeout=60, message=f"the API server refusing what {drop} grants")
    assert refused
    obj = space.get("users")
    assert obj is not None
    if drop == "databasetables":  # nothing listed, so nothing served
        assert "finalizers" not in obj["metadata"] and "status" not in obj
    elif drop == "databasetables/status":  # handled, but never reported
        assert space.ready("users") is None
    elif drop == "events":  # Ready, but no Event tells the story
        space.wait_ready("users")
        assert events_of(space, "users") == []
    else:
        # The CRD was there when it started, so the resources are served; what is lost is
        # following CRDs: one installed (or reinstalled) later is never noticed.
        space.wait_ready("users")
