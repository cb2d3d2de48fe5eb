"""Where the local PostgreSQL server comes from (hack/postgres.py): the installation's
binaries and libraries, and the OS user the server runs as."""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

SUPERUSER = "postgres"


class LocalPostgresError(RuntimeError):
    """The local server could not be found, started or stopped."""


def find_pg_bin() -> Path:
    """Return the directory holding initdb, pg_ctl and postgres.

    pg_config is asked first because it names the installation a developer chose;
    but Debian's libpq-dev ships a pg_config that points at a bindir even when no
    server is installed, so every candidate is checked for the binaries we run.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], check=True, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    candidates.extend(
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for candidate in candidates:
        if all((candidate / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return candidate
    raise LocalPostgresError(
        "no PostgreSQL server binaries found (looked at pg_config --bindir, "
        "/usr/lib/postgresql/*/bin and PATH); install Debian's postgresql package"
    )


def _version_key(bindir: str) -> tuple[int, ...]:
    """Sort /usr/lib/postgresql/<version>/bin numerically, so 15 beats 9.6."""
    version = Path(bindir).parent.name
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def pkglibdir(pg_bin: Path) -> Path:
    """The server's library directory (pg_config --pkglibdir), next to its bin/ in Debian."""
    pg_config = pg_bin / "pg_config"
    if pg_config.exists():
        result = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True,
                                text=True)
        if result.returncode == 0 and result.stdout.strip():
            return Path(result.stdout.strip())
    return pg_bin.parent / "lib"


def server_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root, so root hands the server to the `postgres` user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise LocalPostgresError(
            "running as root, but there is no 'postgres' OS user to run the server as; "
            "install Debian's postgresql package or run as an unprivileged user"
        ) from None
