"""Unit tests of hack/controlplane*.py's pure helpers (no Go build, no processes)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from hack import controlplane, controlplane_build
from hack.controlplane_build import BinPaths
from hack.kubectl import KubectlError

KUBERNETES_GOMOD = """\
module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
\tk8s.io/api v0.0.0
\tgithub.com/spf13/cobra v1.10.2
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/cri-streaming => ./staging/src/k8s.io/cri-streaming
)

replace k8s.io/streaming v0.0.0 => ./staging/src/k8s.io/streaming
replace github.com/foo/bar => github.com/foo/bar v1.2.3
"""


def test_staging_modules_are_read_from_the_replace_directives() -> None:
    assert controlplane_build.staging_modules(KUBERNETES_GOMOD) == [
        "k8s.io/api", "k8s.io/client-go", "k8s.io/cri-streaming", "k8s.io/streaming"]


def test_staging_modules_refuses_a_gomod_without_them() -> None:
    with pytest.raises(RuntimeError):
        controlplane_build.staging_modules("module x\n\ngo 1.26.0\n")


def test_go_and_godebug_directives_are_copied() -> None:
    assert controlplane_build._go_directives(KUBERNETES_GOMOD) == "go 1.26.0\ngodebug default=go1.26"


def test_ldflags_stamp_both_version_packages(tmp_path: Path) -> None:
    info = tmp_path / "v.info"
    info.write_text(json.dumps({"Version": controlplane_build.K8S_VERSION, "Time": "2026-01-02T03:04:05Z"}))
    flags = controlplane_build._k8s_ldflags({"Info": str(info)})
    major, minor = controlplane_build.K8S_VERSION.lstrip("v").split(".")[:2]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {pkg}.gitVersion={controlplane_build.K8S_VERSION}" in flags
        assert f"-X {pkg}.gitMajor={major}" in flags
        assert f"-X {pkg}.gitMinor={minor}" in flags
        assert f"-X {pkg}.gitTreeState=clean" in flags
        assert f"-X {pkg}.buildDate=2026-01-02T03:04:05Z" in flags
        assert f"-X {pkg}.gitCommit=" in flags
    assert " " not in "".join(f.split("=", 1)[1] for f in flags.split() if "=" in f)


def test_cache_dir_can_be_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBT_CACHE_DIR", str(tmp_path))
    assert controlplane_build.cache_root() == tmp_path


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = controlplane._free_ports(3)
    assert len(set(ports)) == 3
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_token_kubeconfig_embeds_ca_server_token_and_namespace(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = BinPaths(dir=tmp_path / "bin", etcd=tmp_path / "bin/etcd",
                    kube_apiserver=tmp_path / "bin/kube-apiserver", kubectl=tmp_path / "bin/kubectl",
                    kube_controller_manager=tmp_path / "bin/kube-controller-manager")
    monkeypatch.setattr(controlplane, "bin_paths", lambda: fake)
    cp = controlplane.ControlPlane(workdir=tmp_path / "cp")
    cp.pki.mkdir(parents=True)
    cp.ca_file.write_bytes(b"-----BEGIN CERTIFICATE-----\nabc\n")
    path = cp.write_token_kubeconfig(tmp_path / "sa.kubeconfig", "tok.en-123", "ns1")
    text = path.read_text()
    assert f"server: {cp.server}\n" in text
    assert "certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmFiYwo=\n" in text
    assert "token: tok.en-123\n" in text
    assert "namespace: ns1\n" in text
    assert "insecure" not in text
    assert path.stat().st_mode & 0o077 == 0
    assert cp.env()["KUBECONFIG"] == str(cp.kubeconfig)
    assert cp.env()["PATH"].startswith(str(fake.dir))


def test_kubectl_error_message_has_stderr() -> None:
    err = KubectlError(1, ["kubectl", "get", "x"], "", "error: the server doesn't have x")
    assert "the server doesn't have x" in str(err)
