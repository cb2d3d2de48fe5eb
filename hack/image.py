"""Build the operator's container image with whatever engine this machine has.

    python -m hack.image build            # docker if its daemon answers, else podman, else buildah
    python -m hack.image save FILE        # the image as a docker-archive (for `ctr images import`)

Where the Dockerfile's base image cannot be pulled (no container registry reachable, as on the
project's CI machines), a stand-in base is made from Debian packages with mmdebstrap (Python 3.11
on Debian 12, like the official image), tagged with the name in the Dockerfile's ``FROM`` and the
image is built with ``--pull=never``. Everything is cached by the engine's own storage: the base is
made once, and a rebuild with an unchanged context reuses every layer.

The Dockerfile has no special case for this: a plain ``docker build .`` keeps working anywhere.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from hack.controlplane_build import cache_root

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "database-table-operator:latest"  # the name deploy/deployment.yaml runs
# How Docker and Kubernetes expand a short name ("python:3.11-slim"): the stand-in base and
# the image imported into containerd must carry the expanded name to be found without a pull.
DEFAULT_DOMAIN = "docker.io"
# The official python:3.11-slim is Debian 12 with Python 3.11: the stand-in is the same.
STANDIN_SUITE = "bookworm"
STANDIN_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates", "passwd")
STANDIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")  # CAs the host adds to Debian's set
PULL_TIMEOUT_SECONDS = 60
CONMON_NPROC = 32768


class ImageError(RuntimeError):
    """The image could not be built (the message says which step and why)."""


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} image: {msg}", file=sys.stderr, flush=True)


# --- pure helpers ----------------------------------------------------------------------------

def dockerfile_bases(dockerfile: str) -> list[str]:
    """Image names in FROM lines, without stage references (``FROM builder``) and duplicates."""
    stages: set[str] = set()
    bases: list[str] = []
    for line in dockerfile.splitlines():
        words = line.split()
        if len(words) < 2 or words[0].upper() != "FROM":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]  # --platform=...
        name = args[0]
        if name not in stages and name not in bases and name != "scratch":
            bases.append(name)
        if len(args) >= 3 and args[1].upper() == "AS":
            stages.add(args[2])
    return bases


def normalize_reference(ref: str) -> str:
    """The fully qualified name Docker and Kubernetes use for ``ref`` (``x`` → docker.io/library/x:latest)."""
    name, sep, digest = ref.partition("@")
    first, slash, _ = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        name = f"{DEFAULT_DOMAIN}/{name}" if slash else f"{DEFAULT_DOMAIN}/library/{name}"
    if not sep and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name + sep + digest


def containers_conf(runtime: str | None, cgroup_manager: str, ulimits: Mapping[str, tuple[int, int]]) -> str:
    """A containers.conf for podman/buildah that works without systemd and without raising rlimits."""
    lines = ["[containers]",
             "default_ulimits = [" + ", ".join(f'"{k}={s}:{h}"' for k, (s, h) in ulimits.items()) + "]",
             "", "[engine]", f'cgroup_manager = "{cgroup_manager}"', 'events_logger = "file"']
    if runtime:
        lines.append(f'runtime = "{runtime}"')
    return "\n".join(lines) + "\n"


def needs_ca_mount(local_ca_dir: Path = LOCAL_CA_DIR) -> bool:
    """The host trusts CAs beyond Debian's set (a TLS-inspecting proxy): pip in the build must too."""
    return local_ca_dir.is_dir() and any(local_ca_dir.rglob("*.crt"))


