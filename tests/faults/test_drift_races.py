"""Drift repair racing the operator's own handlers, both sides running at once.

A drift repair must act only on the latest spec of a live resource and never undo a change
the operator made. The in-process tests hold the first drift repair at the door of its
transaction (a gate around ``reconcile_table``, i.e. a slow thread: no behaviour is replaced)
while the resource is deleted or renamed through the API server, then let it go.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import dbtable.converge
import dbtable.reconcile
from tests.faults.conftest import Database, Namespace, column_list, wait_condition, warnings
from tests.support.k8s import resource, wait_for

COLUMNS = [{"ID": "integer"}, {"NAME": "text"}, {"EMAIL": "text"}]
EXPECTED = [("id", "integer"), ("name", "text"), ("email", "text")]


class Gate:
    """Holds the first drift repair (``repair_only=True``) until released."""

    def __init__(self) -> None:
        self.entered, self.released = threading.Event(), threading.Event()
        self._armed = True
        self._lock = threading.Lock()

    def wrap(self, reconcile_table: Callable[..., Any]) -> Callable[..., Any]:
        def gated(*args: Any, repair_only: bool = False, **kwargs: Any) -> Any:
            if repair_only:
                with self._lock:
                    hold, self._armed = self._armed, False
                if hold:
                    self.entered.set()
                    self.released.wait(timeout=120)
            return reconcile_table(*args, repair_only=repair_only, **kwargs)
        return gated


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    """Installed where the handlers look reconcile_table up (dbtable.converge, imported once
    for the whole test session), before the in-process operator starts."""
    held = Gate()
    monkeypatch.setattr(dbtable.converge, "reconcile_table",
                        held.wrap(dbtable.reconcile.reconcile_table))
    yield held
    held.released.set()  # never leave an operator thread waiting


def stays(condition: Callable[[], bool], seconds: float, message: str) -> None:
    """Fail as soon as ``condition()`` is false during the next ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert condition(), message
        time.sleep(0.3)


def users(table: str = "USERS", columns: list[dict[str, str]] = COLUMNS) -> str:
    return resource("users", {"tableName": table, "columns": columns, "primaryKey": "ID"})


def test_table_dropped_on_deletion_is_not_recreated_by_a_repair_in_flight(
        namespace: Namespace, database: Database, start_operator, gate: Gate) -> None:
    start_operator("inprocess", extra_env={"DBT_DRIFT_INTERVAL_S": "1",
                                           "DBT_LOCK_TIMEOUT_MS": "30000"})
    namespace.apply(users())
    namespace.wait_ready("users")
    database.execute("ALTER TABLE public.users DROP COLUMN email")  # something to repair
    assert gate.entered.wait(timeout=30), "no drift repair started"

    namespace.kubectl("delete", "databasetable", "users", "--wait=false")
    # Where deletion is not serialized with the repair, cleanup drops the table meanwhile.
    try:
        wait_for(lambda: database.table("users") is None, timeout=10, message="users dropped")
    except AssertionError:
        pass  # serialized: cleanup waits for the repair to finish
    gate.released.set()
    wait_for(lambda: database.table("users") is None, timeout=30, message="users dropped")
    stays(lambda: database.table("users") is None, 6,
          "the table of a deleted resource came back")
    wait_for(lambda: namespace.get("users") is None, timeout=90, message="users gone")
    assert database.table("users") is None
    marked = database.execute("SELECT count(*) FROM pg_description WHERE description LIKE %s",
                              ("%database-table-operator%",))
    assert marked == [(0,)]


def test_repair_in_flight_never_undoes_a_rename(
        namespace: Namespace, database: Database, start_operator, gate: Gate) -> None:
    start_operator("inprocess", extra_env={"DBT_DRIFT_INTERVAL_S": "1",
                                           "DBT_LOCK_TIMEOUT_MS": "30000"})
    namespace.apply(users("A_OLD"))
    namespace.wait_ready("users")
    database.execute("ALTER TABLE public.a_old DROP COLUMN email")
    assert gate.entered.wait(timeout=30), "no drift repair started"

    namespace.apply(users("B_NEW"))
    try:  # where the rename is not serialized with the repair, it commits meanwhile
        wait_for(lambda: database.table("b_new"), timeout=10, message="b_new renamed")
    except AssertionError:
        pass
    gate.released.set()
    ready = namespace.wait_ready("users", timeout=60)
    assert ready["reason"] == "Reconciled"
    stays(lambda: database.table("a_old") is None and database.table("b_new") is not None, 6,
          "the rename to b_new was undone")
    assert column_list(database, "b_new") == EXPECTED
    assert not [m for _, m in warnings(namespace, "users") if "renamed table b_new" in m]


