"""Benchmark the drift sweep against a real PostgreSQL: one sweep over N managed tables.

    .venv/bin/python -m bench.bench_drift [--tables 100,1000,5000] [--repeat 5]

The server is a throwaway local one (hack/postgres.py), or the one named by
``DBT_BENCH_DATABASE_URL`` (a role that may create roles and databases), in a fresh database
owned by a fresh unprivileged role, as the operator would run.

For each N (tables created with ``reconcile_table``, the seed's 5 columns, cumulatively):
  * the sweep (``dbtable.sweep.sweep_once``: the resources from an index, one bulk catalog read,
    the pure comparison): catalog queries per sweep, wall time (first sweep, which parses every
    spec, and the median of the following ones);
  * the PATCHes a sweep sends when nothing changed (counted by wrapping the sweep's one patch
    call, ``request_check``, in this script only), and when 10 tables lost a column;
  * for comparison, the design it replaced: one timer tick per resource, each a full
    ``reconcile_table(repair_only=True)`` transaction and a status PATCH; its queries and time
    per tick, measured on up to ``--sample`` resources and multiplied by N for a whole round.

With ``--operator N`` it also runs the whole operator as the container runs it (the local
control plane, the ServiceAccount's token) with ``DBT_DRIFT_INTERVAL_S=5``: N resources are
applied and made Ready, then the API server's own count of PATCH requests on databasetables
(``apiserver_request_total`` on ``/metrics``) is read before and after several sweeps (counted
from the operator's "Drift sweep:" log lines) in which nothing changed.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import kopf
from psycopg2 import sql

import dbtable.sweep as sweep_module
from bench.common import fmt_time, operator_database, seed_spec, table
from bench.counting import OneConnectionPool
from dbtable.database import DatabaseSettings
from dbtable.drift import ReadyCondition, Subject
from dbtable.model import Owner
from dbtable.reconcile import reconcile_table
from dbtable.spec import parse_spec

NAMESPACE = "bench"
LOG = logging.getLogger("bench-drift")


class Memo:
    def __init__(self, pool: OneConnectionPool, settings: DatabaseSettings) -> None:
        self.pool, self.database = pool, settings


def subject(n: int, uid: str) -> Subject:
    ready = ReadyCondition("True", "Reconciled", "Table is up to date (no changes needed)", 1)
    return Subject.of(NAMESPACE, f"t{n:05}", uid, 1,
                      {**seed_spec(), "tableName": f"T{n:05}"}, observed_generation=1,
                      ready=ready)


def grow(pool: OneConnectionPool, settings: DatabaseSettings, index: dict[str, list[Subject]],
         count: int) -> None:
    """Create tables until there are ``count``, each as the reconcile handler would."""
    while len(index) < count:
        n, uid = len(index), str(uuid.uuid4())
        made = subject(n, uid)
        reconcile_table(pool.conn, settings, parse_spec(made.spec),
                        Owner(NAMESPACE, made.name, uid))
        index[uid] = [made]


# The steps of one sweep (dbtable/sweep.py's check), timed by wrapping them.
STEPS = ("read_managed_tables", "resolve_all", "judge_all")


@contextlib.contextmanager
def timed_steps(spent: dict[str, float]) -> Iterator[None]:
    originals = {name: getattr(sweep_module, name) for name in STEPS}

    def wrap(name: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
        return timed

    for name, fn in originals.items():
        setattr(sweep_module, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(sweep_module, name, fn)


def sweep(index: dict[str, list[Subject]], memo: Memo, cache: sweep_module.SpecCache,
          settings: kopf.OperatorSettings) -> tuple[float, int, int, dict[str, float]]:
    """One full sweep: (seconds, catalog queries, PATCHes it sent, seconds per step)."""
    patches = [0]
    spent: dict[str, float] = {}

    async def count_patch(*_: Any, **__: Any) -> None:
        patches[0] += 1

    original = sweep_module.request_check
    sweep_module.request_check = count_patch  # the only call that writes to the API server
    try:
        memo.pool.take()
        start = time.perf_counter()
        with timed_steps(spent):
            asyncio.run(sweep_module.sweep_once(index, memo, settings, LOG,  # type: ignore
                                                cache, only_conflicts=False))
        return time.perf_counter() - start, memo.pool.take(), patches[0], spent
    finally:
        sweep_module.request_check = original


def old_ticks(pool: OneConnectionPool, settings: DatabaseSettings,
              index: dict[str, list[Subject]], sample: int) -> tuple[float, float]:
    """The replaced design: median seconds and queries of one resource's timer tick."""
    times, queries = [], []
    for uid, (made,) in list(index.items())[:sample]:
        pool.take()
        start = time.perf_counter()
        with pool.connection() as conn:
            outcome = reconcile_table(conn, settings, parse_spec(made.spec),
                                      Owner(NAMESPACE, made.name, uid), repair_only=True)
        times.append(time.perf_counter() - start)
        queries.append(pool.take())
        assert not outcome.statements, outcome.statements
    return statistics.median(times), statistics.median(queries)


def drop_columns(pool: OneConnectionPool, settings: DatabaseSettings, count: int) -> None:
    with pool.conn, pool.conn.cursor() as cur:
        for n in range(count):
            cur.execute(sql.SQL("ALTER TABLE {} DROP COLUMN last_login").format(
                sql.Identifier(settings.schema, f"t{n:05}")))


