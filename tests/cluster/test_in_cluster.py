"""The operator as the Deployment's Pod on a real kubelet: behaviour, hardening, restart, memory.

The tests run in file order on one Deployment (session fixture ``in_cluster``): the walkthrough,
the process as the kernel sees it, a burst of 200 resources, the first Pod's liveness record,
deleting the Pod (SIGTERM, a new Pod resumes without DDL), the second Pod's liveness record,
and last, the switch to the cluster-wide install (deploy/cluster-wide).
Everything about the process is read from the running process (/proc), not from the manifest.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.conftest import FIGURES, InCluster, container_status
from tests.cluster.support import (CONTAINER, DDL, burst_manifest, jwt_claims, probe_results,
                                   proc_status, root_mount_options, stage_cluster_wide,
                                   watch_events)
from hack.host_state import mount_points
from tests.e2e.conftest import Namespace
from tests.support.k8s import ROOT, resource, wait_for

pytestmark = pytest.mark.timeout(900)

SEED = yaml.safe_load((ROOT / "example-cr.yaml").read_text())
COLUMNS = SEED["spec"]["columns"]
BURST = 200
GRACE_SECONDS = 30  # the Pod's terminationGracePeriodSeconds (the default: the manifest sets none)


def with_spec(**changes: object) -> str:
    return resource("website-users", {**SEED["spec"], **changes})


def test_seed_walkthrough_by_the_deployments_pod(in_cluster: InCluster) -> None:
    ns, db = Namespace("default", in_cluster.plane), in_cluster.database
    pod = in_cluster.running_pod()

    ns.kubectl("apply", "-f", str(ROOT / "example-cr.yaml"))
    ns.wait_ready("website-users", timeout=120)
    assert db.table("website_users").primary_key == ("user_id",)
    db.execute("INSERT INTO public.website_users (user_id, user_name, user_email) "
               "VALUES (1, 'ada', 'ada@example.org')")

    added = COLUMNS + [{"COUNTRY": "char(2)"}]
    ns.apply(with_spec(columns=added))
    ns.wait_ready("website-users")
    assert [c.name for c in db.table("website_users").columns][-1] == "country"

    ns.apply(with_spec(columns=added, tableName="SITE_USERS"))
    ns.wait_ready("website-users")
    assert db.table("website_users") is None and db.table("site_users") is not None

    keyed = dict(columns=added, tableName="SITE_USERS", primaryKey="USER_ID, USER_EMAIL")
    ns.apply(with_spec(**keyed))
    ns.wait_ready("website-users")
    assert db.table("site_users").primary_key == ("user_id", "user_email")

    before = db.table("site_users")
    # (Removing a column is refused by kubectl apply itself now: a type change is the
    # operator's own refusal.)
    ns.apply(with_spec(**{**keyed, "columns": [{"USER_ID": "text"}, *added[1:]]}))
    assert ns.wait_ready("website-users", status="False")["reason"] == "TypeChanged"
    assert db.table("site_users") == before
    assert db.execute("SELECT user_name FROM public.site_users") == [("ada",)]

    ns.kubectl("delete", "databasetable", "website-users", "--wait=false")
    wait_for(lambda: ns.get("website-users") is None, timeout=60, message="resource gone")
    assert db.table("site_users") is None

    logs = in_cluster.logs(pod["metadata"]["name"])
    for statement in ('SQL statement: CREATE TABLE "public"."website_users"',
                      'SQL statement: ALTER TABLE "public"."website_users" ADD COLUMN "country"',
                      'RENAME TO "site_users"', 'ADD PRIMARY KEY ("user_id", "user_email")',
                      'SQL statement: DROP TABLE "public"."site_users"'):
        assert statement in logs, f"{statement!r} not in kubectl logs:\n{logs[-3000:]}"


def test_operator_uses_the_token_the_kubelet_mounted(in_cluster: InCluster) -> None:
    pid = in_cluster.host_pid(in_cluster.running_pod())
    environ = dict(item.split("=", 1) for item in in_cluster.read_proc(pid, "environ").split("\0") if "=" in item)
    assert "KUBECONFIG" not in environ
    # the projected volume the kubelet mounted, where the process sees it (its /var/run is a
    # symlink, which /proc/<pid>/root would resolve on the host: take the mount point instead)
    (mount,) = [m for m in mount_points(in_cluster.read_proc(pid, "mountinfo"))
                if m.endswith("/secrets/kubernetes.io/serviceaccount")]
    token = in_cluster.node.read_file(f"/proc/{pid}/root{mount}/token")
    claims = jwt_claims(token)
    assert claims["sub"] == "system:serviceaccount:default:database-table-operator"
    assert claims["kubernetes.io"]["pod"]["name"] in in_cluster.pods_seen


def test_process_is_unprivileged_with_a_read_only_root(in_cluster: InCluster) -> None:
    pid = in_cluster.host_pid(in_cluster.running_pod())
    cmdline = in_cluster.read_proc(pid, "cmdline").split("\0")
    assert "kopf" in " ".join(cmdline), cmdline  # the Dockerfile's CMD, exec'd as PID 1
    status = proc_status(in_cluster.read_proc(pid, "status"))
    assert status["Uid"].split() == ["1000"] * 4
    assert status["Gid"].split() == ["1000"] * 4
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[capabilities], 16) == 0, f"{capabilities}: {status[capabilities]}"
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"  # filter mode: the RuntimeDefault profile
    assert "ro" in root_mount_options(in_cluster.read_proc(pid, "mountinfo"))
    # the manifest forces uid 1000 anyway; the image must not depend on it (plain `docker run`)
    assert in_cluster.image_user.split(":")[0] in ("1000", "dbtable"), in_cluster.image_user


def test_a_burst_of_200_stays_under_the_memory_limit(in_cluster: InCluster) -> None:
    pod = in_cluster.running_pod()
    pid = in_cluster.host_pid(pod)
    started = time.monotonic()
    in_cluster.kubectl("apply", "-f", "-", input=burst_manifest(BURST))

    def all_ready_or_restarted() -> str | None:
        if container_status(in_cluster.operator_pods()[0]).get("restartCount"):
            return "restarted"  # an OOM kill shows here first: no point waiting any longer
        items = json.loads(in_cluster.kubectl("get", "databasetables", "-o", "json").stdout)["items"]
        ready = [i for i in items if i["metadata"]["name"].startswith("burst-") and any(
            c["type"] == "Ready" and c["status"] == "True" for c in i.get("status", {}).get("conditions", []))]
        return "ready" if len(ready) == BURST else None

    outcome = wait_for(all_ready_or_restarted, timeout=600, interval=2, message=f"{BURST} resources Ready")
    status = container_status(in_cluster.operator_pods()[0])
    assert outcome == "ready" and status["restartCount"] == 0 and not status.get("lastState"), \
        f"restartCount {status['restartCount']}, lastState {status.get('lastState')}"
    FIGURES[f"burst of {BURST}: all Ready after"] = f"{time.monotonic() - started:.1f}s"
    limit, peak, oom_kills = memory_figures(in_cluster, pid)
    rss_peak = proc_status(in_cluster.read_proc(pid, "status"))["VmHWM"]
    FIGURES["operator memory peak (cgroup max_usage / process VmHWM)"] = \
        f"{peak / 2**20:.1f} MiB / {rss_peak} (limit {limit / 2**20:.0f} MiB)"
    assert oom_kills == 0
    assert peak < limit
    assert limit == manifest_memory_limit()  # the manifest's limit is the one the kernel enforces


def test_liveness_probe_passed_all_along_on_the_first_pod(in_cluster: InCluster) -> None:
    assert_liveness_green(in_cluster, in_cluster.running_pod())


def test_deleted_pod_exits_on_sigterm_and_the_new_one_resumes_without_ddl(in_cluster: InCluster) -> None:
    ns = Namespace("default", in_cluster.plane)
    ns.apply(resource("resume-check", {"tableName": "RESUME_CHECK", "columns": [{"ID": "integer"}],
                                       "primaryKey": "ID"}))
    ns.wait_ready("resume-check", timeout=120)
    count = len(json.loads(in_cluster.kubectl("get", "databasetables", "-o", "json").stdout)["items"])
    old = in_cluster.running_pod()
    old_name, old_pid = old["metadata"]["name"], in_cluster.host_pid(old)
    stats = StatementCounter(in_cluster)
    stats.reset()
    # hostNetwork only: the old and the new Pod share the host's port 8080, which they never do
    # in a real cluster; so the new Pod is held back (cordon) until the old process has exited
    in_cluster.plane.kubectl_run("cordon", in_cluster.node.name)
    watch = subprocess.Popen([str(in_cluster.plane.kubectl), "--kubeconfig", str(in_cluster.plane.kubeconfig),
                              "-n", "default", "get", "pod", old_name, "-w", "--output-watch-events",
                              "-o", "json"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)  # the watch is established before the deletion it must see
        deleted = time.monotonic()
        in_cluster.kubectl("delete", "pod", old_name, "--wait=false")
        wait_for(lambda: not pid_alive(in_cluster, old_pid), timeout=GRACE_SECONDS + 15, interval=0.1,
                 message=f"the old operator process {old_pid} to exit")
        exited_after = time.monotonic() - deleted
        wait_for(lambda: in_cluster.kubectl("get", "pod", old_name, check=False).returncode != 0,
                 timeout=60, message="the old Pod to be gone")
    finally:
        watch.terminate()
        output = watch.communicate(timeout=10)[0]
        in_cluster.plane.kubectl_run("uncordon", in_cluster.node.name)
    FIGURES["SIGTERM to exit of the old operator"] = f"{exited_after:.1f}s"
    terminated = [container_status(e["object"]).get("state", {}).get("terminated")
                  for e in watch_events(output)]
    final = next((t for t in reversed(terminated) if t), None)
    assert final is not None, "the kubelet never reported the old container as terminated"
    assert (final["exitCode"], final.get("reason")) == (0, "Completed"), final  # 137 = SIGKILL
    assert exited_after < GRACE_SECONDS

    new = in_cluster.running_pod(timeout=180)
    assert new["metadata"]["name"] != old_name
    # Kopf logs one success per resumed resource; all must be handled before DDL is judged
    wait_for(lambda: in_cluster.logs(new["metadata"]["name"]).count("Handler 'reconcile' succeeded") >= count,
             timeout=300, interval=2, message=f"{count} resources resumed by the new Pod")
    ddl = [(query, calls) for query, calls in stats.statements() if DDL.match(query)]
    assert ddl == [], f"the resumed operator changed schemas: {ddl}"
    assert "SQL statement:" not in in_cluster.logs(new["metadata"]["name"])
    FIGURES["resumed by the new Pod"] = f"{count} resources, 0 DDL statements"
    assert in_cluster.database.table("resume_check") is not None


def test_liveness_probe_passed_all_along_on_the_new_pod(in_cluster: InCluster) -> None:
    assert_liveness_green(in_cluster, in_cluster.running_pod())


def test_cluster_wide_manifests_serve_a_namespace_made_afterwards(
        in_cluster: InCluster, tmp_path: Path) -> None:
    """deploy/cluster-wide applied over the namespaced install, as the README switches it: the
    Deployment's next Pod runs kopf --all-namespaces with the ServiceAccount's token (now bound
    to the cluster-wide ClusterRole) and serves a namespace it has never heard of."""
    old = in_cluster.running_pod()["metadata"]["name"]
    run = stage_cluster_wide(tmp_path, in_cluster.run_env, in_cluster.base)
    rendered = in_cluster.plane.kubectl_run("kustomize", "--load-restrictor=LoadRestrictionsNone",
                                            str(run)).stdout
    applied = time.monotonic()
    in_cluster.plane.kubectl_run("apply", "-f", "-", input=rendered)
    pod = in_cluster.running_pod(timeout=240, other_than=old)
    command = in_cluster.read_proc(in_cluster.host_pid(pod), "cmdline").split("\0")
    assert "--all-namespaces" in command and not any(a.startswith("--namespace") for a in command)

    ns = Namespace(f"cluster-wide-{secrets.token_hex(3)}", in_cluster.plane)
    in_cluster.plane.kubectl_run("create", "namespace", ns.name)
    ns.apply(resource("wide", {"tableName": "CLUSTER_WIDE", "columns": [{"ID": "integer"}],
                               "primaryKey": "ID"}))
    ns.wait_ready("wide", timeout=120)
    FIGURES["cluster-wide: apply to a resource Ready in a new namespace"] = \
        f"{time.monotonic() - applied:.1f}s"
    assert in_cluster.database.table("cluster_wide") is not None
    assert "TableCreated" in [e["reason"] for e in ns.events("wide")]


# --- helpers ----------------------------------------------------------------------------------

def assert_liveness_green(in_cluster: InCluster, pod: dict[str, Any]) -> None:
    """The kubelet probed /healthz and got success every time, and never restarted the container."""
    name = pod["metadata"]["name"]
    # initialDelaySeconds 10, periodSeconds 20: a young Pod may not have been probed yet
    results = wait_for(lambda: probe_results(in_cluster.node.kubelet_get("/metrics/probes"), name),
                       timeout=60, interval=2, message=f"a liveness probe of {name}")
    assert set(results) == {"successful"}, f"liveness probes of {name}: {results}"
    status = container_status(json.loads(in_cluster.kubectl("get", "pod", name, "-o", "json").stdout))
    assert status["restartCount"] == 0, status
    FIGURES[f"liveness probes of {name}"] = f"{results['successful']:.0f} successful, restarts 0"


def manifest_memory_limit() -> int:
    """deploy/deployment.yaml's memory limit in bytes (binary suffixes: what it uses)."""
    (container,) = yaml.safe_load((ROOT / "deploy/deployment.yaml").read_text())["spec"]["template"]["spec"]["containers"]
    value = container["resources"]["limits"]["memory"]
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return int(value[:-2]) * units[value[-2:]] if value[-2:] in units else int(value)


