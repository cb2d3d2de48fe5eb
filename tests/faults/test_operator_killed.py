"""The operator is SIGKILLed while its DDL transaction is open: nothing is half-applied, and the
restarted operator finishes the job as if nothing had happened."""
from __future__ import annotations

import os
import signal

from tests.faults.conftest import Database, Namespace, column_list, warnings
from tests.support.k8s import resource, wait_for

BEFORE = [{"ID": "integer"}, {"ITEM": "text"}]
AFTER = BEFORE + [{"QTY": "integer"}, {"PRICE": "numeric(10,2)"}]
# The operator's ALTER TABLE, waiting for the lock our session holds on the table.
WAITING = """
SELECT a.pid, a.query FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
 WHERE a.application_name = 'database-table-operator' AND NOT l.granted
   AND l.relation = 'public.orders'::regclass
"""


def orders(columns: list[dict[str, str]], key: str) -> str:
    return resource("orders", {"tableName": "ORDERS", "columns": columns, "primaryKey": key})


def test_sigkill_mid_transaction_applies_nothing_and_restart_completes(
        namespace: Namespace, database: Database, start_operator, open_session) -> None:
    # A lock_timeout far beyond the test, so the operator is still waiting when it dies.
    env = {"DBT_LOCK_TIMEOUT_MS": "600000"}
    first = start_operator("container", extra_env=env)
    namespace.apply(orders(BEFORE, "ID"))
    namespace.wait_ready("orders")
    database.execute("INSERT INTO public.orders VALUES (1, 'tea'), (2, 'jam')")
    before = database.table("orders")

    holder = open_session()
    with holder.cursor() as cur:  # ACCESS SHARE conflicts with ALTER TABLE's ACCESS EXCLUSIVE
        cur.execute("LOCK TABLE public.orders IN ACCESS SHARE MODE")
    namespace.apply(orders(AFTER, "ID, ITEM"))
    [(pid, query)] = wait_for(lambda: database.execute(WAITING), timeout=30,
                              message="the operator's DDL waiting for the table lock")
    assert query.startswith("ALTER TABLE"), query

    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    holder.rollback()
    # The server notices the dead client once the lock is granted, and rolls its transaction
    # back: whatever the killed operator had executed must be gone with it.
    wait_for(lambda: not database.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                          (pid,)),
             timeout=30, message="the killed operator's backend to end")
    after = database.table("orders")
    assert after == before

    start_operator("container", extra_env=env)
    ready = namespace.wait_ready("orders", timeout=60)
    assert ready["reason"] == "Reconciled"
    assert column_list(database, "orders") == [
        ("id", "integer"), ("item", "text"), ("qty", "integer"), ("price", "numeric(10,2)")]
    assert database.table("orders").primary_key == ("id", "item")
    assert database.execute("SELECT id, item FROM public.orders ORDER BY id") == [
        (1, "tea"), (2, "jam")]
    assert warnings(namespace, "orders") == []
