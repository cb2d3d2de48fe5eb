"""The images a local node runs (hack/node.py), as docker-archives for `ctr images import`.

The operator's image (hack/image.py) is saved once per image id; the sandbox ("pause") image is a
static Go program that sleeps until SIGTERM, built locally because no registry is reachable.
"""
from __future__ import annotations

import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

from hack import image, node_config
from hack.controlplane_build import _go, cache_root, go_version
from hack.node_config import PAUSE_IMAGE


class ArchiveError(RuntimeError):
    """A file is not a docker-archive of one image."""


def ensure_pause_archive(engine: image.Engine) -> Path:
    """The sandbox image (a static Go program that sleeps until SIGTERM) as a docker-archive."""
    dest = cache_root() / "images" / f"dbt-pause-{go_version()}.tar"
    if dest.exists():
        return dest
    with tempfile.TemporaryDirectory(prefix="pause-") as tmp:
        ctx = Path(tmp)
        (ctx / "go.mod").write_text("module dbt.local/pause\n\ngo 1.21\n")
        (ctx / "main.go").write_text(node_config.PAUSE_GO)
        (ctx / "Dockerfile").write_text(node_config.PAUSE_DOCKERFILE)
        _go("build", "-trimpath", "-ldflags", "-s -w", "-o", str(ctx / "pause"), ".", cwd=ctx)
        res = subprocess.run(engine.build_command(PAUSE_IMAGE, ctx, None), env={**os.environ, **engine.env},
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise image.ImageError(f"building {PAUSE_IMAGE} failed:\n{res.stderr[-2000:]}")
    return image.save(engine, PAUSE_IMAGE, dest)


def ensure_operator_archive(engine: image.Engine) -> tuple[Path, str]:
    """Build the operator image (cached layers) and save it once per image id."""
    ident = image.build(engine)
    dest = cache_root() / "images" / f"operator-{ident[:16]}.tar"
    if not dest.exists():
        for old in dest.parent.glob("operator-*.tar"):
            old.unlink()
        image.save(engine, image.IMAGE, dest)
    return dest, ident


def archive_image(archive: Path) -> tuple[str, str]:
    """The name and id (config digest) of the image in a docker-archive from hack.image.save."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise ArchiveError(f"{archive} is not a docker-archive (no manifest.json)")
        (entry,) = json.load(member)
    return entry["RepoTags"][0], "sha256:" + Path(entry["Config"]).stem.removeprefix("sha256:")


def archive_config(archive: Path) -> dict:
    """The image's config (User, Env, Cmd, ...) from a docker-archive."""
    with tarfile.open(archive) as tar:
        manifest = tar.extractfile("manifest.json")
        if manifest is None:
            raise ArchiveError(f"{archive} is not a docker-archive (no manifest.json)")
        (entry,) = json.load(manifest)
        config = tar.extractfile(entry["Config"])
        if config is None:
            raise ArchiveError(f"{archive} has no {entry['Config']}")
        return json.load(config).get("config", {})
