"""Our finalizer is on the object before its table exists, though the create is handled on its
first watch event (the handler adds the finalizer itself, not a Kopf cycle of its own), and
Kopf never takes it off while the resource lives.

The table's creation is held at its first statement by an event trigger waiting on an advisory
lock that the test holds: meanwhile the object is read, exactly as it is at that moment.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml
from psycopg2 import sql

from tests.faults.conftest import Database, Namespace
from tests.faults.test_api_writes import Watch, is_ready, table, watch  # noqa: F401  (fixture)
from tests.support.k8s import wait_for

FINALIZER = "kopf.demo/database-table-operator"
OTHER = "example.com/hold"
GATE_KEY = 4242
# The held CREATE TABLE waits under the operator's lock_timeout: long enough to look.
SLOW_LOCKS = {"DBT_LOCK_TIMEOUT_MS": "30000"}


class Gate:
    """CREATE TABLE in the test's database waits while the test holds the gate."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.session = database.connect()
        self.session.autocommit = True

    def hold(self) -> None:
        with self.session.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))

    def release(self) -> None:
        with self.session.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))

    def waiting(self) -> int:
        """Sessions held at the gate (a CREATE TABLE begun, not yet run)."""
        return self.database.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
            "AND NOT granted", (GATE_KEY,))[0][0]


@pytest.fixture
def gate(pg_server: Any, database: Database) -> Iterator[Gate]:
    def as_superuser(statement: str) -> None:
        pg_server.execute_as_superuser(statement, dbname=database.dbname)

    as_superuser(f"CREATE FUNCTION public.dbt_test_gate() RETURNS event_trigger "
                 f"LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock({GATE_KEY}); "
                 f"END $$")
    as_superuser("CREATE EVENT TRIGGER dbt_test_gate ON ddl_command_start "
                 "WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION public.dbt_test_gate()")
    opened = Gate(database)
    yield opened
    opened.session.close()
    as_superuser("DROP EVENT TRIGGER dbt_test_gate")
    as_superuser("DROP FUNCTION public.dbt_test_gate()")


def held_table(name: str, finalizers: list[str]) -> str:
    document = yaml.safe_load(table(name))
    document["metadata"]["finalizers"] = finalizers
    return yaml.safe_dump(document)


def finalizers(namespace: Namespace, name: str) -> list[str] | None:
    found = namespace.get(name)
    return None if found is None else list(found["metadata"].get("finalizers") or [])


def test_the_finalizer_is_on_the_object_before_its_table_is_created(
        namespace: Namespace, database: Database, start_operator, gate: Gate) -> None:
    start_operator("container", extra_env=SLOW_LOCKS)
    gate.hold()
    try:
        namespace.apply(table("alpha"))
        wait_for(lambda: gate.waiting() == 1, timeout=60,
                 message="the operator's CREATE TABLE to reach the gate")
        assert database.table("alpha") is None
        assert FINALIZER in finalizers(namespace, "alpha")
    finally:
        gate.release()
    namespace.wait_ready("alpha")
    assert database.table("alpha") is not None


def test_the_finalizer_stays_on_while_the_resource_lives(
        namespace: Namespace, start_operator, watch) -> None:
    """Labels, annotations and spec changes each come back as watch events: after the first
    write, every version of the object holds our finalizer."""
    seen = watch()
    start_operator("container")
    namespace.apply(table("alpha"))
    namespace.wait_ready("alpha")
    namespace.kubectl("label", "databasetable", "alpha", "team=a")
    namespace.kubectl("annotate", "databasetable", "alpha", "note=x")
    changed = yaml.safe_load(table("alpha"))
    changed["spec"]["columns"].append({"EXTRA": "text"})
    namespace.apply(yaml.safe_dump(changed))
    wait_for(lambda: (r := namespace.ready("alpha")) and r["status"] == "True"
             and r["observedGeneration"] == 2, timeout=60, message="alpha Ready at generation 2")
    namespace.kubectl("label", "databasetable", "alpha", "team=b", "--overwrite")
    wait_for(lambda: any(w["metadata"].get("labels", {}).get("team") == "b"
                         for w in seen.writes("alpha")), timeout=30, message="the last label")
    writes = seen.writes("alpha")
    assert len(writes) >= 5
    assert all(FINALIZER in (w["metadata"].get("finalizers") or []) for w in writes), \
        [(w["metadata"]["resourceVersion"], w["metadata"].get("finalizers")) for w in writes]
    assert FINALIZER in finalizers(namespace, "alpha")


