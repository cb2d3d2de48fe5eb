"""A new resource's table made in one round trip, its plan known before the catalog is read
(issue 10).

A reconcile reads the catalog before it plans (dbtable/reconcile.py): its snapshot says who
owns, holds or blocks the desired name, what the spec's types mean, which index and constraint
names are taken and what the foreign keys reference. At 500 tables that read costs the server
about 0.8 ms of CPU per create, and the read-back after the DDL another 0.7 ms, each in a round
trip of its own: more than the CREATE TABLE itself.

For a resource just created whose spec asks for a plain table (columns, a primary key, NOT
NULL), the snapshot can change the plan in three ways only: something already holds the name
(a table, an index, a view, a type), a type is one PostgreSQL does not know (a refusal), or
another table carries the resource's marker (a table to reclaim, not to create). What else the
snapshot answers (taken index and constraint names, referenced tables) serves the parts of a
spec this path leaves to the full reconcile. So here the plan is
made first, the one plain reconcile makes when no table exists (``fresh_plan``), and both
conditions are checked by PostgreSQL in the same transaction, under the same locks, after the
fact: CREATE TABLE fails when anything holds the name or a type is unknown, and the read-back
must find, by the name and by the marker, the new table alone (read without looking up
checks, unique constraints, indexes and foreign keys: the plan makes none, and no one else
sees the table before the commit; catalog.NEW_TABLES). Otherwise the transaction is
rolled back, nothing stays, and the reconcile reads and plans as always.

A failed attempt leaves an ERROR line in PostgreSQL's log (the CREATE TABLE it ran); the
handler tries this path only on a resource's create event, where the name is almost always
free.
"""
from __future__ import annotations

import logging

import psycopg2
from psycopg2.extensions import connection as Connection

from dbtable.batch import send
from dbtable.catalog import NEW_TABLES, tables_found, tables_params
from dbtable.database import DatabaseSettings, is_connection_error
from dbtable.model import DesiredTable, Owner
from dbtable.plan import Plan, plan_reconcile
from dbtable.reconcile import Outcome
from dbtable.reconcile_locks import begin, name_locks
from dbtable.render import render

log = logging.getLogger(__name__)


def fresh_plan(desired: DesiredTable, owner: Owner) -> Plan | None:
    """The plan the full reconcile makes for ``desired`` where no table exists yet (its own
    planner, asked with nothing found), when the catalog has nothing else to say about it: no
    indexes, foreign keys, unique columns, defaults, previous names, columns to drop or
    adoption. None when the spec needs the full reconcile."""
    if desired.indexes or desired.foreign_keys or desired.drop_columns \
            or desired.adopt_existing:
        return None
    if any(c.options.default is not None or c.options.unique or c.options.previous_names
           for c in desired.columns):
        return None
    plan = plan_reconcile(desired, owner, owned=None, occupant=None)
    now, later = plan.first_transaction()
    # All of it in the one transaction create_fresh sends (no CREATE INDEX CONCURRENTLY).
    return plan if plan.operations and not later and now[0].transactional else None


def create_fresh(conn: Connection, settings: DatabaseSettings, desired: DesiredTable,
                 owner: Owner) -> Outcome | None:
    """Make ``desired``'s table as ``fresh_plan`` says, in one transaction: None (and nothing
    done) when the spec needs the full reconcile, or the catalog turns out to hold the name or
    a table with the resource's marker."""
    plan = fresh_plan(desired, owner)
    if plan is None:
        return None
    statements = tuple(s.as_string(conn) for s in render(plan.operations, settings.schema))
    # In autocommit, so that BEGIN travels with the statements instead of in a round trip of
    # its own (psycopg2 sends one before a transaction's first statement); COMMIT or ROLLBACK
    # is then ours to send, whatever happens.
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            owned = None
            try:
                send(cur, "BEGIN", *begin(settings, owner), *name_locks({desired.name}),
                     *statements, NEW_TABLES.execute(tables_params(settings.schema, owner,
                                                                   desired.name)),
                     prepare=(NEW_TABLES,))
                rows = cur.fetchall()
                if len(rows) == 1:  # else another table carries the marker: it is reclaimed
                    owned, named = tables_found(rows, settings.schema, owner=owner,
                                                name=desired.name)
                    owned = owned if owned is named else None
            except psycopg2.Error as e:
                if is_connection_error(e):
                    raise
                # The name is held, a type unknown, a lock busy: plan in full.
                log.debug("Fresh create of %s not possible (%s): reading the catalog first.",
                          desired.name, e.pgcode)
            finally:
                if not conn.closed:
                    cur.execute("COMMIT" if owned is not None else "ROLLBACK")
    finally:
        if not conn.closed:
            conn.autocommit = False
    if owned is None:
        return None
    for text in statements:
        log.debug("SQL statement: %s;", text)
    return Outcome(plan, statements, owned, applied=plan.operations)
