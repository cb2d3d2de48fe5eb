"""Benchmark the whole operator: N resources at once, then an update of all of them.

    .venv/bin/python -m bench.bench_operator [--count 100] [--workers 4]

Starts a local control plane (hack/controlplane.py: etcd + kube-apiserver), a local PostgreSQL
(hack/postgres.py) with a fresh unprivileged role and database, and the operator as the
container runs it: the Dockerfile's CMD through ``sh -c``, with WATCH_NAMESPACE set to a fresh
namespace, the ServiceAccount's token in its kubeconfig (RBAC from service-account.yaml) and
DBT_WORKERS=--workers. Then:

  1. idle: the operator's RSS for a few seconds before any resource exists;
  2. create: one ``kubectl apply`` of --count resources (the seed's columns); time until every
     one is Ready=True for its generation (polling ``kubectl get databasetables -o json``);
  3. update: one ``kubectl apply`` that adds a column to every resource; time until all are
     Ready again for the new generation;
  4. after: RSS a few seconds after the load.

RSS is VmRSS from /proc/<pid>/status, sampled every 0.2 s, for the operator's Python process
and, for context, etcd and kube-apiserver. Everything started is stopped in finally blocks.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg2
import yaml

from bench.burst_procs import Process, cpu_seconds, free_port, operator_command
from bench.common import (ROOT, fmt_time, log_dir, machine, operator_site, rss_kib, seed_spec,
                          table)

IDLE_SECONDS = 5.0
SAMPLE_INTERVAL = 0.2
POLL_INTERVAL = 0.5


class Operator(Process):
    """The operator as the container runs it: ``sh -c "$CMD"`` in its own process group, with
    this project's virtualenv on PATH, from ROOT (bench_steps points ROOT at another checkout)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        port = free_port()
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        super().__init__(operator_command(ROOT, port), ROOT, {**env, "PATH": path}, log_path,
                         port)


