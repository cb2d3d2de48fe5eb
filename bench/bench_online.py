"""Column changes under live traffic: the operator's way beside the naive one.

Two copies of one table (``--rows`` rows, default 200,000): 4 client threads run single-row
INSERTs, UPDATEs and SELECTs without pause on the copy being changed, while each change is
applied to it, once by the operator (``reconcile_table`` called until no step is pending, as
the handler does) and once the naive way (plain ALTER TABLE, CREATE UNIQUE INDEX without
CONCURRENTLY). For each it prints how long the change took, the longest any client statement
waited meanwhile, how many client statements ran and how many failed.

    python -m bench.bench_online [--rows 200000]

Uses DBT_BENCH_DATABASE_URL (a superuser URL) if set, else a throwaway local server.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from psycopg2 import sql

from bench.common import machine, table
from dbtable.database import DatabaseSettings, connect
from dbtable.model import Owner
from dbtable.reconcile import reconcile_table
from dbtable.spec import parse_spec
from tests.support.postgres import ExternalPostgres, create_operator_database

CLIENTS = 4
COLUMNS = [{"ID": "bigint"}, {"EMAIL": "text"}, {"STATUS": "text"}, {"N": "integer"}]
# (label, spec changes of the operator's way, the naive statement(s) for the same change)
CHANGES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("add column with a default", {"columns": COLUMNS + [{"FLAG": "boolean"}],
                                   "columnOptions": {"FLAG": {"default": "false"}}},
     ["ALTER TABLE {t} ADD COLUMN flag boolean DEFAULT false"]),
    ("set NOT NULL", {"columns": COLUMNS + [{"FLAG": "boolean"}],
                      "columnOptions": {"FLAG": {"default": "false"},
                                        "EMAIL": {"nullable": False}}},
     ["ALTER TABLE {t} ALTER COLUMN email SET NOT NULL"]),
    ("add unique", {"columns": COLUMNS + [{"FLAG": "boolean"}],
                    "columnOptions": {"FLAG": {"default": "false"},
                                      "EMAIL": {"nullable": False, "unique": True}}},
     ["CREATE UNIQUE INDEX naive_email ON {t} (email)",
      "ALTER TABLE {t} ADD CONSTRAINT naive_email UNIQUE USING INDEX naive_email"]),
    ("rename a column", {"columns": [*COLUMNS[:3], {"COUNT": "integer"}, {"FLAG": "boolean"}],
                         "columnOptions": {"FLAG": {"default": "false"},
                                           "EMAIL": {"nullable": False, "unique": True},
                                           "COUNT": {"previousNames": ["N"]}}},
     ["ALTER TABLE {t} RENAME COLUMN n TO count"]),
    ("drop a column", {"columns": [*COLUMNS[:3], {"COUNT": "integer"}],
                       "columnOptions": {"EMAIL": {"nullable": False, "unique": True},
                                         "COUNT": {"previousNames": ["N"]}},
                       "dropColumns": ["FLAG"]},
     ["ALTER TABLE {t} DROP COLUMN flag"]),
]


@dataclass
class Traffic:
    """Client threads on one table; the longest wait and failures since ``mark()``."""

    url: str
    target: sql.Identifier
    next_id: int
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    longest: float = 0.0
    statements: int = 0
    failures: list[str] = field(default_factory=list)

    def mark(self) -> None:
        with self.lock:
            self.longest, self.statements, self.failures = 0.0, 0, []

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        with conn.cursor() as cur:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    self._one(cur, rng)
                    failure = None
                except psycopg2.Error as e:
                    failure = (e.pgerror or str(e)).strip().splitlines()[0]
                waited = time.perf_counter() - started
                with self.lock:
                    self.longest = max(self.longest, waited)
                    self.statements += 1
                    if failure:
                        self.failures.append(failure)
        conn.close()

    def _one(self, cur: Any, rng: random.Random) -> None:
        kind = rng.random()
        if kind < 0.34:
            with self.lock:
                self.next_id += 1
                new = self.next_id
            cur.execute(sql.SQL("INSERT INTO {} (id, email, status) VALUES (%s, %s, 'x')")
                        .format(self.target), (new, f"new{new}@example.org"))
        elif kind < 0.67:
            cur.execute(sql.SQL("UPDATE {} SET status = 'y' WHERE id = %s").format(self.target),
                        (rng.randint(1, 1000),))
        else:
            cur.execute(sql.SQL("SELECT * FROM {} WHERE id = %s").format(self.target),
                        (rng.randint(1, self.next_id),))


def measure(traffic: Traffic, change: Callable[[], None]) -> tuple[float, float, int, int]:
    """(change seconds, longest client wait, client statements, failures) over the change."""
    time.sleep(0.3)
    traffic.mark()
    started = time.perf_counter()
    change()
    took = time.perf_counter() - started
    time.sleep(0.3)  # a client that waited on the change finishes within the window
    with traffic.lock:
        return took, traffic.longest, traffic.statements, len(traffic.failures)


def fill(url: str, schema: str, name: str, rows: int) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("INSERT INTO {} (id, email, status, n) SELECT g, 'u' || g || "
                                "'@example.org', 'x', g FROM generate_series(1, %s) g")
                        .format(sql.Identifier(schema, name)), (rows,))
            cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, name)))
    finally:
        conn.close()


def run(url: str, rows: int, lock_timeout_ms: int) -> None:
    settings = DatabaseSettings(url=url, lock_timeout_ms=lock_timeout_ms,
                                statement_timeout_ms=600000)
    owners = {name: Owner("bench", name, f"00000000-0000-4000-8000-{i:012d}")
              for i, name in enumerate(("online", "naive"))}
    conn = connect(settings)
    conn.answer_timeout_s = settings.answer_timeout_s  # as the pool sets it for a reconcile
    for name, owner in owners.items():
        reconcile_table(conn, settings, parse_spec(
            {"tableName": name, "columns": COLUMNS, "primaryKey": "ID"}), owner)
        fill(url, settings.schema, name, rows)
    results = []
    for name, owner in owners.items():
        traffic = Traffic(url, sql.Identifier(settings.schema, name), rows)
        threads = [threading.Thread(target=traffic.run, args=(i,), daemon=True)
                   for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            for label, changes, naive in CHANGES:
                if name == "online":
                    desired = parse_spec({"tableName": name, "primaryKey": "ID", **changes})

                    def change() -> None:
                        while reconcile_table(conn, settings, desired, owner).pending:
                            pass
                else:
                    def change() -> None:
                        naive_conn = psycopg2.connect(url)
                        try:
                            with naive_conn, naive_conn.cursor() as cur:
                                for statement in naive:
                                    cur.execute(sql.SQL(statement).format(
                                        t=sql.Identifier(settings.schema, name)))
                        finally:
                            naive_conn.close()
                results.append((label, name, *measure(traffic, change)))
        finally:
            traffic.stop.set()
            for thread in threads:
                thread.join()
    conn.close()
    print(table(["change", "way", "took", "longest client wait", "client statements",
                 "failed"],
                [[label, "operator" if way == "online" else "naive", f"{took * 1000:.0f} ms",
                  f"{wait * 1000:.0f} ms", str(count), str(failed)]
                 for label, way, took, wait, count, failed in results]))
    print(f"\nlock_timeout of the operator: {lock_timeout_ms} ms; {CLIENTS} client threads, "
          f"{rows} rows per table.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_online",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200000)
    parser.add_argument("--lock-timeout-ms", type=int, default=5000)
    args = parser.parse_args(argv)
    admin_url = os.environ.get("DBT_BENCH_DATABASE_URL")
    local: Any = None
    if admin_url:
        server: Any = ExternalPostgres(admin_url)
    else:
        from hack.postgres import LocalPostgres

        local = server = LocalPostgres()
        local.start()
    try:
        db = create_operator_database(server, prefix="bench")
        version = server.execute_as_superuser("SHOW server_version")[0][0]
        print(f"Real PostgreSQL {version}\n{machine()}\n")
        run(db["url"], args.rows, args.lock_timeout_ms)
        if local is None:
            with contextlib.suppress(psycopg2.Error):
                server.execute_as_superuser(f'DROP DATABASE "{db["dbname"]}" WITH (FORCE)')
                server.execute_as_superuser(f'DROP ROLE "{db["user"]}"')
    finally:
        if local is not None:
            local.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
