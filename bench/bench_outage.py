"""How the operator meets a database that stops answering, and how many Events an outage costs.

    .venv/bin/python -m bench.bench_outage [--connect-timeout 2] [--resources 1000]

Part 1 (a throwaway local PostgreSQL behind tests/support/proxy.py, a TCP proxy that is frozen:
sockets open, nothing forwarded, the kernel still acknowledging): the time until
``ConnectionPool.connection()`` gives up when its idle connection's server has gone silent, and
until a statement already sent gives up, each with the bound it is held to.

Part 2 (no database: the operator's own Reporter and EventGate on a simulated clock): Warning
Events posted during a 10-minute outage by N resources each retrying with the operator's
backoff (5 s doubling to 300 s), the condition flapping between DatabaseUnavailable and
LockTimeout on every attempt (the worst case) or not, against one Event per attempt as before.
"""
from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import psycopg2

from bench.common import machine, table
from dbtable.database import DatabaseSettings
from dbtable.pool import ConnectionPool
from dbtable.failures import retry_delay
from dbtable.reporting import EventGate, Reporter
from tests.support.postgres import create_operator_database
from tests.support.proxy import FreezableProxy

OUTAGE_S = 600


def timed_failure(work: Any, limit: float = 120) -> tuple[float, str]:
    """Seconds until ``work`` raised, and what; 'still blocked' past ``limit``."""
    result: list[tuple[float, str]] = []
    started = time.monotonic()

    def run() -> None:
        try:
            work()
            result.append((time.monotonic() - started, "returned"))
        except psycopg2.Error as e:
            result.append((time.monotonic() - started, str(e).strip().splitlines()[0]))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    return result[0] if result else (limit, "still blocked")


def frozen_server(connect_timeout: int) -> list[list[str]]:
    from hack.postgres import LocalPostgres

    rows = []
    with LocalPostgres() as server, FreezableProxy(server.host, server.port) as proxy:
        db = create_operator_database(server, prefix="bench")
        settings = DatabaseSettings(url=proxy.url_through(db["url"]),
                                    connect_timeout_s=connect_timeout,
                                    statement_timeout_ms=2000, answer_grace_s=2)
        pool = ConnectionPool(settings, size=1)

        def select(second: bool = False) -> None:
            with pool.connection() as conn, conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
                if second:
                    proxy.freeze()
                    cur.execute("SELECT 2")

        select()
        proxy.freeze()
        seconds, error = timed_failure(select)
        rows.append(["pool.connection() with a silent server", f"{seconds:.2f} s",
                     f"2 x connect_timeout = {2 * connect_timeout} s", error])
        proxy.resume()
        select()
        seconds, error = timed_failure(lambda: select(second=True))
        rows.append(["a statement sent, then silence", f"{seconds:.2f} s",
                     f"statement_timeout + grace = {settings.answer_timeout_s:g} s", error])
        proxy.resume()
        pool.close()
    return rows


def outage_events(resources: int, flapping: bool) -> list[list[str]]:
    clock = [0.0]
    gate = EventGate(window=600, clock=lambda: clock[0])
    posted: list[Any] = []
    attempts_total = 0
    for uid in range(resources):
        status: dict[str, Any] = {}
        at, retry = 0.0, 0
        while at < OUTAGE_S:
            clock[0] = at
            patch: dict[str, Any] = {}
            reason = ("DatabaseUnavailable", "LockTimeout")[retry % 2 if flapping else 0]
            Reporter(status, patch, 1, lambda *e: posted.append(e), gate, uid).failed(
                reason, f"{reason}: the message")
            status = {"conditions": patch["conditions"]}
            attempts_total += 1
            at += retry_delay(retry)
            retry += 1
    kind = "flapping condition" if flapping else "one condition"
    return [[f"{resources} resources, {OUTAGE_S // 60}-minute outage, {kind}",
             f"{attempts_total}", f"{len(posted)}",
             f"{attempts_total / resources:.0f} -> {len(posted) / resources:.0f}"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect-timeout", type=int, default=2)
    parser.add_argument("--resources", type=int, default=1000)
    args = parser.parse_args()
    print(machine())
    print(table(["wait", "gave up after", "bound", "error"], frozen_server(args.connect_timeout)))
    print()
    print(table(["scenario", "attempts (= Warnings before)", "Warnings now", "per resource"],
                outage_events(args.resources, flapping=False)
                + outage_events(args.resources, flapping=True)))


if __name__ == "__main__":
    main()