def test_update_waiting_for_a_lock_is_not_taken_for_drift(
        namespace: Namespace, database: Database, start_operator, open_session) -> None:
    start_operator("container", extra_env={"DBT_DRIFT_INTERVAL_S": "1",
                                           "DBT_LOCK_TIMEOUT_MS": "1000"})
    namespace.apply(users(columns=COLUMNS[:2]))
    namespace.wait_ready("users")
    holder = open_session()
    with holder.cursor() as cur:  # a long reader: ACCESS SHARE blocks ALTER TABLE
        cur.execute("SELECT count(*) FROM public.users")
    namespace.apply(users())
    wait_condition(namespace, "users", "LockTimeout", timeout=30)
    holder.rollback()

    namespace.wait_ready("users", timeout=60)
    assert column_list(database, "users") == EXPECTED
    reasons = [r for r, _ in warnings(namespace, "users")]
    assert "LockTimeout" in reasons
    assert "DriftRepaired" not in reasons


def test_nothing_changed_writes_nothing(namespace: Namespace, database: Database,
                                        start_operator) -> None:
    start_operator("container", extra_env={"DBT_DRIFT_INTERVAL_S": "1"})
    namespace.apply(users())
    namespace.apply(resource("canary", {"tableName": "CANARY", "columns": COLUMNS,
                                        "primaryKey": "ID"}))
    namespace.wait_ready("users")
    namespace.wait_ready("canary")
    before = namespace.get("users")["metadata"]["resourceVersion"]
    events_before = len(namespace.events("users"))

    # Two repairs of another table prove that sweeps ran meanwhile.
    for column in ("email", "name"):
        database.execute(f"ALTER TABLE public.canary DROP COLUMN {column}")
        wait_for(lambda: sorted(column_list(database, "canary")) == sorted(EXPECTED),
                 timeout=30, message=f"canary's {column} repaired")
    assert namespace.get("users")["metadata"]["resourceVersion"] == before
    assert len(namespace.events("users")) == events_before


def test_conflict_loser_takes_the_name_once_it_is_free(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container", extra_env={"DBT_DRIFT_INTERVAL_S": "300"})
    namespace.apply(resource("first", {"tableName": "SHARED", "columns": COLUMNS[:2],
                                       "primaryKey": "ID"}))
    namespace.wait_ready("first")
    namespace.apply(resource("second", {"tableName": "SHARED", "columns": COLUMNS,
                                        "primaryKey": "ID"}))
    wait_condition(namespace, "second", "Conflict", timeout=30)

    namespace.kubectl("delete", "databasetable", "first", "--wait=false")
    ready = namespace.wait_ready("second", timeout=30)  # far sooner than one drift interval
    assert ready["reason"] == "Reconciled"
    assert column_list(database, "shared") == EXPECTED
    assert "DriftRepaired" not in [r for r, _ in warnings(namespace, "second")]


def test_two_resources_swapping_names_both_converge(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container", extra_env={"DBT_DRIFT_INTERVAL_S": "300"})

    def table(name: str, table_name: str) -> str:
        return resource(name, {"tableName": table_name, "columns": COLUMNS[:2],
                               "primaryKey": "ID"})

    namespace.apply(table("left", "EAST") + "---\n" + table("right", "WEST"))
    namespace.wait_ready("left")
    namespace.wait_ready("right")
    database.execute("INSERT INTO public.east VALUES (1, 'left')")
    database.execute("INSERT INTO public.west VALUES (2, 'right')")

    namespace.apply(table("left", "WEST") + "---\n" + table("right", "EAST"))
    for name in ("left", "right"):
        assert namespace.wait_ready(name, timeout=60)["reason"] == "Reconciled"
    assert database.execute("SELECT name FROM public.west") == [("left",)]
    assert database.execute("SELECT name FROM public.east") == [("right",)]
    assert namespace.get("left")["status"]["tableName"] == "west"
    assert namespace.get("right")["status"]["tableName"] == "east"


def test_repair_that_hits_a_lock_is_retried_by_kopf_not_at_the_next_sweep(
        namespace: Namespace, database: Database, start_operator, open_session) -> None:
    start_operator("container", extra_env={"DBT_DRIFT_INTERVAL_S": "40",
                                           "DBT_LOCK_TIMEOUT_MS": "1000"})
    namespace.apply(users())
    namespace.wait_ready("users")
    database.execute("ALTER TABLE public.users DROP COLUMN email")
    holder = open_session()
    with holder.cursor() as cur:  # a long reader: ACCESS SHARE blocks ALTER TABLE
        cur.execute("SELECT count(*) FROM public.users")
    condition = wait_condition(namespace, "users", "LockTimeout", timeout=60)
    assert "retrying in" not in condition["message"]  # no promise of a time
    holder.rollback()
    released = time.monotonic()

    namespace.wait_ready("users", timeout=25)  # the next sweep is 36 to 44 s away
    assert time.monotonic() - released < 25
    assert sorted(column_list(database, "users")) == sorted(EXPECTED)
