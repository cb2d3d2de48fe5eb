"""bench_burst's namespaces scenario: N DatabaseTables spread over M namespaces, created at once,
served by one operator in cluster-wide mode (deploy/cluster-wide), until every one is Ready.

The operator runs as deploy/cluster-wide's Deployment configures it (the checkout's Dockerfile
CMD with that Deployment's WATCH_NAMESPACE, "*"), with a token of a ServiceAccount bound to that
kustomization's ClusterRole and nothing else. It gets a control plane of its own: serving every
namespace, it would also serve what the other scenarios left in the shared one.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from bench.burst_api import Api, ApiError, ReadyWatch, collection, create_all
from bench.burst_procs import start_operator
from bench.burst_rows import (SERVICE_ACCOUNT, Row, Site, admission_finalizer, bodies, measured,
                              wait_all)
from hack.crd_wait import wait_established
from tests.support.postgres import create_operator_database

KUSTOMIZATION = Path("deploy") / "cluster-wide"


def render(site: Site) -> list[dict[str, Any]] | None:
    """The checkout's deploy/cluster-wide as kustomize builds it; None if it has none."""
    if not (site.checkout / KUSTOMIZATION / "kustomization.yaml").exists():
        return None
    out = site.cp.kubectl_run("kustomize", "--load-restrictor=LoadRestrictionsNone",
                              str(site.checkout / KUSTOMIZATION)).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def operator_settings(docs: list[dict[str, Any]]) -> dict[str, str]:
    """The Deployment's literal env (WATCH_NAMESPACE, KOPF_RUN_VERBOSE, ...) but the database
    address, which the benchmark gives as DATABASE_URL."""
    (container,) = of_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"]
            if "value" in e and not e["name"].startswith("PG")}


def cluster_wide_identity(site: Site, docs: list[dict[str, Any]]) -> Path:
    """Apply the CRD and the rendered ServiceAccount, ClusterRole and binding (in their
    namespace); a kubeconfig of that ServiceAccount's token."""
    wanted = ("CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")
    site.cp.kubectl_run("apply", "-f", "-", input=yaml.safe_dump_all(
        [d for d in docs if d["kind"] in wanted]))
    wait_established(site.cp.kubectl_run)
    # A brand-new CRD answers 429 "storage is (re)initializing" for a moment: let that pass
    # before the operator starts, as it has for the other rows' CRD.
    deadline = time.monotonic() + 60
    while True:
        try:
            site.api.request("GET", collection(None))
            break
        except ApiError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    account = of_kind(docs, "ServiceAccount")["metadata"]
    assert account["name"] == SERVICE_ACCOUNT, account
    token = site.cp.create_token(account["namespace"], account["name"], duration="6h")
    return site.cp.write_token_kubeconfig(site.workdir / "cluster-wide.kubeconfig", token,
                                          account["namespace"])


def spread(count: int, namespaces: list[str]) -> list[dict[str, Any]]:
    """``count`` bodies dealt round-robin over ``namespaces`` (names unique across all)."""
    spread_bodies = []
    for n, body in enumerate(bodies(count)):
        body = copy.deepcopy(body)
        body["metadata"]["namespace"] = namespaces[n % len(namespaces)]
        spread_bodies.append(body)
    return spread_bodies


@contextmanager
def own_control_plane(site: Site) -> Iterator[Site]:
    """The site with a fresh control plane of its own (PostgreSQL and the checkout shared)."""
    from hack.controlplane import ControlPlane

    with ControlPlane() as cp:
        yield dataclasses.replace(site, cp=cp, api=Api.admin_of(cp))


def cluster_wide_row(site: Site, count: int, spaces: int, threads: int, workers: int,
                     timeout: float, extra_env: dict[str, str] | None = None) -> Row | None:
    """This operator in cluster-wide mode, ``count`` resources over ``spaces`` namespaces;
    None if the checkout has no deploy/cluster-wide."""
    docs = render(site)
    if docs is None:
        return None
    row = Row(f"cluster-wide, {spaces} namespaces", count)
    kubeconfig = cluster_wide_identity(site, docs)
    suffix = secrets.token_hex(3)
    namespaces = [f"burst-ns{n:02}-{suffix}" for n in range(spaces)]
    for namespace in namespaces:
        site.api.request("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
    db = create_operator_database(site.pg, prefix="burst")
    env = {**operator_settings(docs), "KUBECONFIG": str(kubeconfig), "DATABASE_URL": db["url"],
           "DBT_WORKERS": str(workers), **(extra_env or {})}
    operator = start_operator(site.checkout, env, site.workdir / f"cluster-wide-{suffix}.log")
    try:
        operator.wait_live()
        pid = operator.python_pid()
        watch = ReadyWatch(site.api, None).start_and_wait()  # every namespace: one watch
        try:
            with admission_finalizer(site, row, None), measured(site, row, pid):
                row.load = os.getloadavg()
                row.started = time.monotonic()
                row.created = create_all(site.api, None, spread(count, namespaces), threads)
                wait_all(lambda: len(watch.ready_at), count, timeout)
                row.ready = dict(watch.ready_at)
            row.watch_ends = watch.ends
        finally:
            watch.stop()
        row.errors = operator.error_lines()
    finally:
        operator.stop()
    return row
