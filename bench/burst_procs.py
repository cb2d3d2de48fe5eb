"""Processes for bench_burst: the operator of a checkout, the seed-style toy and its virtualenv.

Each runs in its own process group (stopped with SIGTERM, then SIGKILL) and logs to a file that
a tail thread reads, stamping each line with the monotonic time it appeared.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench.common import ROOT, children

CACHE = Path.home() / ".cache" / "database-table-operator"
SEED_PACKAGES = ("kopf", "kubernetes", "psycopg2-binary")  # the seed's `requirements`


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stat_fields(stat: Path) -> list[str] | None:
    """The fields of a /proc/<pid>/stat after the command name (the first is the state, the
    second the parent's pid, the 12th and 13th utime and stime, then cutime and cstime)."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):  # gone meanwhile
        return None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU of a forking server: its own, its reaped children's (cutime + cstime) and its live
    children's. For PostgreSQL: the postmaster and every backend, ended ones included."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    if fields is None:
        return None
    total = sum(int(f) for f in fields[11:15])
    for stat in Path("/proc").glob("[0-9]*/stat"):
        child = _stat_fields(stat)
        if child is not None and int(child[1]) == pid:
            total += int(child[11]) + int(child[12])
    return total / os.sysconf("SC_CLK_TCK")


def api_connections(pid: int, port: int) -> int:
    """Sockets of ``pid`` connected to 127.0.0.1:``port`` (from /proc: fd inodes matched
    against the TCP table)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == port and fields[9] in inodes:
            found += 1
    return found


def operator_command(checkout: Path, liveness_port: int) -> str:
    """The checkout's Dockerfile CMD (shell form), pointed at the checkout instead of /src."""
    for line in (checkout / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            return (line[len("CMD "):].replace("/src/", f"{checkout}/")
                    .replace("0.0.0.0:8080", f"127.0.0.1:{liveness_port}"))
    raise RuntimeError(f"{checkout}/Dockerfile has no CMD line")


def seed_pins(checkout: Path = ROOT) -> list[str]:
    """The seed's three packages at the versions this project pins."""
    pins = {}
    for path in ("requirements.txt", "requirements-test.txt"):
        for line in (checkout / path).read_text().splitlines():
            name, sep, version = line.split("#")[0].strip().partition("==")
            if sep and name.lower() in SEED_PACKAGES:
                pins.setdefault(name.lower(), f"{name}=={version}")
    missing = set(SEED_PACKAGES) - set(pins)
    if missing:
        raise RuntimeError(f"the requirements pin none of {sorted(missing)}")
    return [pins[p] for p in SEED_PACKAGES]


def ensure_runtime_venv(checkout: Path) -> Path:
    """A virtualenv with only the checkout's requirements.txt, as its image has, made once per
    requirements and reused; returns its bin directory. (The project's own virtualenv also
    holds test packages that Kopf imports when present: pykube-ng, the kubernetes client.)"""
    requirements = checkout / "requirements.txt"
    pins = image_requirements(requirements.read_text(), (checkout / "Dockerfile").read_text())
    listed = CACHE / f"image-requirements-{hashlib.sha256(pins.encode()).hexdigest()[:12]}.txt"
    listed.parent.mkdir(parents=True, exist_ok=True)
    listed.write_text(pins)
    return cached_venv("runtime", pins, ["-r", str(listed)],
                       f"the operator's runtime ({requirements}, as its image installs it)")


def image_requirements(requirements: str, dockerfile: str) -> str:
    """requirements.txt as the checkout's Dockerfile installs it: without the kubernetes
    client where the Dockerfile leaves it out (Kopf imports it whenever it is installed)."""
    if "grep -v '^kubernetes=='" not in dockerfile:
        return requirements
    return "".join(line for line in requirements.splitlines(keepends=True)
                   if not line.startswith("kubernetes=="))


def ensure_seed_venv() -> Path:
    """A virtualenv with only the seed's packages, made once and reused (keyed by the pins);
    returns its bin directory."""
    pins = seed_pins()
    return cached_venv("seed", "\n".join(pins), pins,
                       f"the seed-style operator's ({', '.join(pins)})")


def cached_venv(kind: str, key: str, install: list[str], what: str) -> Path:
    """A virtualenv under the cache, made once per ``key`` with ``pip install *install``;
    its bin directory."""
    digest = hashlib.sha256(f"{sys.version}\n{key}".encode()).hexdigest()[:12]
    venv = CACHE / f"{kind}-venv-{digest}"
    done = venv / ".complete"
    if not done.exists():
        print(f"making {what} virtualenv {venv}", flush=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                        "--disable-pip-version-check", *install], check=True)
        done.write_text(key + "\n")
    return venv / "bin"


class LogTail(threading.Thread):
    """Reads a growing log file; keeps (monotonic time, line) of the lines matching ``keep``."""

    def __init__(self, path: Path, keep: re.Pattern[str]) -> None:
        super().__init__(daemon=True)
        self.path, self.keep = path, keep
        self.lines: list[tuple[float, str]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        with self.path.open("r", errors="replace") as f:
            partial = ""
            while True:
                chunk = f.read()
                now = time.monotonic()
                if chunk:
                    partial += chunk
                    *complete, partial = partial.split("\n")
                    self.lines += [(now, line) for line in complete if self.keep.search(line)]
                elif self._halt.is_set():
                    return
                else:
                    self._halt.wait(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


class Process:
    """``sh -c command`` in its own process group, output to ``log_path``."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str], log_path: Path,
                 liveness_port: int) -> None:
        self.log_path, self.liveness_port = log_path, liveness_port
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(["sh", "-c", command], cwd=cwd,
                                        env={**os.environ, **env}, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def python_pid(self) -> int:
        """The Python process: the sh -c itself once it exec'd, else the shell's child."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self._check_running()
            for pid in [self.process.pid] + children(self.process.pid):
                with contextlib.suppress(OSError):
                    if "python" in os.path.basename(os.readlink(f"/proc/{pid}/exe")):
                        return pid
            time.sleep(0.05)
        raise RuntimeError("found no python process under the sh -c")

    def wait_live(self, timeout: float = 120) -> float:
        """Wait for Kopf's /healthz; returns the seconds it took."""
        started = time.monotonic()
        url = f"http://127.0.0.1:{self.liveness_port}/healthz"
        while time.monotonic() < started + timeout:
            self._check_running()
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"/healthz did not answer in {timeout:.0f} s:\n{self.log_tail()}")

    def _check_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"the process exited ({self.process.returncode}):\n"
                               f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def error_lines(self) -> list[str]:
        return [line for line in self.log_path.read_text(errors="replace").splitlines()
                if "[ERROR" in line or "Traceback" in line]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def start_operator(checkout: Path, env: dict[str, str], log_path: Path) -> Process:
    """The checkout's operator as its container runs it, from a virtualenv of its
    requirements.txt alone (as in its image)."""
    port = free_port()
    path = f"{ensure_runtime_venv(checkout)}{os.pathsep}{os.environ['PATH']}"
    return Process(operator_command(checkout, port), checkout, {**env, "PATH": path}, log_path,
                   port)


def start_seed(bin_dir: Path, namespace: str, env: dict[str, str], log_path: Path) -> Process:
    """The seed-style toy as the seed's Dockerfile runs it (kopf run --namespace=...)."""
    port = free_port()
    command = (f"exec {bin_dir / 'kopf'} run --namespace={namespace} "
               f"--liveness=http://127.0.0.1:{port}/healthz {ROOT / 'bench' / 'seed_operator.py'}")
    return Process(command, ROOT, env, log_path, port)
