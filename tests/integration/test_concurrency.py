"""Two reconciles at once, on real PostgreSQL sessions started together behind a barrier:
the advisory locks serialize them, so the loser gets a clean outcome, never a raw error."""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg2
import pytest

from dbtable.catalog import read_table
from dbtable.database import DatabaseSettings
from dbtable.model import Owner
from dbtable.plan import CreateTable, RefusalReason
from dbtable.reconcile import Outcome, reconcile_table
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
