"""Configuration files of the local node (hack/node.py): pure functions, unit-tested.

Every path a daemon writes to is under the node's workdir, so that one run leaves nothing behind
and two runs never share state. The settings that this kind of host (no systemd, cgroup v1 in
hybrid mode, no CNI, no CAP_SYS_RESOURCE) needs are explained where they are set.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# The sandbox ("pause") image: built locally (no registry), named without any registry host.
PAUSE_IMAGE = "localhost/dbt-pause:1"
NODE_NAME = "dbt-node"
# Controllers the in-cluster suite needs: Deployments make ReplicaSets make Pods; ServiceAccount
# tokens need kube-root-ca.crt; namespaces and ownerReferences are cleaned up. Not the
# node-lifecycle controller: it would evict Pods from the node, which stays NotReady without CNI.
KCM_CONTROLLERS = ("deployment-controller", "replicaset-controller", "namespace-controller",
                   "garbage-collector-controller", "serviceaccount-controller",
                   "root-ca-certificate-publisher-controller", "clusterrole-aggregation-controller")
# A trivial program that sleeps until SIGTERM/SIGINT: all a Pod sandbox's process has to do.
PAUSE_GO = """package main

import (
\t"os"
\t"os/signal"
\t"syscall"
)

func main() {
\tc := make(chan os.Signal, 1)
\tsignal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
\t<-c
}
"""
PAUSE_DOCKERFILE = 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n'


@dataclass(frozen=True)
class NodeLayout:
    """Where the node's daemons keep their files: all under ``workdir``, except containerd's
    root (its image store), which may be a cache kept between runs (``containerd_root``)."""

    workdir: Path
    cache: Path | None = None

    @property
    def containerd_root(self) -> Path:
        return self.cache if self.cache is not None else self.workdir / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.workdir / "containerd" / "state"

    @property
    def containerd_socket(self) -> Path:
        return self.workdir / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.workdir / "containerd.toml"

    @property
    def kubelet_root(self) -> Path:
        return self.workdir / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.workdir / "kubelet.json"

    def dir(self, name: str) -> Path:
        return self.workdir / name


def _toml(value: object) -> str:
    """A TOML scalar or array (json's string escaping is valid TOML for these values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def containerd_config(layout: NodeLayout, runc: str) -> str:
    """containerd 1.6 config (version 2): root, state, socket and runc's state under the workdir."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    runc_table = f'{cri}.containerd.runtimes.runc'
    tables: list[tuple[str, dict[str, object]]] = [
        ("", {"version": 2, "root": str(layout.containerd_root), "state": str(layout.containerd_state),
              # plugins this host cannot load anyway: fewer errors in the log
              "disabled_plugins": ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                                   "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
                                   "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]}),
        ("grpc", {"address": str(layout.containerd_socket)}),
        ("ttrpc", {"address": ""}),
        ("debug", {"address": ""}),
        ("metrics", {"address": ""}),
        ('plugins."io.containerd.internal.v1.opt"', {"path": str(layout.dir("containerd-opt"))}),
        (cri, {"sandbox_image": PAUSE_IMAGE,
               # without it every sandbox fails ("can't get final child's PID from pipe: EOF"):
               # runc may not set the kubelet's oom_score_adj of -998 without CAP_SYS_RESOURCE
               "restrict_oom_score_adj": True,
               "stream_server_address": "127.0.0.1", "stream_server_port": "0",
               "enable_selinux": False}),
        (f"{cri}.containerd", {"snapshotter": "overlayfs", "default_runtime_name": "runc"}),
        (runc_table, {"runtime_type": "io.containerd.runc.v2"}),
        # cgroupfs: there is no systemd to ask for cgroups
        (f"{runc_table}.options", {"SystemdCgroup": False, "BinaryName": runc,
                                   "Root": str(layout.dir("runc"))}),
        # hostNetwork Pods only: no CNI plugin is configured (an empty dir, not the host's)
        (f"{cri}.cni", {"bin_dir": str(layout.dir("cni-bin")), "conf_dir": str(layout.dir("cni-conf"))}),
    ]
    out: list[str] = []
    for name, values in tables:
        if name:
            out.append(f"\n[{name}]")
        out += [f"{key} = {_toml(value)}" for key, value in values.items()]
    return "\n".join(out).lstrip() + "\n"


def kubelet_config(layout: NodeLayout, port: int, healthz_port: int, client_ca: Path) -> str:
    """KubeletConfiguration (JSON is YAML): loopback only, cgroupfs, the workdir's containerd."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": "127.0.0.1", "port": port, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": healthz_port,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,  # 1.36 refuses cgroup v1 unless told; hosts like CI still run it
        "failSwapOn": False,
        # the API server reaches the kubelet (logs, exec, probe metrics) with a client certificate
        # of our CA; anything else is refused
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(client_ca)}},
        "authorization": {"mode": "Webhook"},
        "staticPodPath": str(layout.dir("manifests")),
        "podLogsDir": str(layout.dir("pod-logs")),
        "volumePluginDir": str(layout.dir("volume-plugins")),
        # a shared test machine's disk is often fuller than the defaults tolerate
        "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%",
                         "nodefs.inodesFree": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "resolvConf": "",  # hostNetwork Pods use the host's; no cluster DNS here
        "protectKernelDefaults": False,  # else it refuses to start (it sets sysctls: restored)
        "nodeStatusUpdateFrequency": "5s",
        "syncFrequency": "10s",
    }
    return json.dumps(config, indent=2) + "\n"


def kubelet_args(binary: Path, layout: NodeLayout, kubeconfig: Path) -> list[str]:
    return [str(binary), "--config", str(layout.kubelet_config), "--kubeconfig", str(kubeconfig),
            "--root-dir", str(layout.kubelet_root), "--cert-dir", str(layout.dir("kubelet-pki")),
            "--hostname-override", NODE_NAME, "--node-ip", "127.0.0.1", "--v", "2"]


def controller_manager_args(binary: Path, kubeconfig: Path, root_ca: Path) -> list[str]:
    return [str(binary), "--kubeconfig", str(kubeconfig), "--controllers", ",".join(KCM_CONTROLLERS),
            "--root-ca-file", str(root_ca), "--leader-elect=false", "--secure-port", "0"]


def scheduler_args(binary: Path, kubeconfig: Path) -> list[str]:
    return [str(binary), "--kubeconfig", str(kubeconfig), "--leader-elect=false", "--secure-port", "0"]
