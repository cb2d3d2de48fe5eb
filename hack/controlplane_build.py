"""Build etcd, kube-apiserver and kubectl from Go modules and cache the binaries.

Why build from source: this machine (and CI) reaches only package registries, so there is
no release tarball to download; the Go module proxy does serve Kubernetes' and etcd's
source, and Go is installed.

Why helper modules: ``k8s.io/kubernetes`` replaces every staging module (``k8s.io/api``,
``k8s.io/apiserver``, ...) with ``./staging/src/...``, so ``go install ...@vX`` is refused.
A throwaway module that requires ``k8s.io/kubernetes`` and replaces each staging module
with its published ``v0.X.Y`` builds fine. The list of staging modules is read from the
downloaded ``k8s.io/kubernetes`` go.mod (it grows between minors), never hard-coded.
etcd is built in a separate helper module so that its grpc/otel versions do not mix with
Kubernetes'.

Standard library only: this runs before anything else is installed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

K8S_VERSION = "v1.36.3"
K8S_STAGING_VERSION = "v0.36.3"  # the staging modules' tag for K8S_VERSION
ETCD_VERSION = "v3.6.16"

K8S_COMMANDS = ("kube-apiserver", "kubectl")
# built only on request: each adds a minute or two to a cold build
CONTROLLER_MANAGER_COMMANDS = ("kube-controller-manager",)
# a real node for the in-cluster suite (hack/node.py): workloads need all three
NODE_COMMANDS = ("kube-controller-manager", "kube-scheduler", "kubelet")
OPTIONAL_K8S_COMMANDS = ("kube-controller-manager", "kube-scheduler", "kubelet")
ETCD_MODULE = "go.etcd.io/etcd/server/v3"  # its root package is etcd's main


@dataclasses.dataclass(frozen=True)
class BinPaths:
    """Where the cached binaries are (all inside ``dir``)."""

    dir: Path
    etcd: Path
    kube_apiserver: Path
    kubectl: Path
    kube_controller_manager: Path  # exists only if built with controller_manager=True

    def all(self) -> list[Path]:
        """The binaries that are always built."""
        return [self.etcd, self.kube_apiserver, self.kubectl]

    # properties, not fields: built only with node=True (and BinPaths(...) calls stay valid)
    @property
    def kubelet(self) -> Path:
        return self.dir / "kubelet"

    @property
    def kube_scheduler(self) -> Path:
        return self.dir / "kube-scheduler"


def log(msg: str) -> None:
    """Progress line with a timestamp on stderr (stdout stays for machine-readable output)."""
    print(f"{time.strftime('%H:%M:%S')} controlplane: {msg}", file=sys.stderr, flush=True)


def go_binary() -> str:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).exists():
        raise RuntimeError("the Go toolchain ('go') is needed to build the control plane binaries")
    return go


def _go_env() -> dict[str, str]:
    # GOTOOLCHAIN=local: the cache key names the local Go version, so never let go switch
    # to a downloaded toolchain behind our back. GOMODCACHE/GOCACHE stay at their defaults
    # so that repeated builds (and other Go work) share them.
    return {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOWORK": "off"}


def _go(*args: str, cwd: Path | None = None, capture: bool = False) -> str:
    cmd = [go_binary(), *args]
    res = subprocess.run(cmd, cwd=cwd, env=_go_env(), text=True,
                         stdout=subprocess.PIPE if capture else sys.stderr)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {res.returncode}")
    return res.stdout or ""


def go_version() -> str:
    return _go("env", "GOVERSION", capture=True).strip()


def cache_root() -> Path:
    env = os.environ.get("DBT_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "database-table-operator"


def bin_paths() -> BinPaths:
    """Paths of the binaries, keyed by Kubernetes, etcd and Go versions and the platform."""
    goos, goarch = _go("env", "GOOS", "GOARCH", capture=True).split()
    key = f"{K8S_VERSION}-{ETCD_VERSION}-{go_version()}-{goos}-{goarch}"
    d = cache_root() / "bin" / key
    return BinPaths(dir=d, etcd=d / "etcd", kube_apiserver=d / "kube-apiserver", kubectl=d / "kubectl",
                    kube_controller_manager=d / "kube-controller-manager")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive lock so that two concurrent test runs do not both build (and race on rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for the build lock {path} (another build is running)")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _module_info(module: str, version: str) -> dict:
    """`go mod download -json` of one module: GoMod/Info paths (and the source in Dir)."""
    return json.loads(_go("mod", "download", "-json", f"{module}@{version}", capture=True))


def staging_modules(kubernetes_gomod: str) -> list[str]:
    """Module paths that k8s.io/kubernetes' go.mod replaces with ./staging/src/... dirs."""
    pattern = re.compile(r"^[ \t]*(?:replace[ \t]+)?([\w./-]+)(?:[ \t]+v\S+)?[ \t]+=>[ \t]+\./staging/src/", re.M)
    mods = sorted(set(pattern.findall(kubernetes_gomod)))
    if not mods:
        raise RuntimeError("found no staging replace directives in k8s.io/kubernetes' go.mod")
    return mods


def _go_directives(gomod: str) -> str:
    """The `go` and `godebug` lines of a go.mod, copied so the helper behaves alike."""
    return "\n".join(re.findall(r"^(?:go|godebug)\s.*$", gomod, re.M))


