"""Unit tests of hack/image.py's pure helpers and of the Dockerfile's user (no engine, no build)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from hack import image
from hack.image import Engine

ROOT = Path(__file__).resolve().parents[2]
# Debian's fixed system users and groups (package base-passwd): every Debian-based image has them
BASE_PASSWD = Path("/usr/share/base-passwd")


def test_dockerfile_bases_skip_stage_references_and_duplicates() -> None:
    text = ("FROM python:3.11-slim AS builder\nRUN x\nFROM --platform=linux/amd64 python:3.11-slim\n"
            "from builder as again\nFROM scratch\nFROM alpine:3\n")
    assert image.dockerfile_bases(text) == ["python:3.11-slim", "alpine:3"]


def test_the_projects_dockerfile_has_one_base() -> None:
    assert image.dockerfile_bases((ROOT / "Dockerfile").read_text()) == ["python:3.11-slim"]


@pytest.mark.parametrize(("ref", "full"), [
    ("python:3.11-slim", "docker.io/library/python:3.11-slim"),
    ("database-table-operator", "docker.io/library/database-table-operator:latest"),
    ("bitnami/postgresql:16", "docker.io/bitnami/postgresql:16"),
    ("localhost/pause:1", "localhost/pause:1"),
    ("quay.example:5000/a/b", "quay.example:5000/a/b:latest"),
    ("localhost:5000/x:y", "localhost:5000/x:y"),
    ("python@sha256:abc", "docker.io/library/python@sha256:abc"),
])
def test_normalize_reference_expands_short_names_as_kubernetes_does(ref: str, full: str) -> None:
    assert image.normalize_reference(ref) == full


def test_containers_conf_names_runtime_manager_and_ulimits() -> None:
    conf = image.containers_conf("runc", "cgroupfs", {"nofile": (20000, 20000), "nproc": (32768, 32768)})
    assert 'runtime = "runc"' in conf
    assert 'cgroup_manager = "cgroupfs"' in conf
    assert 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]' in conf
    assert "runtime" not in image.containers_conf(None, "systemd", {})


def test_ca_mount_only_when_the_host_adds_cas(tmp_path: Path) -> None:
    assert not image.needs_ca_mount(tmp_path / "missing")
    assert not image.needs_ca_mount(tmp_path)
    (tmp_path / "corp").mkdir()
    (tmp_path / "corp" / "proxy.crt").write_text("x")
    assert image.needs_ca_mount(tmp_path)


def test_build_never_pulls_and_mounts_the_bundle_read_only() -> None:
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    cmd = Engine("podman", "/usr/bin/podman").build_command("t:1", Path("/ctx"), ca)
    assert cmd[:2] == ["/usr/bin/podman", "build"] and "--pull=never" in cmd and cmd[-1] == "/ctx"
    assert cmd[cmd.index("-v") + 1] == f"{ca}:{ca}:ro"
    assert "-v" not in Engine("buildah", "buildah").build_command("t:1", Path("/ctx"), None)
    assert Engine("buildah", "buildah").build_command("t", Path("/c"), None)[1] == "bud"
    assert Engine("docker", "docker").build_command("t", Path("/c"), ca) == [
        "docker", "build", "--pull=false", "-t", "t", "/c"]


def _dockerfile_names(flag_words: tuple[str, ...], command: str) -> set[str]:
    """Names that the Dockerfile's groupadd/useradd create (the last word of each command)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return {m.group(1) for m in re.finditer(rf"\b{command}\b[^&\n]*?\s([a-z_][a-z0-9_-]*)\s*(?:&&|$)",
                                            text, re.M)} - set(flag_words)


@pytest.mark.skipif(not BASE_PASSWD.is_dir(), reason="needs Debian's base-passwd lists (a Debian host)")
def test_dockerfile_user_and_group_do_not_clash_with_debians_fixed_ones() -> None:
    """Regression: `groupadd -g 1000 operator` exited 9 on Debian images (group operator, gid 37)."""
    groups = _dockerfile_names((), "groupadd")
    users = _dockerfile_names((), "useradd")
    assert groups and users, "the Dockerfile creates its user and group"
    taken_groups = {line.split(":")[0] for line in (BASE_PASSWD / "group.master").read_text().splitlines()}
    taken_users = {line.split(":")[0] for line in (BASE_PASSWD / "passwd.master").read_text().splitlines()}
    assert not groups & taken_groups
    assert not users & taken_users
