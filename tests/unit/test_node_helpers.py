"""Unit tests of the local node's pure parts: hack/node_config.py, hack/host_state.py and the
in-cluster suite's parsers (tests/cluster/support.py). No process, no root."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hack import host_state, node_config
from hack.node_config import NodeLayout
from tests.cluster import support

LAYOUT = NodeLayout(Path("/tmp/dbt-node-x"))


def test_containerd_keeps_everything_under_the_workdir() -> None:
    conf = node_config.containerd_config(LAYOUT, "/usr/sbin/runc")
    paths = [line.split(" = ", 1)[1].strip('"') for line in conf.splitlines()
             if " = \"/" in line and "BinaryName" not in line]
    assert paths and all(p.startswith("/tmp/dbt-node-x/") for p in paths), paths
    assert 'address = "/tmp/dbt-node-x/containerd.sock"' in conf


def test_containerd_settings_this_host_needs() -> None:
    conf = node_config.containerd_config(LAYOUT, "/usr/sbin/runc")
    assert "restrict_oom_score_adj = true" in conf
    assert "SystemdCgroup = false" in conf
    assert 'BinaryName = "/usr/sbin/runc"' in conf
    assert f'sandbox_image = "{node_config.PAUSE_IMAGE}"' in conf
    assert '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]' in conf


def test_kubelet_listens_on_loopback_with_cgroupfs_and_authenticates_callers() -> None:
    config = json.loads(node_config.kubelet_config(LAYOUT, 10250, 10248, Path("/pki/ca.crt")))
    assert (config["address"], config["healthzBindAddress"], config["readOnlyPort"]) == ("127.0.0.1", "127.0.0.1", 0)
    assert config["cgroupDriver"] == "cgroupfs" and config["failCgroupV1"] is False
    assert config["containerRuntimeEndpoint"] == "unix:///tmp/dbt-node-x/containerd.sock"
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authentication"]["x509"]["clientCAFile"] == "/pki/ca.crt"
    assert config["authorization"]["mode"] == "Webhook"
    for key in ("staticPodPath", "podLogsDir", "volumePluginDir"):
        assert config[key].startswith("/tmp/dbt-node-x/")


def test_kubelet_args_keep_its_dirs_in_the_workdir() -> None:
    args = node_config.kubelet_args(Path("/bin/kubelet"), LAYOUT, Path("/k"))
    assert args[args.index("--root-dir") + 1] == "/tmp/dbt-node-x/kubelet"
    assert args[args.index("--cert-dir") + 1] == "/tmp/dbt-node-x/kubelet-pki"


def test_no_controller_evicts_pods_from_the_not_ready_node() -> None:
    assert "deployment-controller" in node_config.KCM_CONTROLLERS
    assert "replicaset-controller" in node_config.KCM_CONTROLLERS
    assert not any("lifecycle" in c or "eviction" in c for c in node_config.KCM_CONTROLLERS)


SAVED = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
AFTER = ("*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n-A INPUT -j KUBE-FIREWALL\nCOMMIT\n"
         "*mangle\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n")


def test_iptables_restore_puts_tables_back_and_empties_new_ones() -> None:
    restore = host_state.iptables_restore_input(SAVED, AFTER)
    assert restore == SAVED + "*mangle\nCOMMIT\n"
    assert host_state.iptables_restore_input(SAVED, SAVED) is None


def test_new_mounts_deepest_first_and_repeated_ones_twice() -> None:
    before = ["/", "/proc", "/tmp/w/kubelet"]
    after = before + ["/tmp/w/kubelet", "/tmp/w/kubelet/pods/a/volumes/x", "/elsewhere"]
    assert host_state.new_mounts_under(before, after, ["/tmp/w"]) == [
        "/tmp/w/kubelet/pods/a/volumes/x", "/tmp/w/kubelet"]


def test_mount_points_decode_octal_escapes() -> None:
    line = "36 35 98:0 / /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n"
    assert host_state.mount_points(line) == ["/mnt/a b"]


def test_new_paths_only_what_was_not_there() -> None:
    assert host_state.new_paths(None, frozenset({"/r", "/r/x"}), "/r") == ["/r"]
    assert host_state.new_paths(frozenset({"/r"}), frozenset({"/r", "/r/a", "/r/a/b"}), "/r") == ["/r/a/b", "/r/a"]
    assert host_state.new_paths(frozenset({"/r"}), None, "/r") == []


def test_only_the_nodes_cgroups_are_recorded_so_no_other_programs_are_killed(tmp_path: Path) -> None:
    """The restore kills what runs in every cgroup recorded as new: a cgroup another program
    made meanwhile (here a supervisor's per-command cgroup, podman's parent) must not be one."""
    for path in ("memory/kubepods/besteffort/pod1", "memory/process_api/0a1b",
                 "memory/libpod_parent/c1", "cpu/kubepods", "kubepods.slice/x"):
        (tmp_path / path).mkdir(parents=True)
    found = host_state._cgroup_dirs(tmp_path)
    assert found == {str(tmp_path / p) for p in (
        "memory/kubepods", "memory/kubepods/besteffort", "memory/kubepods/besteffort/pod1",
        "cpu/kubepods", "kubepods.slice", "kubepods.slice/x")}
    assert host_state._cgroup_dirs(tmp_path / "absent") == frozenset()


def test_stage_overlay_copies_the_real_manifests_unchanged(tmp_path: Path) -> None:
    run = support.stage_overlay(tmp_path, {"PGHOST": "127.0.0.1", "PGPORT": "5433"})
    for name in ("kustomization.yaml", "crd.yaml", "service-account.yaml", "deploy/deployment.yaml"):
        assert (tmp_path / "manifests" / name).read_bytes() == (support.ROOT / name).read_bytes()
    layer = yaml.safe_load((run / "kustomization.yaml").read_text())
    assert layer["resources"] == ["../overlay"]
    patch = yaml.safe_load(layer["patches"][0]["patch"])
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert container == {"name": "operator", "env": [{"name": "PGHOST", "value": "127.0.0.1"},
                                                     {"name": "PGPORT", "value": "5433"}]}


def test_proc_status_and_root_mount_options() -> None:
    status = support.proc_status("Name:\tpython\nUid:\t1000\t1000\t1000\t1000\nNoNewPrivs:\t1\n")
    assert status["Uid"].split() == ["1000"] * 4 and status["NoNewPrivs"] == "1"
    mountinfo = ("1 0 0:1 / / rw,relatime - overlay overlay rw\n"
                 "2 1 0:1 / / ro,relatime - overlay overlay rw\n3 2 0:2 / /tmp rw - tmpfs t rw\n")
    assert "ro" in support.root_mount_options(mountinfo)
    assert "ro" not in support.root_mount_options(mountinfo.splitlines()[0])


def test_probe_results_for_one_pod() -> None:
    metrics = ('prober_probe_total{container="operator",namespace="default",pod="p1",pod_uid="u",'
               'probe_type="Liveness",result="successful"} 3\n'
               'prober_probe_total{container="operator",namespace="default",pod="p1",pod_uid="u",'
               'probe_type="Liveness",result="failed"} 1\n'
               'prober_probe_total{container="operator",namespace="default",pod="p2",pod_uid="v",'
               'probe_type="Liveness",result="failed"} 7\n')
    assert support.probe_results(metrics, "p1") == {"successful": 3, "failed": 1}
    assert support.probe_results(metrics, "p3") == {}


def test_watch_events_and_jwt_claims() -> None:
    events = support.watch_events('{"type": "ADDED", "object": {}}\n{"type": "DELETED",\n "object": {}}\n{"ty')
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]
    token = "e30." + "eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZDpvIn0" + ".sig"
    assert support.jwt_claims(token) == {"sub": "system:serviceaccount:d:o"}


def test_ddl_pattern() -> None:
    assert support.DDL.match('ALTER TABLE "public"."t" ADD COLUMN "c" text')
    assert support.DDL.match("  comment on table t is $1")
    assert not support.DDL.match("SELECT pg_advisory_xact_lock($1, hashtext($2))")


def test_only_the_image_store_may_live_outside_the_workdir() -> None:
    layout = NodeLayout(Path("/tmp/dbt-node-x"), cache=Path("/cache/containerd-root"))
    conf = node_config.containerd_config(layout, "/usr/sbin/runc")
    assert 'root = "/cache/containerd-root"' in conf
    assert 'state = "/tmp/dbt-node-x/containerd/state"' in conf


def _docker_archive(path: Path, config: dict, tags: list[str]) -> Path:
    import io
    import tarfile

    digest = "ab" * 32
    with tarfile.open(path, "w") as tar:
        for name, data in ((f"{digest}.json", json.dumps({"config": config}).encode()),
                           ("manifest.json", json.dumps([{"Config": f"{digest}.json", "RepoTags": tags,
                                                          "Layers": []}]).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_archive_name_id_and_config(tmp_path: Path) -> None:
    from hack import node_images

    archive = _docker_archive(tmp_path / "a.tar", {"User": "1000:1000"},
                              ["docker.io/library/database-table-operator:latest"])
    assert node_images.archive_image(archive) == ("docker.io/library/database-table-operator:latest",
                                                  "sha256:" + "ab" * 32)
    assert node_images.archive_config(archive)["User"] == "1000:1000"


def test_iptables_rules_ignore_counters_and_empty_builtin_chains() -> None:
    assert host_state.iptables_rules("*filter\n:INPUT ACCEPT [5:300]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n") == set()
    assert host_state.iptables_rules(AFTER) == {
        "filter :KUBE-FIREWALL -", "filter -A INPUT -j KUBE-FIREWALL", "mangle :KUBE-KUBELET-CANARY -"}
    assert host_state.iptables_rules("*filter\n:INPUT DROP [0:0]\nCOMMIT\n") == {"filter :INPUT DROP"}


def test_the_in_cluster_suite_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.cluster.conftest import cannot_run

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run in CI, but: no root"):
        cannot_run("no root")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="^no root$"):
        cannot_run("no root")


def test_a_node_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from hack import node

    monkeypatch.setattr(node.os, "geteuid", lambda: 1000)
    assert "needs root" in (node.prerequisites_missing() or "")
