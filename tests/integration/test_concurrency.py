"""Two reconciles at once, on real PostgreSQL sessions started together behind a barrier:
the advisory locks serialize them, so the loser gets a clean outcome, never a raw error."""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg2
import pytest

from dbtable.catalog import read_table
from dbtable.database import DatabaseSettings
from dbtable.model import DeletionPolicy, Owner
from dbtable.plan import CreateTable, ReclaimTable, RefusalReason
from dbtable.reconcile import Outcome, delete_table, reconcile_table
from dbtable.reconcile_locks import LOCK_CLASS
from dbtable.spec import parse_spec
from tests.integration.test_reconcile import SEED

pytestmark = pytest.mark.integration

ROUNDS = 15  # each round races on a fresh name; one unlocked round almost always collides


def race(settings: DatabaseSettings, calls: list[Callable[[Any], Outcome]]) -> list[Any]:
    """Run each call on its own connection, all released at once; outcomes or exceptions."""
    conns = [psycopg2.connect(settings.url) for _ in calls]
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[Any], Outcome], conn: Any) -> Any:
        barrier.wait(timeout=30)
        try:
            return call(conn)
        except Exception as e:  # returned, so the test can say exactly what went wrong
            return e

    try:
        with ThreadPoolExecutor(len(calls)) as pool:
            futures = [pool.submit(run, call, conn) for call, conn in zip(calls, conns)]
            return [f.result(timeout=60) for f in futures]
    finally:
        for conn in conns:
            conn.close()


def test_two_resources_racing_for_one_name_get_one_owner_and_one_conflict(settings) -> None:
    for round_ in range(ROUNDS):
        spec = parse_spec({**SEED, "tableName": f"contested_{round_}"})
        owners = [Owner("default", f"racer-{round_}-{i}", f"uid-{round_}-{i}") for i in range(2)]
        results = race(settings, [lambda conn, o=o: reconcile_table(conn, settings, spec, o)
                                  for o in owners])
        errors = [r for r in results if isinstance(r, Exception)]
        assert errors == [], f"round {round_}: raw errors {errors!r}"
        winners = [r for r in results if any(isinstance(op, CreateTable)
                                             for op in r.plan.operations)]
        losers = [r for r in results if r.plan.refused]
        assert len(winners) == 1 and len(losers) == 1, f"round {round_}: {results!r}"
        (refusal,) = losers[0].plan.refusals
        assert refusal.reason is RefusalReason.CONFLICT
        assert f"belongs to DatabaseTable {winners[0].table.owner}" in refusal.message


def test_two_reconciles_of_one_resource_at_once_both_succeed_once(settings) -> None:
    for round_ in range(ROUNDS):
        owner = Owner("default", f"twice-{round_}", f"uid-twice-{round_}")
        spec = parse_spec({**SEED, "tableName": f"twice_{round_}"})
        results = race(settings, [lambda conn: reconcile_table(conn, settings, spec, owner)] * 2)
        errors = [r for r in results if isinstance(r, Exception)]
        assert errors == [], f"round {round_}: raw errors {errors!r}"
        assert [r.plan.refusals for r in results] == [(), ()], f"round {round_}: {results!r}"
        # One of them did the work; the other found it done.
        assert sorted(len(r.statements) > 0 for r in results) == [False, True]
        conn = psycopg2.connect(settings.url)
        try:
            with conn, conn.cursor() as cur:
                assert read_table(cur, settings.schema, f"twice_{round_}").owner == owner
        finally:
            conn.close()


def waiting_advisory_locks(conn: Any) -> int:
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = "
                    "current_database())")
        return cur.fetchone()[0]


def test_late_deletion_of_an_earlier_object_never_drops_what_a_restored_one_reclaimed(
        settings) -> None:
    """The earlier object's cleanup and the restored object's reconcile (same namespace/name,
    other uids) both queue behind a session holding the table name's lock. They must not
    both read the catalog before either has written: the resource lock is per namespace/name,
    so the second reads only after the first committed."""
    patient = dataclasses.replace(settings, lock_timeout_ms=20000)
    earlier = Owner("default", "restored", "uid-earlier")
    restored = Owner("default", "restored", "uid-restored")
    spec = parse_spec({**SEED, "tableName": "restored"})
    holder = psycopg2.connect(settings.url)
    observer = psycopg2.connect(settings.url)
    try:
        with holder.cursor() as cur:
            reconcile_table(holder, settings, spec, earlier)  # the table, marked by `earlier`
            cur.execute("SELECT pg_advisory_lock(%s, hashtext(%s))",
                        (LOCK_CLASS, "table:restored"))
        with ThreadPoolExecutor(2) as pool:
            conns = [psycopg2.connect(settings.url) for _ in range(2)]
            cleanup = pool.submit(delete_table, conns[0], patient, earlier, DeletionPolicy.DROP)
            reclaim = pool.submit(reconcile_table, conns[1], patient, spec, restored)
            wait_until(lambda: waiting_advisory_locks(observer) == 2)
            with holder.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                            (LOCK_CLASS, "table:restored"))
            deleted, reclaimed = cleanup.result(timeout=60), reclaim.result(timeout=60)
            for conn in conns:
                conn.close()
        with observer, observer.cursor() as cur:
            table = read_table(cur, settings.schema, "restored")
        if any(isinstance(op, ReclaimTable) for op in reclaimed.plan.operations):
            # Reclaimed first: the earlier object's deletion must have dropped nothing.
            assert deleted.statements == () and table is not None
            assert table.owner == restored
        else:
            # Dropped first: the restored object created a new table of its own.
            assert deleted.statements and table is not None and table.owner == restored
    finally:
        holder.close()
        observer.close()


def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