def _build(helper: Path, gomod: str, imports: list[str], ldflags: str, out: dict[str, Path]) -> None:
    """Write a helper module, tidy it, build the packages and move the binaries into place.

    ``out`` maps a package path to its final binary path. Binaries are written to a temp
    dir beside the final place, then renamed: a killed build leaves no half binary.
    """
    (helper / "go.mod").write_text(gomod)
    blank = "\n".join(f'\t_ "{p}"' for p in imports)
    (helper / "tools.go").write_text(
        f"//go:build tools\n\n// Package tools pins the commands to build.\npackage tools\n\nimport (\n{blank}\n)\n")
    log(f"go mod tidy in {helper}")
    _go("mod", "tidy", cwd=helper)
    dest = next(iter(out.values())).parent
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=dest) as tmp:
        log(f"go build {' '.join(out)} (slow on a cold cache)")
        started = time.monotonic()
        _go("build", "-trimpath", "-ldflags", ldflags, "-o", tmp + "/", *out, cwd=helper)
        log(f"go build done in {time.monotonic() - started:.0f}s")
        for pkg, final in out.items():
            elems = pkg.split("/")
            # go names a binary after the last path element, skipping a /vN major suffix
            name = elems[-2] if re.fullmatch(r"v\d+", elems[-1]) else elems[-1]
            os.replace(Path(tmp) / name, final)


def _k8s_ldflags(info: dict) -> str:
    """Stamp the version as Kubernetes' hack/lib/version.sh does (else /version says v0.0.0)."""
    major, minor = K8S_VERSION.lstrip("v").split(".")[:2]
    meta = json.loads(Path(info["Info"]).read_text()) if info.get("Info") else {}
    origin = info.get("Origin") or meta.get("Origin") or {}
    values = {
        "gitVersion": K8S_VERSION, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean",
        "gitCommit": origin.get("Hash", "unknown"),
        # the module's commit time, not "now": the same source gives the same binary
        "buildDate": meta.get("Time", "1970-01-01T00:00:00Z"),
    }
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.{k}={v}" for k, v in values.items()]
    return " ".join(flags)


def _build_kubernetes(paths: BinPaths, commands: list[str], workroot: Path) -> None:
    info = _module_info("k8s.io/kubernetes", K8S_VERSION)
    k8s_gomod = Path(info["GoMod"]).read_text()
    staging = staging_modules(k8s_gomod)
    log(f"k8s.io/kubernetes {K8S_VERSION}: {len(staging)} staging modules -> {K8S_STAGING_VERSION}")
    replaces = "\n".join(f"\t{m} => {m} {K8S_STAGING_VERSION}" for m in staging)
    gomod = (f"module dbt.local/k8s-helper\n\n{_go_directives(k8s_gomod)}\n\n"
             f"require k8s.io/kubernetes {K8S_VERSION}\n\nreplace (\n{replaces}\n)\n")
    # import every command, built or not, so that the helper's go.mod is always the same
    pkgs = [f"k8s.io/kubernetes/cmd/{c}" for c in K8S_COMMANDS + OPTIONAL_K8S_COMMANDS]
    with tempfile.TemporaryDirectory(prefix="k8s-helper-", dir=workroot) as helper:
        _build(Path(helper), gomod, pkgs, _k8s_ldflags(info),
               {f"k8s.io/kubernetes/cmd/{c}": paths.dir / c for c in commands})


def _build_etcd(paths: BinPaths, workroot: Path) -> None:
    info = _module_info(ETCD_MODULE, ETCD_VERSION)
    gomod = (f"module dbt.local/etcd-helper\n\n{_go_directives(Path(info['GoMod']).read_text())}\n\n"
             f"require {ETCD_MODULE} {ETCD_VERSION}\n")
    gomod = re.sub(r"^toolchain .*$", "", gomod, flags=re.M)
    with tempfile.TemporaryDirectory(prefix="etcd-helper-", dir=workroot) as helper:
        _build(Path(helper), gomod, [ETCD_MODULE], "-s -w", {ETCD_MODULE: paths.etcd})


def wanted_commands(controller_manager: bool = False, node: bool = False) -> tuple[str, ...]:
    """The Kubernetes commands to build for these options (each once, in a stable order)."""
    extra = (CONTROLLER_MANAGER_COMMANDS if controller_manager else ()) + (NODE_COMMANDS if node else ())
    return K8S_COMMANDS + tuple(c for c in OPTIONAL_K8S_COMMANDS if c in extra)


def ensure_binaries(controller_manager: bool = False, node: bool = False) -> BinPaths:
    """Return the cached binaries, building the missing ones first (minutes when cold).

    ``node``: also kubelet, kube-scheduler and kube-controller-manager (hack/node.py).
    """
    paths = bin_paths()
    wanted = wanted_commands(controller_manager, node)
    if paths.etcd.exists() and all((paths.dir / c).exists() for c in wanted):
        return paths
    with _file_lock(paths.dir.parent / f"{paths.dir.name}.lock"):
        missing_k8s = [c for c in wanted if not (paths.dir / c).exists()]
        build_etcd = not paths.etcd.exists()
        started = time.monotonic()
        # leftovers of a killed build (helper modules, half-written binaries): the lock says
        # no other build of this key is running
        workroot = cache_root() / "tmp" / paths.dir.name
        shutil.rmtree(workroot, ignore_errors=True)
        for stale in paths.dir.glob(".build-*"):
            shutil.rmtree(stale, ignore_errors=True)
        workroot.mkdir(parents=True, exist_ok=True)
        if missing_k8s:
            _build_kubernetes(paths, missing_k8s, workroot)
        if build_etcd:
            _build_etcd(paths, workroot)
        if missing_k8s or build_etcd:
            log(f"binaries ready in {paths.dir} after {time.monotonic() - started:.0f}s")
    return paths
