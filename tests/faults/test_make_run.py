"""`make run` (hack/run.py) stops everything it started: on Ctrl-C, and on SIGTERM, which
`kill`, `timeout` and process managers send. It starts a local control plane and a local
PostgreSQL when nothing is configured; both must be gone once it has exited, whichever signal
stopped it. (Seen this session: a SIGTERMed `make run` left its PostgreSQL running.)"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.common import children
from hack.controlplane_build import cache_root

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
READY_S = 180  # the control plane and PostgreSQL start, the operator watches (binaries cached)


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    found, todo = set(), [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def data_parents(pids: set[int]) -> list[Path]:
    """The folders holding the data directory (``-D``) of the PostgreSQL servers among
    ``pids``: LocalPostgres's throwaway folders."""
    found = set()
    for pid in pids:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-D" in args[:-1]:
            found.add(Path(args[args.index(b"-D") + 1].decode()).parent)
    return sorted(found)


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_make_run_stops_what_it_started(tmp_path: Path, signum: int) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("KUBECONFIG", "DATABASE_URL") and not k.startswith("PG")}
    # no kube context and no database: the embedded defaults (binaries from the usual cache)
    env.update(HOME=str(tmp_path), DBT_CACHE_DIR=str(cache_root()), WATCH_NAMESPACE="default")
    proc = subprocess.Popen([sys.executable, "-m", "hack.run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout or []), daemon=True)
    reader.start()
    started: set[int] = set()
    folders: list[Path] = []
    try:
        deadline = time.monotonic() + READY_S
        while not any("Starting the watch-stream for databasetables" in line for line in output):
            assert proc.poll() is None, "make run ended early:\n" + "".join(output)
            assert time.monotonic() < deadline, "make run not ready:\n" + "".join(output)
            time.sleep(0.2)
        text = "".join(output)
        workdir = Path(re.search(r"export KUBECONFIG=(\S+)", text)[1]).parent
        pg_port = int(re.search(r"psql -h \S+ -p (\d+)", text)[1])
        started = descendants(proc.pid)
        assert workdir.is_dir() and listening(pg_port)

        folders = [workdir, *data_parents(started)]

        proc.send_signal(signum)
        code = proc.wait(timeout=90)

        assert not listening(pg_port), f"PostgreSQL still listens on {pg_port}"
        assert [p for p in started if alive(p)] == [], "processes left running"
        assert [f for f in folders if f.exists()] == [], "folders left behind"
        assert code == 0, "".join(output)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in started:  # what a failure left behind, stopped by pid
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
