"""A throwaway local PostgreSQL server for tests and for developing the operator.

The operator's only external dependency besides Kubernetes is PostgreSQL, and the
interesting bugs live in what the server's catalog says after our DDL ran. So tests
run against a real server: a private cluster in a temporary directory, on a free
loopback port, with durability switched off because nothing in it is worth keeping.

    python -m hack.postgres up [--port P]

starts one, creates the demo identity the seed's Helm chart creates (user
``demouser``/``demopw``, database ``demodb``), prints the ``PG*`` variables for it and
keeps running until Ctrl-C or SIGTERM (hack/postgres_cli.py).

This module runs the server (create, start, pause, resume, stop); where its binaries come from
is hack/postgres_install.py, connecting to it as the superuser hack/postgres_access.py, its
files (working directory, initdb, configuration, commands as the server user)
hack/postgres_cluster.py.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import psycopg2

from hack.postgres_access import SuperuserAccess
from hack.postgres_cluster import ClusterFiles
from hack.postgres_install import LocalPostgresError, find_pg_bin, server_user

READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30
_LOG_TAIL_LINES = 40


def _free_port() -> int:
    """Ask the kernel for a free loopback port; racy, hence the retry in start()."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalPostgres(SuperuserAccess, ClusterFiles):
    """A private PostgreSQL cluster that lives as long as this object is started.

    Use it as a context manager. It is also stopped at interpreter exit, so a test
    session that dies half-way does not leave a postmaster behind.
    """

    host = "127.0.0.1"

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        self.pg_bin: Path = find_pg_bin()
        self._requested_workdir = Path(workdir).absolute() if workdir is not None else None
        self._requested_port = port
        self.port: int = port or 0
        self.workdir: Path | None = None
        self._owns_workdir = False
        self._password = secrets.token_urlsafe(24)
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as = server_user()
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        return self._workdir() / "postgres.log"

    def start(self) -> None:
        """Create the cluster, start the postmaster and wait until it takes logins."""
        with self._lock:
            if self._process is not None:
                raise LocalPostgresError("this LocalPostgres is already started")
            atexit.register(self.stop)
            try:
                self._prepare_workdir()
                self._initdb()
                self._start_postmaster()
            except BaseException:
                self._stop_locked()
                raise

    def stop(self) -> None:
        """Stop the server (fast shutdown, then kill) and remove what we created.

        Safe to call more than once and on a half-started server.
        """
        with self._lock:
            self._stop_locked()

    def pause(self) -> None:
        """Shut the server down (fast: clients are disconnected) but keep its data and port.

        For tests of a database outage: resume() starts the same cluster again on the same
        port, and stop() still removes everything.
        """
        with self._lock:
            if self._process is None:
                raise LocalPostgresError("this LocalPostgres is not running")
            self._shutdown_postmaster()

    def resume(self) -> None:
        """Start a paused server again: same data directory, same port; wait for logins."""
        with self._lock:
            if self._process is not None:
                raise LocalPostgresError("this LocalPostgres is already running")
            if self.workdir is None or not self.datadir.exists():
                raise LocalPostgresError("nothing to resume: call start() first")
            try:
                self._start_postmaster(port=self.port)
            except BaseException:
                self._shutdown_postmaster()
                raise

    def _stop_locked(self) -> None:
        atexit.unregister(self.stop)
        self._shutdown_postmaster()
        if self._owns_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
            self._owns_workdir = False

    def _shutdown_postmaster(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._run(
                    [
                        str(self.pg_bin / "pg_ctl"),
                        "stop",
                        "-D",
                        str(self.datadir),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        str(STOP_TIMEOUT_SECONDS),
                    ],
                    timeout=STOP_TIMEOUT_SECONDS + 5,
                )
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # Kill the whole session: the postmaster and any backends it forked.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def _start_postmaster(self, port: int | None = None) -> None:
        port = port or self._requested_port
        attempts = 1 if port else 3
        for attempt in range(attempts):
            self.port = port or _free_port()
            self._write_config(self.port)
            with open(self.log_path, "ab") as log:
                self._chown(self.log_path)
                self._process = subprocess.Popen(
                    [str(self.pg_bin / "postgres"), "-D", str(self.datadir)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self._workdir(),
                    # Own session: a Ctrl-C meant for the test runner must not reach the
                    # postmaster; stop() shuts it down in order instead.
                    start_new_session=True,
                    **self._user_kwargs(),
                )
            try:
                self._wait_until_ready()
                return
            except LocalPostgresError:
                lost_port_race = "could not bind" in self._log_tail() or "already in use" in self._log_tail()
                if not lost_port_race or attempt == attempts - 1:
                    raise
                process, self._process = self._process, None
                if process is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise LocalPostgresError(
                    f"postgres exited during startup; log tail:\n{self._log_tail()}"
                )
            try:
                # A real password login over TCP proves listen_addresses, the port and
                # scram authentication all work, not just that the process is alive.
                psycopg2.connect(self.superuser_dsn, connect_timeout=2).close()
                return
            except psycopg2.OperationalError as error:
                last_error = error
                time.sleep(0.05)
        raise LocalPostgresError(
            f"postgres did not accept connections within {READY_TIMEOUT_SECONDS:.0f} s "
            f"({last_error}); log tail:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except (OSError, LocalPostgresError):
            return "(no server log)"
        return "\n".join(lines[-_LOG_TAIL_LINES:])


if __name__ == "__main__":
    from hack.postgres_cli import main

    sys.exit(main())
