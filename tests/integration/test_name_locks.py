"""The name locks of a reconcile that reads everything in one round trip (issue 10).

A reconcile locks its resource and the spec's table name, and reads the catalog, in one round
trip; only then does it know its table's current name. A rename must still hold that name's
lock before its DDL (whoever waits for the name reads it under the lock), and names are still
taken in sorted order, so two reconciles never wait on each other in a cycle: a current name
that sorts before a held one is only tried, and when it is busy the reconcile starts again
with every name locked in order.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg2
import pytest

from dbtable.catalog import read_owned_table, read_table
from dbtable.database import DatabaseSettings
from dbtable.model import Owner
from dbtable.plan import RenameTable
from dbtable.reconcile import reconcile_table
from dbtable.reconcile_locks import LOCK_CLASS
from dbtable.spec import parse_spec
from tests.integration.test_concurrency import waiting_advisory_locks, wait_until
from tests.integration.test_reconcile import SEED

pytestmark = pytest.mark.integration

OWNER = Owner("default", "renamed", "5f1e0c2a-0000-4000-8000-0000000000b1")


def _lock(conn: Any, name: str, how: str = "pg_advisory_lock") -> bool:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {how}(%s, hashtext(%s))", (LOCK_CLASS, f"table:{name}"))
        return cur.fetchone()[0] is not False


def _unlock(conn: Any, name: str) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_CLASS, f"table:{name}"))


@pytest.fixture
def sessions(settings: DatabaseSettings) -> Any:
    conns = [psycopg2.connect(settings.url) for _ in range(3)]
    for conn in conns[:2]:
        conn.autocommit = True
    yield conns
    for conn in conns:
        conn.close()


def _rename_while_old_name_is_held(settings: DatabaseSettings, sessions: list[Any], old: str,
                                   new: str, meanwhile: Callable[[Any], None]) -> Any:
    """Create ``old``, hold its name's lock in another session, reconcile to ``new``: the
    reconcile must wait; ``meanwhile`` looks while it does. Returns the outcome."""
    holder, observer, worker = sessions
    reconcile_table(worker, settings, parse_spec({**SEED, "tableName": old}), OWNER)
    patient = dataclasses.replace(settings, lock_timeout_ms=20000)
    _lock(holder, old)
    with ThreadPoolExecutor(1) as pool:
        renaming = pool.submit(reconcile_table, worker, patient,
                               parse_spec({**SEED, "tableName": new}), OWNER)
        try:
            wait_until(lambda: renaming.done() or waiting_advisory_locks(observer) == 1)
            assert not renaming.done(), "renamed while another session held the old name's lock"
            with observer, observer.cursor() as cur:
                assert read_table(cur, settings.schema, old) is not None
            meanwhile(observer)
        finally:
            _unlock(holder, old)
        outcome = renaming.result(timeout=60)
    assert any(isinstance(op, RenameTable) for op in outcome.plan.operations)
    with observer, observer.cursor() as cur:
        assert read_owned_table(cur, settings.schema, OWNER).name == new
    return outcome


def test_a_rename_waits_for_the_lock_of_a_current_name_that_sorts_after_the_new_one(
        settings: DatabaseSettings, sessions: list[Any]) -> None:
    _rename_while_old_name_is_held(settings, sessions, "z_users", "a_users", lambda _: None)


def test_a_rename_to_a_name_sorting_after_the_current_one_never_waits_holding_the_later_name(
        settings: DatabaseSettings, sessions: list[Any]) -> None:
    """Waiting for ``a_users`` while holding ``z_users`` is the half of a cycle: a reconcile
    that holds ``a_users`` and wants ``z_users`` would wait for it forever (until PostgreSQL's
    deadlock check fails one of them)."""
    def later_name_is_free(observer: Any) -> None:
        observer.autocommit = True
        try:
            assert _lock(observer, "z_users", "pg_try_advisory_lock"), \
                "the reconcile holds z_users while it waits for a_users"
            _unlock(observer, "z_users")
        finally:
            observer.autocommit = False

    _rename_while_old_name_is_held(settings, sessions, "a_users", "z_users", later_name_is_free)
