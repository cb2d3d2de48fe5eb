"""Each change of "Changing a table" under live traffic: the operator's way beside the naive one.

Two copies of one table (``--rows`` rows, default 200,000). On each, 4 client threads run
single-row INSERTs, UPDATEs and SELECTs without pause while every change of the issue's table
is applied in turn (tests/support/online_changes.py): on one copy by the operator
(``reconcile_table`` called until no step is pending, a lock timeout retried, as the handler
does), on the other the naive way (plain ALTER TABLE, CREATE INDEX without CONCURRENTLY, a
foreign key validated under its lock; no lock_timeout, as a migration script runs them). For
each it prints how long the change took and, over the client statements that ran meanwhile,
the longest wait, the 99th percentile and how many failed.

``--report-s N`` also holds the table with a long report (a transaction that read it) for N
seconds as each change begins: the naive way's exclusive lock then queues every client
behind the report; the operator's gives up at lock_timeout and retries.

    python -m bench.bench_online [--rows 200000] [--report-s 0] [--lock-timeout-ms 5000]

Uses DBT_BENCH_DATABASE_URL (a superuser URL) if set, else a throwaway local server.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from bench.common import operator_database, percentile, table
from dbtable.database import DatabaseSettings, connect
from dbtable.model import Owner
from dbtable.reconcile import reconcile_table
from dbtable.spec import parse_spec
from tests.support.online import CUSTOMERS, Reader, Traffic, converge
from tests.support.online_changes import BASE_SPEC, changes, create_customers, fill

OWNER = Owner("bench", "online", "00000000-0000-4000-8000-000000000001")
NAIVE_OWNER = Owner("bench", "naive", "00000000-0000-4000-8000-000000000002")


@dataclass(frozen=True)
class Result:
    took: float
    longest: float
    p99: float
    statements: int
    failed: int

    def cells(self) -> list[str]:
        return [f"{self.took:.2f} s", f"{self.longest * 1000:.0f} ms",
                f"{self.p99 * 1000:.0f} ms", str(self.failed)]


def measure(url: str, traffic: Traffic, report_s: float, change: Callable[[], None]) -> Result:
    """Apply ``change`` (after a long report took the table, if ``report_s``), then sum up the
    client statements that ran at some moment while it did."""
    with Reader(url, traffic.target, report_s) if report_s else contextlib.nullcontext():
        started = time.perf_counter()
        change()
        ended = time.perf_counter()
    traffic.settle(after=ended)
    during = traffic.during(started, ended)
    waits = [s.waited for s in during] or [0.0]
    return Result(ended - started, max(waits), percentile(waits, 99), len(during),
                  sum(1 for s in during if s.error))


def run_naive(url: str, target: sql.Identifier, statements: tuple[str, ...]) -> None:
    """The change as a migration script runs it: plain statements in one transaction."""
    conn = psycopg2.connect(url)
    schema = sql.Identifier(target.strings[0])
    try:
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(sql.SQL(statement).format(t=target, s=schema))
    finally:
        conn.close()


def run(url: str, rows: int, lock_timeout_ms: int, report_s: float) -> None:
    settings = DatabaseSettings(url=url, lock_timeout_ms=lock_timeout_ms,
                                statement_timeout_ms=600000)
    conn = connect(settings)
    conn.answer_timeout_s = settings.answer_timeout_s  # as the pool sets it for a reconcile
    online = sql.Identifier(settings.schema, "orders")
    naive = sql.Identifier(settings.schema, "naive")
    reconcile_table(conn, settings, parse_spec(BASE_SPEC), OWNER)
    reconcile_table(conn, settings, parse_spec({**BASE_SPEC, "tableName": "NAIVE"}), NAIVE_OWNER)
    with conn, conn.cursor() as cur:
        create_customers(cur, settings.schema, CUSTOMERS)
        for target in (online, naive):
            fill(cur, target, rows, CUSTOMERS)
    rows_out: dict[str, list[str]] = {}
    with Traffic(url, online, rows) as traffic:
        for change in changes():
            desired = parse_spec(change.spec)
            result = measure(url, traffic, report_s,
                             lambda: converge(conn, settings, desired, OWNER))
            rows_out[change.label] = result.cells()
    with Traffic(url, naive, rows) as traffic:
        for change in changes():
            result = measure(url, traffic, report_s,
                             lambda: run_naive(url, naive, change.naive))
            rows_out[change.label] += result.cells()
    conn.close()
    print(table(["change", "operator: took", "longest wait", "p99", "failed",
                 "naive: took", "longest wait", "p99", "failed"],
                [[label, *cells] for label, cells in rows_out.items()]))
    print(f"\n{rows} rows per table; 4 client threads; the operator's lock_timeout "
          f"{lock_timeout_ms} ms, its retry after a lock timeout 0.1 s (Kopf's backoff "
          "compressed); "
          + (f"a report holds each table for {report_s:g} s as each change begins."
             if report_s else "no report holds the table."))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_online",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200000)
    parser.add_argument("--lock-timeout-ms", type=int, default=5000)
    parser.add_argument("--report-s", type=float, default=0.0)
    args = parser.parse_args(argv)
    with operator_database() as url:
        run(url, args.rows, args.lock_timeout_ms, args.report_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