@dataclasses.dataclass(frozen=True)
class Engine:
    """A container engine's command line and the environment it needs here."""

    name: str  # docker | podman | buildah
    path: str
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def build_command(self, tag: str, context: Path, ca_bundle: Path | None) -> list[str]:
        """Build the Dockerfile in ``context`` as ``tag``, never pulling a base image."""
        if self.name == "docker":
            # docker has no build-time bind mounts; a machine that needs them uses podman
            return [self.path, "build", "--pull=false", "-t", tag, str(context)]
        verb = "bud" if self.name == "buildah" else "build"
        cmd = [self.path, verb, "--pull=never", "--network=host", "--layers", "-t", tag]
        if ca_bundle is not None:  # build time only: a bind mount is not part of any layer
            cmd += ["-v", f"{ca_bundle}:{HOST_CA_BUNDLE}:ro"]
        return [*cmd, str(context)]

    def run(self, *args: str, check: bool = True, timeout: float | None = None,
            input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        res = subprocess.run([self.path, *args], env={**os.environ, **self.env}, input=input,
                             capture_output=True, timeout=timeout)
        if check and res.returncode != 0:
            raise ImageError(f"{self.name} {' '.join(args)} failed ({res.returncode}):\n"
                             f"{res.stderr.decode(errors='replace')[-3000:]}")
        return res


# --- the engine ------------------------------------------------------------------------------

def _podman_env() -> dict[str, str]:
    """CONTAINERS_CONF for this host: runc (crun refuses hybrid cgroup v1), cgroupfs without
    systemd, and ulimits at the current hard limits (a sandbox may not be allowed to raise them)."""
    ulimits = {}
    for name, res in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        hard = resource.getrlimit(res)[1]
        if name == "nproc":  # conmon runs the runtime with nproc capped at 32768
            hard = min(hard, CONMON_NPROC) if hard != resource.RLIM_INFINITY else CONMON_NPROC
        if hard != resource.RLIM_INFINITY:
            ulimits[name] = (hard, hard)
    runtime = "runc" if shutil.which("runc") else None
    manager = "systemd" if Path("/run/systemd/system").is_dir() else "cgroupfs"
    conf = cache_root() / "containers.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    text = containers_conf(runtime, manager, ulimits)
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
    return {"CONTAINERS_CONF": str(conf)}


def _docker_answers(path: str) -> bool:
    try:
        return subprocess.run([path, "info"], capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def find_engine(preferred: str | None = None) -> Engine:
    """docker if its daemon answers, else podman, else buildah (or DBT_IMAGE_ENGINE's choice)."""
    preferred = preferred or os.environ.get("DBT_IMAGE_ENGINE")
    for name in ([preferred] if preferred else ["docker", "podman", "buildah"]):
        path = shutil.which(name)
        if path is None or (name == "docker" and not _docker_answers(path)):
            continue
        return Engine(name, path, {} if name == "docker" else _podman_env())
    raise ImageError("no container engine: install docker, or podman or buildah "
                     "(Debian: apt-get install podman buildah runc)")


def image_id(engine: Engine, ref: str) -> str | None:
    """The local image's id, or None when the engine has no image of that name."""
    args = ["inspect", "--type=image"] if engine.name != "buildah" else ["inspect", "--type", "image"]
    res = engine.run(*args, "--format", "{{.Id}}" if engine.name != "buildah" else "{{.FromImageID}}",
                     ref, check=False)
    return res.stdout.decode().strip() or None if res.returncode == 0 else None


# --- the stand-in base -----------------------------------------------------------------------

def ensure_base(engine: Engine, ref: str) -> None:
    """Make ``ref`` present: already there, pulled, or a stand-in made from Debian packages."""
    full = normalize_reference(ref)
    if image_id(engine, full):
        return
    policy = os.environ.get("DBT_IMAGE_BASE", "auto")  # auto | pull | standin
    if policy != "standin":
        log(f"pulling {full}")
        try:
            pulled = engine.run("pull", full, check=False, timeout=PULL_TIMEOUT_SECONDS).returncode == 0
        except subprocess.TimeoutExpired:
            pulled = False
        if pulled:
            return
        if policy == "pull":
            raise ImageError(f"cannot pull {full} (DBT_IMAGE_BASE=pull forbids a stand-in)")
    build_standin(engine, full)


def build_standin(engine: Engine, full: str) -> None:
    """A Debian root with Python 3 from mmdebstrap, imported as ``full``."""
    if shutil.which("mmdebstrap") is None:
        raise ImageError(f"{full} cannot be pulled and mmdebstrap (to make a stand-in) is missing: "
                         "apt-get install mmdebstrap")
    started = time.monotonic()
    log(f"{full} cannot be pulled: making a stand-in with mmdebstrap ({STANDIN_SUITE}, "
        f"{', '.join(STANDIN_PACKAGES)})")
    with tempfile.TemporaryDirectory(prefix="standin-", dir=cache_root()) as tmp:
        tarball = Path(tmp) / "root.tar"
        res = subprocess.run(["mmdebstrap", "--variant=apt", "--quiet",
                              "--include=" + ",".join(STANDIN_PACKAGES), STANDIN_SUITE, str(tarball)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise ImageError(f"mmdebstrap failed ({res.returncode}):\n{res.stderr[-3000:]}")
        _import_root(engine, tarball, full)
    log(f"stand-in {full} ready in {time.monotonic() - started:.0f}s")


def _import_root(engine: Engine, tarball: Path, full: str) -> None:
    changes = [f"ENV PATH={STANDIN_PATH}", "ENV LANG=C.UTF-8", 'CMD ["python3"]']
    if engine.name in ("docker", "podman"):
        flags = [arg for change in changes for arg in ("--change", change)]
        engine.run("import", *flags, str(tarball), full)
        return
    # buildah has no `import`: unpack the root into a scratch container and commit it
    container = engine.run("from", "scratch").stdout.decode().strip()
    try:
        mount = engine.run("mount", container).stdout.decode().strip()
        subprocess.run(["tar", "-xf", str(tarball), "-C", mount], check=True)
        engine.run("config", "--env", f"PATH={STANDIN_PATH}", "--env", "LANG=C.UTF-8",
                   "--cmd", "python3", container)
        engine.run("commit", container, full)
    finally:
        engine.run("rm", container, check=False)


# --- the operator image ----------------------------------------------------------------------

def build(engine: Engine | None = None, tag: str = IMAGE, context: Path = ROOT) -> str:
    """Build the image (bases made present first); return its id."""
    engine = engine or find_engine()
    started = time.monotonic()
    for base in dockerfile_bases((context / "Dockerfile").read_text()):
        ensure_base(engine, base)
    ca = HOST_CA_BUNDLE if engine.name != "docker" and needs_ca_mount() and HOST_CA_BUNDLE.exists() else None
    cmd = engine.build_command(tag, context, ca)
    log(f"{' '.join(cmd)}" + ("  (host CA bundle mounted: the host trusts extra CAs)" if ca else ""))
    res = subprocess.run(cmd, env={**os.environ, **engine.env}, stdout=sys.stderr, stderr=subprocess.STDOUT)
    if res.returncode != 0:
        raise ImageError(f"building {tag} with {engine.name} failed with exit code {res.returncode}")
    ident = image_id(engine, tag)
    if not ident:
        raise ImageError(f"{engine.name} built {tag} but cannot find it")
    log(f"{tag} is {ident[:19]} ({engine.name}, {time.monotonic() - started:.0f}s)")
    return ident


def save(engine: Engine, ref: str, dest: Path) -> Path:
    """The image as a docker-archive that names it by its fully qualified name (for ctr/kind)."""
    full = normalize_reference(ref)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.unlink(missing_ok=True)
    if engine.name == "buildah":
        engine.run("push", ref, f"docker-archive:{tmp}:{full}")
    else:
        engine.run("tag", ref, full)
        args = ["--format", "docker-archive"] if engine.name == "podman" else []
        engine.run("save", *args, "-o", str(tmp), full)
    os.replace(tmp, dest)
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.image", description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["docker", "podman", "buildah"],
                        help="default: docker if its daemon answers, else podman, else buildah")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help=f"build {IMAGE} from the Dockerfile")
    save_p = sub.add_parser("save", help="build, then write a docker-archive of the image")
    save_p.add_argument("file")
    args = parser.parse_args(argv)
    try:
        engine = find_engine(args.engine)
        ident = build(engine)
        if args.command == "save":
            save(engine, IMAGE, Path(args.file))
    except ImageError as e:
        log(str(e))
        return 1
    print(f"{IMAGE} {ident}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
