"""The local PostgreSQL server's files (hack/postgres.py): its working directory, initdb, its
configuration, and running commands as the server user.

Apart from the process lifecycle (start, pause, resume, stop) because it is what exists on disk
before a postmaster runs. ``LocalPostgres`` inherits it, like its connecting half
(hack/postgres_access.py).
"""
from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hack.postgres_install import SUPERUSER, LocalPostgresError, pkglibdir

# Linux limits a unix socket path to 107 bytes; the socket file adds ".s.PGSQL.NNNNN".
_MAX_SOCKET_DIR_LENGTH = 107 - len("/.s.PGSQL.65535")


class ClusterFiles:
    """LocalPostgres's on-disk half: needs ``pg_bin``, ``workdir``, ``_requested_workdir``,
    ``_owns_workdir``, ``_password`` and ``_run_as``; sets ``workdir`` and ``_owns_workdir``."""

    pg_bin: Path
    workdir: Path | None
    _requested_workdir: Path | None
    _owns_workdir: bool
    _password: str
    _run_as: pwd.struct_passwd | None

    @property
    def datadir(self) -> Path:
        return self._workdir() / "data"

    def _workdir(self) -> Path:
        if self.workdir is None:
            raise LocalPostgresError("the server has no working directory yet; call start() first")
        return self.workdir

    def _prepare_workdir(self) -> None:
        if self._requested_workdir is None:
            # /tmp is world-traversable, which the unprivileged server user needs when we
            # are root and create the directory on its behalf.
            self.workdir = Path(tempfile.mkdtemp(prefix="dbt-pg-", dir="/tmp"))
            self._owns_workdir = True
        else:
            self.workdir = self._requested_workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
            if self.datadir.exists():
                raise LocalPostgresError(
                    f"{self.datadir} already exists; pass an empty workdir or none at all"
                )
        if len(str(self.workdir)) > _MAX_SOCKET_DIR_LENGTH:
            raise LocalPostgresError(
                f"workdir path {self.workdir} is too long for a unix socket; use a shorter one"
            )
        if self._run_as is not None:
            os.chown(self.workdir, self._run_as.pw_uid, self._run_as.pw_gid)
            probe = self._run(["test", "-w", str(self.workdir), "-a", "-x", str(self.workdir)], check=False)
            if probe.returncode != 0:
                raise LocalPostgresError(
                    f"user {self._run_as.pw_name!r} cannot reach {self.workdir}; "
                    "every parent directory must be traversable (e.g. use a directory under /tmp)"
                )

    def _initdb(self) -> None:
        workdir = self._workdir()
        pwfile = workdir / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self._password + "\n")
        self._chown(pwfile)
        try:
            result = self._run(
                [
                    str(self.pg_bin / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    # Throwaway cluster: skipping the final fsync saves most of initdb's time.
                    "--no-sync",
                ],
                check=False,
                timeout=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise LocalPostgresError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def _write_config(self, port: int) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": _conf_string(str(self._workdir())),
            # Nothing here survives the test run, so durability is pure cost.
            "fsync": "off",
            "full_page_writes": "off",
            "synchronous_commit": "off",
            "logging_collector": "off",
        }
        # Lets tests count the statements a server ran (e.g. zero for hostile input).
        if (pkglibdir(self.pg_bin) / "pg_stat_statements.so").exists():
            settings["shared_preload_libraries"] = "'pg_stat_statements'"
            settings["pg_stat_statements.track"] = "all"
        # postgresql.auto.conf wins over postgresql.conf and is rewritten on each retry.
        lines = ["# written by hack/postgres.py"] + [f"{k} = {v}" for k, v in settings.items()]
        auto_conf = self.datadir / "postgresql.auto.conf"
        auto_conf.write_text("\n".join(lines) + "\n")
        self._chown(auto_conf)

    # -- running things as the server user --------------------------------------------

    def _user_kwargs(self) -> dict[str, Any]:
        if self._run_as is None:
            return {}
        return {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}

    def _run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir or "/",
            **self._user_kwargs(),
        )

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)


def _conf_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
