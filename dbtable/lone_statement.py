"""The one-statement path of a reconcile (an edge: it takes a connection): an operation that
cannot run in a transaction block (CREATE [UNIQUE] INDEX CONCURRENTLY) runs alone, in
autocommit, after the planning transaction has ended (dbtable/reconcile.py), under a
session-level lock of the resource instead of the transaction's.
"""
from __future__ import annotations

import logging
from typing import Any

import psycopg2
from psycopg2.extensions import connection as Connection

from dbtable.database import DatabaseSettings, is_connection_error
from dbtable.index_operations import CreateIndex, DropFailedIndex
from dbtable.model import Owner
from dbtable.plan import Operation
from dbtable.reconcile_locks import LOCK_CLASS
from dbtable.render import render
from dbtable.unique_operations import CreateUniqueIndex, DropUniqueIndex

log = logging.getLogger(__name__)

DUPLICATE_TABLE = "42P07"  # a relation of that name exists


def execute_alone(conn: Connection, settings: DatabaseSettings, owner: Owner,
                  operation: Operation) -> tuple[str, ...]:
    """One statement in autocommit, with the same bounds and the resource's lock held for
    the session (released after, or with the session if the connection dies)."""
    (statement,) = render((operation,), settings.schema)
    text = statement.as_string(conn)
    key = (LOCK_CLASS, f"resource:{owner}")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('lock_timeout', %s, false), "
                        "set_config('statement_timeout', %s, false)",
                        (f"{settings.lock_timeout_ms}ms", f"{settings.statement_timeout_ms}ms"))
            cur.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", key)
            try:
                log.debug("SQL statement: %s;", text)
                cur.execute(statement)
            except psycopg2.Error as e:
                _clean_up_after(conn, cur, operation, settings.schema, e)
                raise
            finally:
                # A lost connection took the lock and the settings with it: the statement's
                # own error is the one to report.
                if not conn.closed:
                    cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)
                    cur.execute("RESET lock_timeout; RESET statement_timeout")
    finally:
        if not conn.closed:
            conn.autocommit = False
    return (text,)


def _clean_up_after(conn: Connection, cur: Any, operation: Operation, schema: str,
                    error: psycopg2.Error) -> None:
    """A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an INVALID index, which still refuses
    new duplicates while the status says the constraint is not there: drop it at once (the
    next plan would too). Not when the connection is gone: then the next plan does it."""
    if not isinstance(operation, (CreateUniqueIndex, CreateIndex)) or conn.closed \
            or is_connection_error(error):
        return
    if isinstance(operation, CreateIndex):
        if error.pgcode == DUPLICATE_TABLE:  # the name is someone else's: never drop it
            return
        cleanup: Operation = DropFailedIndex(operation.table, operation.name)
    else:
        cleanup = DropUniqueIndex(operation.table, operation.column, operation.name)
    (drop,) = render((cleanup,), schema)
    log.debug("SQL statement: %s;", drop.as_string(conn))
    cur.execute(drop)