class Sampler(threading.Thread):
    """Samples VmRSS of named processes; each sample is tagged with the current phase."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.phase = "idle"
        self.samples: dict[tuple[str, str], list[int]] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for name, pid in self.pids.items():
                kib = rss_kib(pid)
                if kib is not None:
                    self.samples.setdefault((name, self.phase), []).append(kib)
            self._halt.wait(SAMPLE_INTERVAL)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def manifest(count: int, extra_column: bool) -> str:
    spec = seed_spec()
    if extra_column:
        spec["columns"] = spec["columns"] + [{"COUNTRY": "char(2)"}]
    return yaml.safe_dump_all([
        {"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
         "metadata": {"name": f"bench-{n:04}"},
         "spec": {**spec, "tableName": f"BENCH_{n:04}"}} for n in range(count)])


def apply_and_wait(cp: Any, namespace: str, text: str, count: int, generation: int,
                   timeout: float) -> tuple[float, float | None, float, dict[str, int]]:
    """``kubectl apply`` in the background while polling until ``count`` resources are
    Ready=True for ``generation`` (the poll starts with the apply, so "first Ready" is not
    held back by the apply).

    Returns seconds from the start of the apply: until the apply returned, until the first
    Ready, until all Ready; and the Ready reasons seen by the last poll."""
    started = time.monotonic()
    apply = subprocess.Popen([str(cp.kubectl), "--kubeconfig", str(cp.kubeconfig), "-n",
                              namespace, "apply", "-f", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=cp.env())
    feeder = threading.Thread(target=apply.communicate, args=(text,), daemon=True)
    feeder.start()
    applied: float | None = None
    first: float | None = None
    deadline = started + timeout
    try:
        while True:
            listing = json.loads(cp.kubectl_run("-n", namespace, "get", "databasetables",
                                                "-o", "json").stdout)
            now = time.monotonic()
            if applied is None and apply.poll() is not None:
                feeder.join()
                if apply.returncode != 0:
                    raise RuntimeError(f"kubectl apply failed: {apply.stderr}")
                applied = now - started
            ready, reasons = 0, {}
            for obj in listing["items"]:
                if obj["metadata"].get("generation") != generation:
                    key = "(old generation)"
                else:
                    condition = next((c for c in obj.get("status", {}).get("conditions", [])
                                      if c["type"] == "Ready"), None)
                    if condition is None or condition.get("observedGeneration") != generation:
                        key = "(not handled yet)"
                    else:
                        key = f"{condition['status']}/{condition['reason']}"
                        ready += condition["status"] == "True"
                reasons[key] = reasons.get(key, 0) + 1
            if ready and first is None:
                first = now - started
            if ready == count and applied is not None:
                return applied, first, now - started, reasons
            if now > deadline:
                raise TimeoutError(f"only {ready} of {count} resources Ready after "
                                   f"{timeout:.0f} s: {reasons}")
            time.sleep(POLL_INTERVAL)
    finally:
        if apply.poll() is None:
            apply.kill()
            apply.wait()


def run(args: argparse.Namespace, workdir: Path) -> None:
    count, workers = args.count, args.workers
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        site = operator_site(stack, workdir)
        cp, namespace = site.cp, site.namespace
        setup = time.monotonic() - started

        operator = Operator({"KUBECONFIG": str(site.kubeconfig), "DATABASE_URL": site.database_url,
                             "WATCH_NAMESPACE": namespace, "DBT_WORKERS": str(workers)},
                            workdir / "operator.log")
        stack.callback(operator.stop)
        boot = time.monotonic()
        operator.wait_live()
        pid = operator.python_pid()
        live = time.monotonic() - boot
        how = ("the sh -c itself, exec'd into python by the CMD's `exec`"
               if pid == operator.process.pid else "the child of the sh -c")

        sampler = Sampler({"operator (python)": pid, **cp.pids()})
        sampler.start()
        stack.callback(sampler.stop)
        cpu0 = cpu_seconds(pid) or 0.0
        time.sleep(IDLE_SECONDS)
        cpu_idle = (cpu_seconds(pid) or 0.0) - cpu0

        timeout = max(120.0, count * 3.0)
        phases: list[tuple[str, float, float, float | None, float, dict[str, int]]] = []
        for phase, generation, extra in (("create", 1, False), ("update", 2, True)):
            sampler.phase = phase
            cpu0 = cpu_seconds(pid) or 0.0
            applied, first, total, reasons = apply_and_wait(
                cp, namespace, manifest(count, extra), count, generation, timeout)
            phases.append((phase, applied, total, first, (cpu_seconds(pid) or 0.0) - cpu0,
                           reasons))
        sampler.phase = "after"
        time.sleep(IDLE_SECONDS)
        sampler.stop()

        conn = psycopg2.connect(site.database_url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("SELECT count(*), count(*) FILTER (WHERE a.attname = 'country') "
                            "FROM pg_tables t LEFT JOIN pg_attribute a "
                            "ON a.attrelid = format('%I.%I', t.schemaname, t.tablename)"
                            "::regclass AND a.attname = 'country' "
                            "WHERE t.schemaname = 'public'")
                tables, with_country = cur.fetchone()
        finally:
            conn.close()
        log_text = operator.log_path.read_text(errors="replace")
        errors = [line.split("] ", 2)[-1][:150] for line in log_text.splitlines()
                  if "[ERROR" in line]

    # -- report ------------------------------------------------------------------------------
    print(f"Whole operator, {count} resources, DBT_WORKERS={workers}; {machine()}")
    print(f"setup (PostgreSQL + control plane + namespace) {setup:.1f} s; operator live "
          f"(/healthz) {live:.1f} s after start; idle CPU {cpu_idle:.2f} s in "
          f"{IDLE_SECONDS:.0f} s\noperator pid {pid}: {how}\n")
    rows = []
    for phase, applied, total, first, cpu, reasons in phases:
        rows.append((f"{phase} ({'new' if phase == 'create' else 'add a column'})",
                     fmt_time(applied), fmt_time(first) if first is not None else "-",
                     fmt_time(total), fmt_time(max(0.0, total - applied)),
                     f"{count / total:.1f}/s", f"{cpu:.1f} s",
                     ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))))
    print(table(("phase", "apply returned", "first Ready", "all Ready", "all Ready - apply",
                 "throughput", "operator CPU", "final Ready"), rows))
    print(f"\n(seconds from the start of one `kubectl apply` of all {count} objects, which "
          f"sends requests one object at a time;\n polled every {POLL_INTERVAL} s, so Ready "
          "times are up to that late; throughput = count / all Ready)\n")
    names = ["operator (python)", "kube-apiserver", "etcd"]
    mem_rows = []
    for name in names:
        def cell(phase: str, fn: Any = max) -> str:
            values = sampler.samples.get((name, phase))
            return f"{fn(values) / 1024:.1f} MiB" if values else "-"
        during = [v for p in ("create", "update") for v in sampler.samples.get((name, p), [])]
        mem_rows.append((name, cell("idle", min), cell("idle"),
                         f"{max(during) / 1024:.1f} MiB" if during else "-",
                         cell("after", lambda v: v[-1])))
    print(table(("RSS (VmRSS)", "idle min", "idle max", "peak during load", "after"),
                mem_rows))
    print(f"\ncheck: {tables} tables in PostgreSQL ({with_country} with the added column), "
          f"{len(errors)} ERROR lines in the operator's log")
    for line in errors[:5]:
        print(f"  {line}")
    if tables != count or with_country != count:
        raise RuntimeError(f"expected {count} tables with the new column")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_operator",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100,
                        help="resources applied at once (default 100)")
    parser.add_argument("--workers", type=int, default=4,
                        help="DBT_WORKERS for the operator: handler threads and database "
                             "connections (default 4, the operator's default)")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the operator's log (its path is printed)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with log_dir("dbt-bench-", args.keep_logs, "operator.log") as workdir:
        run(args, workdir)
    print(f"total run time {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
