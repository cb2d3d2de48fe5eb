"""bench_burst's floor: what any operator with a finalizer and a status must do, and no more.

No operator process: for each created resource, one of ``threads`` threads in the benchmark
sends the finalizer PATCH, runs the CREATE TABLE on one shared connection and sends a status
PATCH with Ready (the condition the watch waits for, as for this operator).
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Any

import psycopg2
from psycopg2 import sql

from bench.burst_api import ReadyWatch, collection
from bench.burst_rows import Row, Site, burst, measured, new_namespace
from tests.support.postgres import create_operator_database

FINALIZER = "kopf.demo/database-table-operator"


def floor_row(site: Site, count: int, threads: int, timeout: float) -> Row:
    """No operator: per created resource a finalizer PATCH, the CREATE TABLE on one shared
    connection, a status PATCH with Ready; ``threads`` threads do this beside the creators."""
    row = Row("floor (no operator)", count)
    namespace, _ = new_namespace(site, "burst-floor")
    db = create_operator_database(site.pg, prefix="burst")
    conn = psycopg2.connect(db["url"])
    conn.autocommit = True
    lock = threading.Lock()
    work: queue.Queue[dict[str, Any] | None] = queue.Queue()
    path = collection(namespace)
    errors: list[str] = []

    def handle() -> None:
        while (obj := work.get()) is not None:
            try:
                name, generation = obj["metadata"]["name"], obj["metadata"]["generation"]
                site.api.request("PATCH", f"{path}/{name}",
                                 {"metadata": {"finalizers": [FINALIZER]}},
                                 "application/merge-patch+json")
                with lock, conn.cursor() as cur:
                    cur.execute(create_statement(obj["spec"]))
                site.api.request("PATCH", f"{path}/{name}/status", {"status": {
                    "observedGeneration": generation, "conditions": [{
                        "type": "Ready", "status": "True", "reason": "Reconciled",
                        "message": "Table is up to date", "observedGeneration": generation,
                        "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                            time.gmtime())}]}},
                                 "application/merge-patch+json")
            except Exception as e:  # counted and shown; the row then lacks that Ready
                errors.append(str(e)[:200])
        site.api.close()

    handlers = [threading.Thread(target=handle, daemon=True) for _ in range(threads)]
    watch = ReadyWatch(site.api, namespace).start_and_wait()
    try:
        for h in handlers:
            h.start()
        with measured(site, row, None):
            burst(site, row, namespace, threads, timeout, lambda: watch.ready_at, work.put)
        row.watch_ends = watch.ends
    finally:
        for _ in handlers:
            work.put(None)
        for h in handlers:
            h.join(30)
        watch.stop()
        conn.close()
    row.errors = errors
    return row


def create_statement(spec: dict[str, Any]) -> sql.Composed:
    """CREATE TABLE for the benchmark's own specs: names quoted, types from a fixed list."""
    types = {"integer", "date", "timestamp", "varchar(50)", "varchar(100)"}
    columns = []
    for column in spec["columns"]:
        (name, type_name), = column.items()
        if type_name not in types:
            raise ValueError(f"the floor knows no column type {type_name!r}")
        columns.append(sql.SQL("{} {}").format(sql.Identifier(name.lower()), sql.SQL(type_name)))
    return sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY ({}))").format(
        sql.Identifier(spec["tableName"].lower()), sql.SQL(", ").join(columns),
        sql.Identifier(spec["primaryKey"].lower()))
