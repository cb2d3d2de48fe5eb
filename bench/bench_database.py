"""Benchmark reconcile_table against a real PostgreSQL server.

    .venv/bin/python -m bench.bench_database [--tables 200] [--repeat 100]

The server is a throwaway local one (hack/postgres.py: fsync and synchronous_commit off), or
the one named by ``DBT_BENCH_DATABASE_URL``: a URL of a role that may create roles and
databases (like ``DBT_TEST_DATABASE_URL``); the benchmark then works in a fresh database owned
by a fresh unprivileged role, as the operator would, and drops both afterwards.

Figures, all on one connection, serially, each reconcile its own transaction:
  * create N tables (the seed's 5 columns) with reconcile_table: total, per table, and the
    first tenth against the last tenth (does a reconcile get slower as tables accumulate?);
  * a no-op reconcile (catalog read + plan, nothing executed), with 1 table and with N;
  * an add-column reconcile (one ALTER TABLE ... ADD COLUMN);
  * a 1,600-column table: create, and a no-op reconcile of it;
and where each reconcile's time goes: every step of reconcile_table is wrapped with a timer;
and the round trips of one create, one no-op and one add-column reconcile as the handler makes
them (a pooled connection, its liveness ping included), counted on the wire by a recording
proxy (tests/support/wire.py) on a connection of their own, so the timings above pay nothing
for it.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import dbtable.reconcile as reconcile_module
from bench.common import fmt_time, operator_database, seed_spec, summary, table, wide_spec
from dbtable.database import DatabaseSettings, connect
from dbtable.model import DesiredTable, Owner
from dbtable.pool import ConnectionPool
from dbtable.reconcile import Outcome, reconcile_table
from dbtable.spec import parse_spec
from psycopg2.extensions import parse_dsn
from tests.support.wire import QueryRecorder

NAMESPACE = "bench"
# The steps of reconcile_table, by the names it calls them in dbtable/reconcile.py.
STEPS = ("_snapshot", "resolve_types", "resolve_defaults", "read_facts", "read_key_facts",
         "plan_reconcile", "_execute")


class StepTimer:
    """Wraps the functions reconcile_table calls, to see where a reconcile's time goes."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self._originals = {name: getattr(reconcile_module, name) for name in STEPS}

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        for name, fn in self._originals.items():
            setattr(reconcile_module, name, self._wrap(name, fn))
        try:
            yield
        finally:
            for name, fn in self._originals.items():
                setattr(reconcile_module, name, fn)

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[name] += time.perf_counter() - start
        return timed

    def take(self) -> dict[str, float]:
        taken, self.current = dict(self.current), defaultdict(float)
        return taken


class Bench:
    def __init__(self, url: str) -> None:
        self.settings = DatabaseSettings(url=url)
        self.conn = connect(self.settings)
        self.timer = StepTimer()
        self.rows: list[tuple[str, ...]] = []
        self.steps: dict[str, list[dict[str, float]]] = {}

    def reconcile(self, desired: DesiredTable, owner: Owner) -> tuple[float, Outcome,
                                                                       dict[str, float]]:
        start = time.perf_counter()
        outcome = reconcile_table(self.conn, self.settings, desired, owner)
        elapsed = time.perf_counter() - start
        steps = self.timer.take()
        steps["commit and the rest"] = elapsed - sum(steps.values())
        return elapsed, outcome, steps

    def series(self, label: str, runs: list[tuple[float, dict[str, float]]],
               short: str | None = None) -> None:
        """A line of the main table; with ``short``, also a column of the steps table."""
        times = [t for t, _ in runs]
        median, p95 = summary(times)
        self.rows.append((label, str(len(times)), fmt_time(median), fmt_time(p95),
                          fmt_time(sum(times))))
        if short:
            self.steps[short] = [s for _, s in runs]


def owner(name: str) -> Owner:
    return Owner(NAMESPACE, name, str(uuid.uuid4()))