def test_an_object_already_being_deleted_when_first_seen_gets_no_table_and_no_finalizer(
        namespace: Namespace, database: Database, start_operator) -> None:
    """Created and deleted while the operator was down, held Terminating by another
    controller's finalizer: the operator creates nothing and adds nothing."""
    namespace.apply(held_table("held", [OTHER]))
    namespace.kubectl("delete", "databasetable", "held", "--wait=false")
    start_operator("container")
    # Listed at the start, before this one is even created: handled by the time it is Ready.
    namespace.apply(table("sentinel"))
    namespace.wait_ready("sentinel")
    # Any finalizer added or table created meanwhile fails the test at once.
    with pytest.raises(AssertionError, match="timed out"):
        wait_for(lambda: finalizers(namespace, "held") != [OTHER]
                 or database.table("held") is not None, timeout=3, message="any change")
    assert database.table("held") is None
    namespace.kubectl("patch", "databasetable", "held", "--type=json", "-p",
                      json.dumps([{"op": "remove", "path": "/metadata/finalizers"}]))
    wait_for(lambda: namespace.get("held") is None, timeout=30, message="held to go")
    assert database.table("held") is None


def test_a_resource_holding_the_finalizer_from_before_is_deleted_with_its_table(
        namespace: Namespace, database: Database, start_operator) -> None:
    """As the previous version left it: our finalizer added before any handler ran (and
    another controller's beside it, which stays)."""
    start_operator("container")
    namespace.apply(held_table("alpha", [OTHER, FINALIZER]))
    namespace.wait_ready("alpha")
    assert database.table("alpha") is not None
    namespace.kubectl("delete", "databasetable", "alpha", "--wait=false")
    wait_for(lambda: finalizers(namespace, "alpha") == [OTHER], timeout=60,
             message="our finalizer released after the cleanup")
    assert database.table("alpha") is None
    namespace.kubectl("patch", "databasetable", "alpha", "--type=json", "-p",
                      json.dumps([{"op": "remove", "path": "/metadata/finalizers"}]))
    wait_for(lambda: namespace.get("alpha") is None, timeout=30, message="alpha to go")


RACE = 24


def test_resources_created_and_deleted_at_once_leave_no_table_behind_and_lose_none(
        namespace: Namespace, database: Database, start_operator, watch) -> None:
    """Half of a burst is deleted while it is being created, from other threads at the same
    time: once their deletes finished, none of theirs has a table; every kept one is Ready
    with its table."""
    seen = watch()
    start_operator("container", extra_env={"DBT_WORKERS": "2"})
    doomed = [f"doomed{i}" for i in range(RACE)]
    kept = [f"kept{i}" for i in range(RACE // 2)]

    def create(name: str) -> None:
        namespace.apply(table(name))

    def delete(name: str) -> None:
        wait_for(lambda: namespace.kubectl("delete", "databasetable", name, "--wait=false",
                                           check=False).returncode == 0,
                 timeout=60, interval=0.05, message=f"{name} deleted")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda job: job[0](job[1]),
                      [(create, name) for name in kept]
                      + [job for name in doomed for job in ((create, name), (delete, name))]))
    for name in doomed:
        wait_for(lambda: namespace.get(name) is None, timeout=120, message=f"{name} gone")
    for name in kept:
        namespace.wait_ready(name, timeout=120)
    tables = {row[0] for row in database.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r'")}
    history = {name: [(e["type"], e["object"]["metadata"]["uid"][:8],
                       e["object"]["metadata"]["resourceVersion"],
                       e["object"]["metadata"].get("finalizers"),
                       bool(e["object"]["metadata"].get("deletionTimestamp")))
                      for e in seen.seen() if e["object"]["metadata"]["name"] == name]
               for name in tables - set(kept)}
    assert tables == set(kept), history


FIRST_CYCLE = re.compile(r"\[(?P<ns>[^/\]\s]+)/alpha\] (?P<what>Adding the finalizer|"
                         r"Handler 'reconcile[^']*' is invoked)")


def test_a_create_is_handled_on_its_first_event_without_a_cycle_for_the_finalizer(
        namespace: Namespace, database: Database, start_operator) -> None:
    """Kopf spends no processing cycle (and watch round trip) on its finalizer: the first
    thing it does for a new resource is to invoke the handler, which adds the finalizer."""
    running = start_operator("inprocess")
    namespace.apply(table("alpha"))
    namespace.wait_ready("alpha")
    running.stop()
    cycles = [m["what"] for m in FIRST_CYCLE.finditer(running.logs())]
    assert cycles and cycles[0].startswith("Handler"), cycles
    assert "Adding the finalizer" not in cycles, cycles
    assert FINALIZER in finalizers(namespace, "alpha")
    assert database.table("alpha") is not None
