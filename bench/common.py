"""Small helpers shared by the benchmark scripts: statistics, tables, specs, /proc readings,
the database a benchmark runs against."""
from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import yaml

from hack.crd_wait import wait_established

ROOT = Path(__file__).resolve().parents[1]
SERVICE_ACCOUNT = "database-table-operator"  # service-account.yaml's

# A realistic mix of column types (each accepted by the type grammar).
COLUMN_TYPES = ("integer", "varchar(50)", "text", "timestamp with time zone", "numeric(10,2)",
                "boolean", "bigint", "date", "jsonb", "uuid", "double precision", "text[]")


@contextlib.contextmanager
def log_dir(prefix: str, keep: bool, shown: str = "") -> Iterator[Path]:
    """A temporary folder for a benchmark's logs, removed afterwards unless ``keep``: then its
    path (joined with ``shown``, e.g. one log's name) is printed."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            print(f"logs: {path / shown if shown else path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def seed_spec() -> dict[str, Any]:
    """The spec of example-cr.yaml (the seed example)."""
    return yaml.safe_load((ROOT / "example-cr.yaml").read_text(encoding="utf-8"))["spec"]


def wide_spec(columns: int, table: str = "WIDE") -> dict[str, Any]:
    """A spec with ``columns`` columns (ID first, then C00001...), types cycling the mix."""
    names = ["ID"] + [f"C{n:05}" for n in range(1, columns)]
    types = ["bigint"] + [COLUMN_TYPES[n % len(COLUMN_TYPES)] for n in range(1, columns)]
    return {"tableName": table, "columns": [{n: t} for n, t in zip(names, types)],
            "primaryKey": "ID"}


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples: Sequence[float]) -> tuple[float, float]:
    """(median, p95) of ``samples``."""
    return statistics.median(samples), percentile(samples, 95)


def repeat(fn: Callable[[], Any], budget_s: float, min_n: int = 20,
           max_n: int = 5000) -> list[float]:
    """Time ``fn`` with perf_counter: as many runs as fit in ``budget_s`` (min_n..max_n)."""
    fn()  # warm-up (imports, caches), not counted
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < max_n and (len(samples) < min_n or time.perf_counter() < deadline):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def fmt_time(seconds: float) -> str:
    """Seconds in the unit that keeps 3-4 significant digits readable."""
    if seconds == 0:
        return "0"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (first column left-aligned, the rest right-aligned)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def machine() -> str:
    """One line about the machine and its load, printed with every set of figures."""
    cpus = os.cpu_count()
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpus} CPUs, {mem_kib / 2**20:.0f} GiB RAM, load average {load}, "
            f"Python {platform.python_version()}")


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct children of a process (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


@contextlib.contextmanager
def operator_database() -> Iterator[str]:
    """The URL of a fresh least-privileged role owning a fresh database, after printing the
    server's version and ``machine()``: on the server ``DBT_BENCH_DATABASE_URL`` names (a role
    that may create roles and databases; both are dropped after), else on a throwaway local
    server (stopped after)."""
    from psycopg2 import sql

    from tests.support.postgres import ExternalPostgres, create_operator_database

    admin_url = os.environ.get("DBT_BENCH_DATABASE_URL")
    if not admin_url:
        from hack.postgres import LocalPostgres

        with LocalPostgres() as local:
            db = create_operator_database(local, prefix="bench")
            _print_server(local, f"local throwaway server ({local.pg_bin}, fsync off)")
            yield db["url"]
        return
    server = ExternalPostgres(admin_url)
    db = create_operator_database(server, prefix="bench")
    try:
        _print_server(server, f"DBT_BENCH_DATABASE_URL ({server.host}:{server.port})")
        yield db["url"]
    finally:
        with contextlib.suppress(Exception):  # best effort: the figures are already printed
            server.execute_as_superuser(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                sql.Identifier(db["dbname"])))
            server.execute_as_superuser(sql.SQL("DROP ROLE {}").format(
                sql.Identifier(db["user"])))


def _print_server(server: Any, where: str) -> None:
    version = server.execute_as_superuser("SHOW server_version")[0][0]
    print(f"Real PostgreSQL {version}: {where}\n{machine()}\n", flush=True)


@dataclass(frozen=True)
class Site:
    """What the operator needs to run: a database, an API server with the CRD, a namespace of
    its own with the ServiceAccount's RBAC, and a kubeconfig holding that account's token."""

    database_url: str
    cp: Any  # hack.controlplane.ControlPlane
    namespace: str
    kubeconfig: Path


def operator_site(stack: contextlib.ExitStack, workdir: Path) -> Site:
    """A throwaway PostgreSQL and local control plane, stopped by ``stack``."""
    from hack.controlplane import ControlPlane
    from hack.postgres import LocalPostgres
    from tests.support.k8s import namespaced_rbac
    from tests.support.postgres import create_operator_database

    pg = LocalPostgres()
    pg.start()
    stack.callback(pg.stop)
    db = create_operator_database(pg, prefix="bench")
    cp = ControlPlane()
    stack.callback(cp.stop)
    cp.start()
    cp.kubectl_run("apply", "-f", str(ROOT / "crd.yaml"))
    wait_established(cp.kubectl_run)
    namespace = f"bench-{secrets.token_hex(4)}"
    cp.kubectl_run("create", "namespace", namespace)
    cp.kubectl_run("apply", "-f", "-", input=namespaced_rbac(namespace))
    token = cp.create_token(namespace, SERVICE_ACCOUNT)
    kubeconfig = cp.write_token_kubeconfig(workdir / "operator.kubeconfig", token, namespace)
    return Site(db["url"], cp, namespace, kubeconfig)
