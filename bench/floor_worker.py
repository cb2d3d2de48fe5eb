"""The floor's worker process: the least any operator with a finalizer and a status must do.

    python -m bench.floor_worker --port P --ca CA --cert CERT --key KEY --namespace NS
        [--threads 16]      (DBT_FLOOR_DATABASE_URL in the environment)

No framework: one watch of the namespace; for each new DatabaseTable, one of ``--threads``
threads sends the finalizer PATCH, runs the CREATE TABLE on one shared connection and sends a
status PATCH with Ready. A process of its own, as an operator is, so it does not share the
benchmark's interpreter (and GIL) with the client threads. Prints "watching" once its watch is
up; stops when its stdin closes. Imports only what it uses.
"""
from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from bench.burst_api import Api, ReadyWatch, collection

FINALIZER = "kopf.demo/database-table-operator"
COLUMN_TYPES = frozenset({"integer", "date", "timestamp", "varchar(50)", "varchar(100)"})


class NewObjects(ReadyWatch):
    """Hands every DatabaseTable not seen before to ``work`` (from the list, then the watch)."""

    def __init__(self, api: Api, namespace: str, work: queue.Queue[Any]) -> None:
        super().__init__(api, namespace)
        self.work, self.seen = work, set()

    def _note(self, obj: dict[str, Any]) -> None:
        name = obj.get("metadata", {}).get("name")
        if name and name not in self.seen and FINALIZER not in obj["metadata"].get(
                "finalizers", []):
            self.seen.add(name)
            self.work.put(obj)


def create_statement(spec: dict[str, Any]) -> sql.Composed:
    """CREATE TABLE for the benchmark's own specs: names quoted, types from a fixed list."""
    columns = []
    for column in spec["columns"]:
        (name, type_name), = column.items()
        if type_name not in COLUMN_TYPES:
            raise ValueError(f"the floor knows no column type {type_name!r}")
        columns.append(sql.SQL("{} {}").format(sql.Identifier(name.lower()), sql.SQL(type_name)))
    return sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY ({}))").format(
        sql.Identifier(spec["tableName"].lower()), sql.SQL(", ").join(columns),
        sql.Identifier(spec["primaryKey"].lower()))


def ready_status(generation: int) -> dict[str, Any]:
    return {"status": {"observedGeneration": generation, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Reconciled",
        "message": "Table is up to date", "observedGeneration": generation,
        "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]}}


def handle(api: Api, path: str, work: queue.Queue[Any], conn: Any,
           lock: threading.Lock) -> None:
    merge = "application/merge-patch+json"
    while (obj := work.get()) is not None:
        try:
            name, generation = obj["metadata"]["name"], obj["metadata"]["generation"]
            api.request("PATCH", f"{path}/{name}", {"metadata": {"finalizers": [FINALIZER]}},
                        merge)
            with lock, conn.cursor() as cur:
                cur.execute(create_statement(obj["spec"]))
            api.request("PATCH", f"{path}/{name}/status", ready_status(generation), merge)
        except Exception as e:  # shown by the benchmark; that resource then never gets Ready
            print(f"[ERROR] {name}: {str(e)[:300]}", file=sys.stderr, flush=True)
    api.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_worker")
    for option in ("--ca", "--cert", "--key"):
        parser.add_argument(option, type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    api = Api(args.port, args.ca, args.cert, args.key)
    conn = psycopg2.connect(os.environ["DBT_FLOOR_DATABASE_URL"])
    conn.autocommit = True
    work: queue.Queue[Any] = queue.Queue()
    lock = threading.Lock()
    handlers = [threading.Thread(target=handle, daemon=True,
                                 args=(api, collection(args.namespace), work, conn, lock))
                for _ in range(args.threads)]
    for h in handlers:
        h.start()
    watch = NewObjects(api, args.namespace, work).start_and_wait()
    print("watching", flush=True)
    sys.stdin.read()  # until the benchmark closes it
    watch.stop()
    for _ in handlers:
        work.put(None)
    for h in handlers:
        h.join(30)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
