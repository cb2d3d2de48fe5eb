"""bench_burst's floor: what any operator with a finalizer and a status must do, and no more.

The work is done by bench/floor_worker.py in a process of its own (its CPU and RSS are shown
in the operator columns); the creates, the Ready watch and the figures are the same as for the
other rows.
"""
from __future__ import annotations

import os
import subprocess
import sys

from bench.burst_api import ReadyWatch
from bench.burst_rows import Row, Site, burst, measured, new_namespace
from bench.common import ROOT
from tests.support.postgres import create_operator_database


def floor_row(site: Site, count: int, threads: int, timeout: float) -> Row:
    row = Row("floor (no operator)", count)
    namespace, _ = new_namespace(site, "burst-floor")
    db = create_operator_database(site.pg, prefix="burst")
    cp = site.cp
    errors = (site.workdir / f"{namespace}.log").open("w+")
    worker = subprocess.Popen(
        [sys.executable, "-m", "bench.floor_worker", "--port", str(cp.port),
         "--ca", str(cp.ca_file), "--cert", str(cp.pki / "admin.crt"),
         "--key", str(cp.pki / "admin.key"), "--namespace", namespace,
         "--threads", str(threads)],
        cwd=ROOT, env={**os.environ, "DBT_FLOOR_DATABASE_URL": db["url"]},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        assert worker.stdout is not None and worker.stdin is not None
        if worker.stdout.readline().strip() != "watching":
            raise RuntimeError(f"the floor's worker did not start (exit {worker.poll()})")
        watch = ReadyWatch(site.api, namespace).start_and_wait()
        try:
            with measured(site, row, worker.pid):
                burst(site, row, namespace, threads, timeout, lambda: watch.ready_at)
            row.watch_ends, row.finalized = watch.ends, dict(watch.finalized_at)
        finally:
            watch.stop()
    finally:
        if worker.stdin:
            worker.stdin.close()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        errors.seek(0)
        row.errors = [line for line in errors.read().splitlines() if "ERROR" in line
                      or "Traceback" in line]
        errors.close()
    return row
