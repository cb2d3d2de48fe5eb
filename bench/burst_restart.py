"""bench_burst's restart scenario: N resources in place and Ready, the operator restarted.

What a restart costs when nothing changed: the DDL statements the operator runs (from
pg_stat_statements, reset just before the restart), the PATCHes and Events it sends (from
the API server's /metrics), and the time until every resource was checked: until Kopf logged
the outcome of each resource's resume handler (``[ns/name] Resuming is processed`` or
``Handler 'reconcile' succeeded``), timed by a thread tailing the log.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from bench.burst_api import Metrics
from bench.burst_procs import LogTail, cpu_seconds, start_operator
from bench.burst_report import DATABASETABLES, EVENTS, mib, rss
from bench.burst_rows import (CONNECTIONS_S, SETTLE_S, Row, Sampler, Site, operator_row,
                              settle)
from bench.common import table

CHECKED = re.compile(r"\] \[(?P<ns>[^/\]\s]+)/(?P<name>[^\]\s]+)\] "
                     r"(?:Resuming is processed|Handler 'reconcile' succeeded)")
DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|COMMENT|GRANT|REVOKE|TRUNCATE)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Restart:
    count: int
    live: float
    checked: int
    all_checked: float | None
    statements: int
    ddl: list[tuple[str, int]]
    metrics: Metrics
    cpu: float | None
    rss: tuple[int | None, int | None, int | None]   # (-, settled, peak) in KiB
    connections: tuple[int, int]                     # to the API server: (peak, settled)


def statement_counts(site: Site, dbname: str) -> list[tuple[str, int]]:
    """(query, calls) that pg_stat_statements holds for ``dbname``."""
    rows = site.pg.execute_as_superuser(
        "SELECT s.query, s.calls FROM pg_stat_statements s JOIN pg_database d "
        "ON d.oid = s.dbid WHERE d.datname = %s", params=(dbname,))
    return [(str(q), int(c)) for q, c in rows]


def run_restart(site: Site, count: int, threads: int, workers: int, timeout: float,
                extra_env: dict[str, str] | None = None) -> tuple[Any, Restart]:
    """Create ``count`` and wait for Ready, stop the operator, restart it and measure."""
    row, operator, env, dbname = operator_row(site, count, threads, workers, timeout,
                                              keep=True, extra_env=extra_env)
    assert operator is not None
    operator.stop()
    site.pg.execute_as_superuser("SELECT pg_stat_statements_reset()")
    before = Metrics.read(site.api)
    log = site.workdir / f"{env['WATCH_NAMESPACE']}-restart.log"
    log.touch()
    tail = LogTail(log, CHECKED)
    tail.start()
    started = time.monotonic()
    restarted = start_operator(site.checkout, env, log)
    try:
        live = restarted.wait_live()
        pid = restarted.python_pid()
        samples = Row("restart", count)
        sampler = Sampler(pid, samples, site.cp.port)
        sampler.phase = "restart"
        sampler.start()
        deadline = time.monotonic() + timeout
        while len(checked_names(tail)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        names = checked_names(tail)
        time.sleep(SETTLE_S)
        settle(pid)
        sampler.phase = "after"
        time.sleep(2 * CONNECTIONS_S)
        sampler.stop()
        metrics = Metrics.read(site.api) - before
        cpu = cpu_seconds(pid)
    finally:
        restarted.stop()
        tail.stop()
    counts = statement_counts(site, dbname)
    result = Restart(
        count=count, live=live, checked=len(names),
        all_checked=(max(names.values()) - started) if len(names) >= count else None,
        statements=sum(c for _, c in counts),
        ddl=[(q, c) for q, c in counts if DDL.match(q)], metrics=metrics, cpu=cpu,
        rss=rss(samples), connections=(max(max(v) for v in samples.connections.values()),
                                       samples.connections["after"][-1]))
    return row, result


def checked_names(tail: LogTail) -> dict[str, float]:
    """First time each resource's check was logged."""
    first: dict[str, float] = {}
    for at, line in list(tail.lines):
        match = CHECKED.search(line)
        if match:
            first.setdefault(match["name"], at)
    return first


def restart_table(r: Restart) -> str:
    m = r.metrics
    rows = [
        ("operator live (/healthz) after start", f"{r.live:.1f} s"),
        ("every resource checked, from start", f"{r.all_checked:.1f} s" if r.all_checked
         is not None else f"no: {r.checked} of {r.count} checks seen in the log"),
        ("DDL statements", str(sum(c for _, c in r.ddl))),
        ("SQL statements in all", str(r.statements)),
        ("status PATCHes", str(m.count(["PATCH"], DATABASETABLES, "status"))),
        ("object PATCHes", str(m.count(["PATCH"], DATABASETABLES))),
        ("Events posted", str(m.writes(EVENTS))),
        ("operator CPU from start until settled", f"{r.cpu:.1f} s" if r.cpu is not None
         else "-"),
        ("operator RSS settled (peak)", f"{mib(r.rss[1])} ({mib(r.rss[2])})"),
        ("TCP connections to the API server settled (peak)",
         f"{r.connections[1]} ({r.connections[0]})"),
    ]
    return table((f"restart with {r.count} resources in place", "figure"), rows)
