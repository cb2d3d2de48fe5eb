"""A table locked by a long transaction elsewhere: the operator gives up waiting (lock_timeout),
says so, keeps working on other resources, and succeeds by itself once the lock is gone."""
from __future__ import annotations

from tests.faults.conftest import Database, Namespace, column_list, wait_condition, warnings
from tests.support.k8s import resource, wait_for

COLUMNS = [{"ID": "integer"}, {"NAME": "text"}]


def test_locked_table_times_out_and_converges_when_released(
        namespace: Namespace, database: Database, start_operator, open_session) -> None:
    start_operator("container", extra_env={"DBT_LOCK_TIMEOUT_MS": "1000"})
    namespace.apply(resource("locked", {"tableName": "LOCKED", "columns": COLUMNS,
                                        "primaryKey": "ID"}))
    namespace.wait_ready("locked")
    database.execute("INSERT INTO public.locked VALUES (1, 'ada')")

    holder = open_session()
    with holder.cursor() as cur:  # a long reader: ACCESS SHARE blocks ALTER TABLE
        cur.execute("SELECT count(*) FROM public.locked")
    namespace.apply(resource("locked", {"tableName": "LOCKED",
                                        "columns": COLUMNS + [{"EMAIL": "text"}],
                                        "primaryKey": "ID"}))
    condition = wait_condition(namespace, "locked", "LockTimeout", timeout=20)
    assert condition["message"].endswith("locked by another transaction (lock_timeout)")
    assert "LockTimeout" in dict(warnings(namespace, "locked"))
    # The operator is not stuck: another resource is served while the lock is still held.
    namespace.apply(resource("other", {"tableName": "OTHER", "columns": COLUMNS,
                                       "primaryKey": "ID"}))
    namespace.wait_ready("other", timeout=30)
    assert column_list(database, "locked") == [("id", "integer"), ("name", "text")]

    holder.rollback()
    namespace.wait_ready("locked", timeout=60)
    assert column_list(database, "locked")[-1] == ("email", "text")
    assert database.execute("SELECT id, name FROM public.locked") == [(1, "ada")]
    # However many attempts the lock cost, one Warning: the message is the same each time.
    assert [reason for reason, _ in warnings(namespace, "locked")] == ["LockTimeout"]


# The operator's ALTER TABLE, waiting for the lock another session holds on the table.
WAITING = """
SELECT 1 FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
 WHERE a.application_name = 'database-table-operator' AND NOT l.granted
   AND l.relation = 'public.locked'::regclass
"""


def test_while_every_worker_waits_on_a_lock_other_resources_still_get_their_finalizer(
        namespace: Namespace, database: Database, start_operator, open_session) -> None:
    """Kopf's own steps for a resource (its index entry, the finalizer) need no worker thread:
    they are not queued behind database work, however long it waits."""
    start_operator("container", extra_env={"DBT_WORKERS": "1", "DBT_LOCK_TIMEOUT_MS": "60000"})
    namespace.apply(resource("locked", {"tableName": "LOCKED", "columns": COLUMNS,
                                        "primaryKey": "ID"}))
    namespace.wait_ready("locked")
    holder = open_session()
    with holder.cursor() as cur:
        cur.execute("SELECT count(*) FROM public.locked")
    namespace.apply(resource("locked", {"tableName": "LOCKED",
                                        "columns": COLUMNS + [{"EMAIL": "text"}],
                                        "primaryKey": "ID"}))
    wait_for(lambda: database.execute(WAITING), timeout=30,
             message="the only worker waiting for the table lock")

    namespace.apply(resource("other", {"tableName": "OTHER", "columns": COLUMNS,
                                       "primaryKey": "ID"}))
    wait_for(lambda: (namespace.get("other") or {}).get("metadata", {}).get("finalizers"),
             timeout=15, message="the finalizer on a resource created meanwhile")
    assert database.execute(WAITING)  # the worker was busy all along

    holder.rollback()
    namespace.wait_ready("locked", timeout=60)
    namespace.wait_ready("other", timeout=60)
