"""The operator dies in the middle of CREATE INDEX CONCURRENTLY: the INVALID index the build
left behind is found in the catalog by the restarted operator, dropped concurrently and built
again, and the index takes its name; nothing is remembered outside the database."""
from __future__ import annotations

import os
import signal

from tests.faults.conftest import Database, Namespace, warnings
from tests.support.k8s import resource, wait_for

COLUMNS = [{"ID": "integer"}, {"ITEM": "text"}]
# The operator's concurrent build, past its catalog entry, waiting for a writer to finish.
BUILDING = """
SELECT a.pid FROM pg_stat_activity a
 WHERE a.application_name = 'database-table-operator' AND a.wait_event_type = 'Lock'
   AND a.query LIKE 'CREATE INDEX CONCURRENTLY%%'
"""
INDEXES = """
SELECT i.relname, x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
 WHERE x.indrelid = 'public.items'::regclass ORDER BY 1
"""


def items(**changes: object) -> str:
    return resource("items", {"tableName": "ITEMS", "columns": COLUMNS, "primaryKey": "ID",
                              **changes})


def test_a_build_killed_midway_is_dropped_and_built_again_after_a_restart(
        namespace: Namespace, database: Database, start_operator, open_session) -> None:
    env = {"DBT_LOCK_TIMEOUT_MS": "600000"}  # still waiting when it dies
    first = start_operator("container", extra_env=env)
    namespace.apply(items())
    namespace.wait_ready("items")
    database.execute("INSERT INTO public.items SELECT g, 'item ' || g "
                     "FROM generate_series(1, 1000) g")

    writer = open_session()  # an open write: the build waits for it after its catalog entry
    with writer.cursor() as cur:
        cur.execute("INSERT INTO public.items VALUES (1001, 'late')")
    namespace.apply(items(indexes=[{"name": "BY_ITEM", "columns": ["ITEM"]}]))
    [(pid,)] = wait_for(lambda: database.execute(BUILDING), timeout=60,
                        message="the operator's concurrent build waiting for the writer")
    [(build, valid)] = [row for row in database.execute(INDEXES) if row[0] != "items_pkey"]
    assert build.startswith("dbt_ix_build_") and valid is False

    # The operator and its connection die mid-build (as a node or a network would kill them).
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    database.execute("SELECT pg_terminate_backend(%s)", (pid,))
    writer.commit()
    assert database.execute(INDEXES) == [(build, False), ("items_pkey", True)]

    start_operator("container", extra_env=env)
    ready = namespace.wait_ready("items", timeout=90)
    assert ready["reason"] == "Reconciled"
    assert database.execute(INDEXES) == [("by_item", True), ("items_pkey", True)]
    assert ("by_item", ["item"], True, True) in [
        (i["name"], i["columns"], i["valid"], i["managed"])
        for i in namespace.get("items")["status"]["indexes"]]
    dropped = [e["message"] for e in namespace.events("items") if e["reason"] == "IndexDropped"]
    assert any(build in message and "did not finish" in message for message in dropped), dropped
    assert warnings(namespace, "items") == []