def memory_figures(in_cluster: InCluster, pid: int) -> tuple[int, int, int]:
    """(limit, peak usage, OOM kills) of the process's memory cgroup, v1 or v2."""
    lines = [line.split(":", 2) for line in in_cluster.read_proc(pid, "cgroup").splitlines()]
    read = in_cluster.node.read_file
    v1 = next((path for _id, controllers, path in lines if "memory" in controllers.split(",")), None)
    if v1 is not None:
        base = f"/sys/fs/cgroup/memory/{v1.lstrip('/')}"
        oom = dict(line.split() for line in read(f"{base}/memory.oom_control").splitlines())
        return (int(read(f"{base}/memory.limit_in_bytes")), int(read(f"{base}/memory.max_usage_in_bytes")),
                int(oom.get("oom_kill", "0")))
    (v2,) = [path for hierarchy, _c, path in lines if hierarchy == "0"]
    base = f"/sys/fs/cgroup/{v2.lstrip('/')}"
    events = dict(line.split() for line in read(f"{base}/memory.events").splitlines())
    return int(read(f"{base}/memory.max")), int(read(f"{base}/memory.peak")), int(events.get("oom_kill", "0"))


def pid_alive(in_cluster: InCluster, pid: int) -> bool:
    try:
        state = proc_status(in_cluster.read_proc(pid, "status")).get("State", "")
    except FileNotFoundError:
        return False
    return not state.startswith("Z")


class StatementCounter:
    """pg_stat_statements of the operator's role in its database (read as the superuser)."""

    def __init__(self, in_cluster: InCluster) -> None:
        self.pg = in_cluster.pg_server
        ((self.userid, self.dbid),) = self.pg.execute_as_superuser(
            "SELECT (SELECT oid FROM pg_roles WHERE rolname = %s),"
            " (SELECT oid FROM pg_database WHERE datname = %s)",
            params=(in_cluster.database.user, in_cluster.database.dbname))

    def reset(self) -> None:
        self.pg.execute_as_superuser("SELECT pg_stat_statements_reset(%s::oid, %s::oid, 0)",
                                     params=(self.userid, self.dbid))

    def statements(self) -> list[tuple[str, int]]:
        return [(q, c) for q, c in self.pg.execute_as_superuser(
            "SELECT query, calls FROM pg_stat_statements WHERE userid = %s AND dbid = %s",
            params=(self.userid, self.dbid))]