def run(url: str, tables: int, repeat: int) -> None:
    bench = Bench(url)
    seed = parse_spec(seed_spec())
    try:
        with bench.timer.installed():
            # -- N tables, serially ----------------------------------------------------------
            created: list[tuple[DesiredTable, Owner]] = []
            runs = []
            first_noop: list[tuple[float, dict[str, float]]] = []
            for n in range(tables):
                desired = DesiredTable(f"t{n:05}", seed.columns, seed.primary_key)
                who = owner(f"t{n:05}")
                elapsed, outcome, steps = bench.reconcile(desired, who)
                assert outcome.statements and outcome.statements[0].startswith("CREATE TABLE")
                runs.append((elapsed, steps))
                created.append((desired, who))
                if n == 0:  # no-op reconciles while the schema holds a single table
                    for _ in range(repeat):
                        elapsed, outcome, steps = bench.reconcile(desired, who)
                        assert not outcome.statements
                        first_noop.append((elapsed, steps))
            bench.series(f"create table (x{tables}, serial)", runs, "create")
            tenth = max(1, tables // 10)
            bench.series(f"  first {tenth} of them", runs[:tenth])
            bench.series(f"  last {tenth} of them", runs[-tenth:])
            bench.series("no-op reconcile, 1 table in schema", first_noop, "no-op@1")

            # -- no-op with N tables present --------------------------------------------------
            runs = []
            for i in range(repeat):
                desired, who = created[i % len(created)]
                elapsed, outcome, steps = bench.reconcile(desired, who)
                assert not outcome.statements, outcome.statements
                runs.append((elapsed, steps))
            bench.series(f"no-op reconcile, {tables} tables in schema", runs, f"no-op@{tables}")

            # -- add a column -----------------------------------------------------------------
            runs = []
            for i in range(repeat):
                desired, who = created[i % len(created)]
                extra = parse_spec({**seed_spec(), "columns": seed_spec()["columns"]
                                    + [{f"EXTRA_{i // len(created)}": "varchar(20)"}]})
                wider = DesiredTable(desired.name, desired.columns + extra.columns[-1:],
                                     desired.primary_key)
                elapsed, outcome, steps = bench.reconcile(wider, who)
                assert len(outcome.statements) == 1 and "ADD COLUMN" in outcome.statements[0]
                created[i % len(created)] = (wider, who)
                runs.append((elapsed, steps))
            bench.series(f"add-column reconcile, {tables} tables", runs, "add-col")

            # -- 1,600 columns ----------------------------------------------------------------
            wide = parse_spec(wide_spec(1600))
            who = owner("wide")
            elapsed, outcome, steps = bench.reconcile(wide, who)
            assert outcome.statements[0].startswith("CREATE TABLE")
            bench.series("create table, 1,600 columns", [(elapsed, steps)], "create 1600c")
            runs = []
            for _ in range(max(10, repeat // 5)):
                elapsed, outcome, steps = bench.reconcile(wide, who)
                assert not outcome.statements
                runs.append((elapsed, steps))
            bench.series("no-op reconcile, 1,600 columns", runs, "no-op 1600c")
    finally:
        bench.conn.close()

    print(table(("reconcile_table", "N", "median", "p95", "total"), bench.rows))
    print("\nWhere the time goes (median per reconcile; steps of dbtable/reconcile.py)\n")
    labels = list(bench.steps)
    names = list(STEPS) + ["commit and the rest"]
    rows = []
    for name in names:
        row = [name]
        for label in labels:
            values = [s.get(name, 0.0) for s in bench.steps[label]]
            row.append(fmt_time(summary(values)[0]) if any(values) else "-")
        rows.append(row)
    print(table(["step"] + labels, rows))
    print("\n(_snapshot: the timeouts, the resource's and names' locks and every catalog read "
          "the plan needs, in one round trip;\n _execute: the statements and the table read "
          "again, in one round trip, skipped when nothing is applied.)")
    print("\nRound trips per reconcile, counted on the wire (the handler's path: a pooled "
          "connection, its ping included)\n")
    print(table(("reconcile", "round trips", "of which statements of the plan"),
                count_round_trips(url)))


def count_round_trips(url: str) -> list[tuple[str, str, str]]:
    """One create, one no-op and one add-column reconcile through a recording proxy."""
    dsn = parse_dsn(url)
    seed = parse_spec(seed_spec())
    wider = parse_spec({**seed_spec(), "columns": seed_spec()["columns"] + [{"EXTRA": "text"}]})
    who = owner("counted")
    rows = []
    with QueryRecorder(dsn.get("host") or "127.0.0.1", int(dsn.get("port") or 5432)) as wire:
        through = DatabaseSettings(url=wire.url_through(url))
        pool = ConnectionPool(through, size=1)
        try:
            with pool.connection():
                pass  # connected: each reconcile below reuses it, as a handler's would
            for label, desired in (("create", seed), ("no-op", seed), ("add a column", wider)):
                wire.take()
                with pool.connection() as conn:
                    outcome = reconcile_table(conn, through, desired, who)
                rows.append((label, str(len(wire.take())), str(len(outcome.statements))))
        finally:
            pool.close()
    return rows



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_database",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, default=200, help="tables to create (default 200)")
    parser.add_argument("--repeat", type=int, default=100,
                        help="runs of each no-op / add-column series (default 100)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with operator_database() as url:
        run(url, args.tables, args.repeat)
    print(f"\ntotal run time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