def run(url: str, sizes: list[int], repeat: int, sample: int) -> None:
    settings = DatabaseSettings(url=url)
    pool = OneConnectionPool(settings)
    memo = Memo(pool, settings)
    kopf_settings = kopf.OperatorSettings()
    index: dict[str, list[Subject]] = {}
    rows, old_rows, step_rows = [], [], []
    try:
        for size in sizes:
            start = time.perf_counter()
            grow(pool, settings, index, size)
            print(f"  {size} tables in place ({time.perf_counter() - start:.1f} s to create)",
                  flush=True)
            cache = sweep_module.SpecCache()
            first, queries, patches, _ = sweep(index, memo, cache, kopf_settings)
            assert patches == 0, f"{patches} PATCHes with nothing changed"
            later = [sweep(index, memo, cache, kopf_settings) for _ in range(repeat)]
            assert all(p == 0 for _, _, p, _ in later)
            step_rows.append([f"{size:,}"] + [
                fmt_time(statistics.median(s.get(name, 0.0) for _, _, _, s in later))
                for name in STEPS])
            tick, tick_queries = old_ticks(pool, settings, index, sample)
            rows.append((f"{size:,}", str(queries), fmt_time(first),
                         fmt_time(statistics.median(t for t, _, _, _ in later)),
                         str(max(p for _, _, p, _ in later)),
                         fmt_time(statistics.median(t for t, _, _, _ in later) / size)))
            old_rows.append((f"{size:,}", f"{tick_queries:g}", fmt_time(tick),
                             f"{tick_queries * size:,.0f}", fmt_time(tick * size), f"{size:,}",
                             f"{min(sample, size)}"))
        drop_columns(pool, settings, 10)
        _, queries, patches, _ = sweep(index, memo, sweep_module.SpecCache(), kopf_settings)
    finally:
        pool.conn.close()
    print()
    print(table(("managed tables", "queries/sweep", "first sweep", "later sweeps (median)",
                 "PATCHes (nothing changed)", "per table"), rows))
    print("\nWhere a later sweep's time goes (median)\n")
    print(table(("managed tables", "bulk catalog read", "type lookup", "pure comparison"),
                step_rows))
    print(f"\nAfter dropping a column from 10 of the {sizes[-1]:,} tables: one sweep made "
          f"{queries} queries and sent {patches} PATCHes (one drift request per drifted "
          "table; each drifted table's handler then writes its status).")
    print("\nThe design it replaced: a timer per resource, each tick a full reconcile "
          "transaction and a status PATCH")
    print(table(("managed tables", "queries/tick", "time/tick", "queries/round",
                 "time/round (est.)", "PATCHes/round", "ticks measured"), old_rows))
    print("\n(a round = every resource's tick once, i.e. one DBT_DRIFT_INTERVAL_S; its time is "
          "the median tick × N)")


def patch_count(cp: Any) -> int:
    """PATCH requests on databasetables (and their status) the API server has answered."""
    total = 0
    for line in cp.kubectl_run("get", "--raw", "/metrics").stdout.splitlines():
        if line.startswith("apiserver_request_total{") and 'resource="databasetables"' in line \
                and 'verb="PATCH"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def run_operator(count: int, sweeps: int) -> None:
    """The whole operator: PATCHes during ``sweeps`` drift sweeps over ``count`` resources."""
    import tempfile
    from pathlib import Path

    from bench.bench_operator import Operator, apply_and_wait, manifest
    from bench.common import operator_site
    from tests.support.k8s import wait_for

    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-drift-")))
        site = operator_site(stack, workdir)
        cp, namespace = site.cp, site.namespace
        operator = Operator({"KUBECONFIG": str(site.kubeconfig), "DATABASE_URL": site.database_url,
                             "WATCH_NAMESPACE": namespace, "DBT_DRIFT_INTERVAL_S": "5"},
                            workdir / "operator.log")
        stack.callback(operator.stop)
        operator.wait_live()
        apply_and_wait(cp, namespace, manifest(count, False), count, 1, max(120.0, count * 3.0))

        def sweep_lines() -> list[str]:
            return [line for line in operator.log_path.read_text(errors="replace").splitlines()
                    if "Drift sweep: " in line]

        # Let the creates' own writes finish: one sweep that compared all of them.
        wait_for(lambda: any(f"Drift sweep: {count} resources" in line
                             for line in sweep_lines()), timeout=120, interval=1,
                 message="a sweep over all resources")
        before, seen = patch_count(cp), len(sweep_lines())
        wait_for(lambda: len(sweep_lines()) >= seen + sweeps, timeout=sweeps * 15 + 60,
                 interval=1, message=f"{sweeps} more sweeps")
        after = patch_count(cp)
        lines = sweep_lines()[seen:seen + sweeps]
    print(f"\nWhole operator, {count} Ready resources, DBT_DRIFT_INTERVAL_S=5: {sweeps} sweeps "
          f"in which nothing changed")
    for line in lines:
        print("  " + line.split("] ", 1)[-1])
    print(f"PATCH requests on databasetables (apiserver_request_total): {before} before, "
          f"{after} after: {after - before} during the sweeps "
          f"({(after - before) / sweeps:g} per sweep)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_drift",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--tables", default="100,1000,5000",
                        help="managed table counts, ascending (default 100,1000,5000)")
    parser.add_argument("--repeat", type=int, default=5, help="sweeps after the first")
    parser.add_argument("--sample", type=int, default=200,
                        help="old-design ticks measured per size (default 200)")
    parser.add_argument("--operator", type=int, default=0, metavar="N",
                        help="also run the whole operator with N resources (needs the local "
                             "control plane) and count PATCHes over --sweeps sweeps")
    parser.add_argument("--sweeps", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.tables.split(",") if s)
    started = time.perf_counter()
    if sizes:
        with operator_database() as url:
            run(url, sizes, args.repeat, args.sample)
    if args.operator:
        run_operator(args.operator, args.sweeps)
    print(f"\ntotal run time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
