"""Converge one table in one transaction (an edge: it takes a connection).

Every call reads the real table from the catalog and plans from actual to desired, so running
it twice changes nothing the second time, and a restart mid-way loses nothing: PostgreSQL DDL
is transactional, so each transaction of a plan is applied whole or not at all. A plan with a
long scan (validating a NOT NULL check) is applied one transaction per call: the first call
commits the brief exclusive changes, and the caller calls again for the rest, which the next
plan (read from the catalog again) resumes where the last one stopped.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from dbtable.batch import Part, send
from dbtable.reconcile_locks import ATTEMPTS, begin, lock_more, name_locks
from dbtable.catalog import (TABLE_NAMED, TABLES, named_table_query, owned_table_query,
                             read_owned_table, tables_found)
from dbtable.catalog_snapshot import SNAPSHOT, Snapshot, parse_snapshot, snapshot_params
from dbtable.database import DatabaseSettings
from dbtable.fk_catalog import read_key_facts, read_referencing
from dbtable.lone_statement import execute_alone
from dbtable.plan_foreign_keys import refusal_for_error
from dbtable.model import ActualTable, DeletionPolicy, DesiredTable, Owner
from dbtable.operations import CreateTable
from dbtable.plan import Facts, Operation, Plan, plan_delete, plan_reconcile, plan_repair
from dbtable.plan_columns import needed_facts, plan_renames
from dbtable.render import render
from dbtable.retype_facts import RECHECKS, retype_candidates
from dbtable.resolve import resolve_defaults, resolve_types
from dbtable.catalog_indexes import name_holders
from dbtable.plan_indexes import index_counts
from dbtable.plan_uniques import wanted_names
from dbtable.render_indexes import duplicate_count

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    statements: tuple[str, ...]
    table: ActualTable | None  # the owned table after the transaction
    # The operations this call applied, and those left for the next calls (each of them
    # replans first); empty ``pending``: the table is where the spec wants it.
    applied: tuple[Operation, ...] = ()
    pending: tuple[Operation, ...] = ()


def reconcile_table(conn: Connection, settings: DatabaseSettings, desired: DesiredTable,
                    owner: Owner, repair_only: bool = False) -> Outcome:
    """Bring the resource's table to ``desired``; a refused plan applies nothing.

    ``repair_only`` (the periodic drift check) applies only additive repairs.
    """
    names = {desired.name}
    for attempt in range(ATTEMPTS):
        with conn, conn.cursor() as cur:
            # Who holds the desired name is read under its lock, so another resource cannot
            # take it between our look and our CREATE or RENAME; our table is stable: the
            # resource is locked.
            seen = _snapshot(cur, settings, owner, desired, names)
            more = {seen.owned.name} - names if seen.owned is not None else set()
            if more and not lock_more(cur, names, more, wait=attempt == ATTEMPTS - 1):
                conn.rollback()  # and again, with every name locked in order from the start
                names |= more
                continue
            plan = _plan(cur, settings.schema, desired, owner, seen)
            if repair_only:
                plan = plan_repair(plan)
            if plan.refused:
                conn.rollback()
                return Outcome(plan, (), seen.owned)
            now, later = plan.first_transaction()
            if not now or now[0].transactional:
                try:
                    statements = _execute(conn, cur, Plan(operations=now), settings.schema,
                                          then=_read_back(settings.schema, owner, seen, now))
                except psycopg2.Error as e:
                    refusal = refusal_for_error(e, now)
                    if refusal is None:
                        raise
                    conn.rollback()  # nothing of the transaction stays
                    return Outcome(Plan(refusals=(refusal,)), (), seen.owned)
                # The table as it is now: read in the round trip of the statements, or as read
                # before planning when there were none.
                table = (tables_found(cur.fetchall(), settings.schema, owner=owner)[0]
                         if statements else seen.owned)
                return Outcome(plan, statements, table, applied=now, pending=later)
        # CREATE INDEX CONCURRENTLY cannot run in a transaction block: alone, after the
        # planning transaction has ended, under a session-level lock of the resource instead.
        statements = execute_alone(conn, settings, owner, now[0])
        with conn, conn.cursor() as cur:
            return Outcome(plan, statements, read_owned_table(cur, settings.schema, owner),
                           applied=now, pending=later)
    raise AssertionError("unreachable: the last attempt waits for its locks")


def delete_table(conn: Connection, settings: DatabaseSettings, owner: Owner,
                 policy: DeletionPolicy | None, retention: timedelta | None = None) -> Outcome:
    """Drop, keep aside (``retention``) or release (Retain) the resource's table, if it has one.

    Only a table whose marker names this very object (its uid) is touched: a marker of the
    same namespace/name with another uid belongs to a newer object of the resource, which a
    late deletion of an older one must not drop.
    """
    with conn, conn.cursor() as cur:
        send(cur, *begin(settings, owner), owned_table_query(settings.schema, owner),
             prepare=(TABLES,))
        owned = tables_found(cur.fetchall(), settings.schema, owner=owner)[0]
        if owned is not None and (owned.owner is None or owned.owner.uid != owner.uid):
            owned = None
        until = None
        referencing: tuple[str, ...] = ()
        if owned is not None:
            send(cur, *name_locks({owned.name}))
            referencing = read_referencing(cur, settings.schema, owned.name)
            if retention is not None:
                cur.execute("SELECT now() + %s", (retention,))
                until = cur.fetchone()[0]
        plan = plan_delete(owned, policy, retain_until=until, referencing=referencing)
        statements = _execute(conn, cur, plan, settings.schema)
        return Outcome(plan, statements, None)


def execute_locked(conn: Connection, settings: DatabaseSettings, owner: Owner, name: str,
                   decide: Callable[[Any], Operation | None]) -> bool:
    """Under the locks of ``owner`` and of table ``name``, run the operation ``decide`` picks
    after reading the catalog (e.g. purging a table kept aside); True when one ran."""
    with conn, conn.cursor() as cur:
        send(cur, *begin(settings, owner), *name_locks({name}))
        operation = decide(cur)
        if operation is None:
            return False
        _execute(conn, cur, Plan(operations=(operation,)), settings.schema)
        return True


def preview(conn: Connection | None, settings: DatabaseSettings, desired: DesiredTable,
            owner: Owner) -> tuple[Plan, list[sql.Composed]]:
    """The plan and SQL a reconcile would run, changing nothing (the plan command)."""
    if conn is None:
        plan = plan_reconcile(desired, owner, None, None)
        return plan, render(plan.operations, settings.schema)
    with conn, conn.cursor() as cur:
        send(cur, "SET TRANSACTION READ ONLY",
             SNAPSHOT.plain(snapshot_params(settings.schema, owner, desired)))
        seen = parse_snapshot(cur.fetchone(), settings.schema, owner, desired)
        plan = _plan(cur, settings.schema, desired, owner, seen)
        conn.rollback()
    return plan, render(plan.operations, settings.schema)


def _snapshot(cur: Any, settings: DatabaseSettings, owner: Owner, desired: DesiredTable,
              names: set[str]) -> Snapshot:
    """Bound every wait, lock the resource and ``names``, and read what the planner needs:
    one round trip."""
    # TABLES and TABLE_NAMED too: the table is read again with the statements (_execute).
    send(cur, *begin(settings, owner), *name_locks(names),
         SNAPSHOT.execute(snapshot_params(settings.schema, owner, desired)),
         prepare=(SNAPSHOT, TABLES, TABLE_NAMED))
    return parse_snapshot(cur.fetchone(), settings.schema, owner, desired)


def _read_back(schema: str, owner: Owner, seen: Snapshot,
               operations: tuple[Operation, ...]) -> Part:
    """The query that reads our table again after ``operations``. Found by its marker, which
    reads every table comment in the schema; but when no table carried our marker (read under
    the resource's lock) and these operations create one, the table is the one they create:
    found by its name, an index lookup, however many tables the schema holds."""
    created = [op.table for op in operations if isinstance(op, CreateTable)]
    if seen.owned is None and len(created) == 1:
        return named_table_query(schema, created[0])
    return owned_table_query(schema, owner)


def _plan(cur: object, schema: str, desired: DesiredTable, owner: Owner,
          seen: Snapshot) -> Plan:
    """Plan from what the snapshot says (the spec's types, our table, what holds the desired
    name if it is not our table already), reading more only for what the change needs."""
    owned = seen.owned
    desired = resolve_defaults(cur, resolve_types(cur, desired, seen.types), owned)
    occupant = blocker = None
    if owned is None or owned.name != desired.name:
        occupant = seen.named
        if occupant is None:
            blocker = seen.blocker
    facts = read_facts(cur, desired, owned) if owned is not None else Facts()
    table = owned or occupant
    taken = name_holders(seen.holders, (i.name for i in desired.indexes),
                         table.name if table else None,
                         (i.name for i in table.indexes) if table else ())
    own = (*(n for n, _ in table.uniques), *(n for n, _ in table.unique_indexes)) if table else ()
    uniques_taken = name_holders(seen.holders, wanted_names(desired),
                                 table.name if table else None, own)
    facts = dataclasses.replace(facts, index_names_taken=taken,
                                unique_names_taken=uniques_taken)
    facts = read_key_facts(cur, schema, desired, owned, facts, seen.references)
    return plan_reconcile(desired, owner, owned, occupant, blocker, facts)


def read_facts(cur: Any, desired: DesiredTable, table: ActualTable) -> Facts:
    """Count what the planner needs to refuse a change (rows, NULLs), in one scan at most;
    nothing when the change needs no count. With a type change, also what PostgreSQL would
    re-check or rebuild by scanning the table (a catalog query, no scan)."""
    facts = _count_facts(cur, desired, table)
    if not retype_candidates(desired, table):
        return facts
    renamed = dict(plan_renames(desired, table)[0].pairs)
    cur.execute(RECHECKS, (table.schema, table.name))
    return dataclasses.replace(facts, rechecks=tuple(
        (renamed.get(column, column), what) for column, what in cur.fetchall()))


def _count_facts(cur: Any, desired: DesiredTable, table: ActualTable) -> Facts:
    need_rows, columns, repeats = needed_facts(desired, table)
    renamed = dict(plan_renames(desired, table)[0].pairs)
    indexes = index_counts(desired, table, renamed)
    if not need_rows and not columns and not repeats and not indexes:
        return Facts()
    counts = [sql.SQL("count(*)")] + [
        sql.SQL("count(*) FILTER (WHERE {} IS NULL)").format(sql.Identifier(c))
        for c in columns] + [
        sql.SQL("count({0}) - count(DISTINCT {0})").format(sql.Identifier(c)) for c in repeats
    ] + [duplicate_count(keys) for _, keys in indexes]
    cur.execute(sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(counts), sql.Identifier(table.schema, table.name)))
    rows, *found = cur.fetchone()
    nulls, duplicates = found[:len(columns)], found[len(columns):len(columns) + len(repeats)]
    # Keyed by the spec's names: a column renamed in the same plan is counted by its old one.
    return Facts(rows=rows, nulls=tuple((renamed.get(c, c), n) for c, n in zip(columns, nulls)),
                 duplicates=tuple((renamed.get(c, c), n) for c, n in zip(repeats, duplicates)),
                 index_duplicates=tuple(
                     (name, n) for (name, _), n in zip(indexes, found[len(columns)
                                                                      + len(repeats):])))


def _execute(conn: Connection, cur: object, plan: Plan, schema: str,
             then: Part | None = None) -> tuple[str, ...]:
    """The plan's statements in one round trip, and ``then`` (a query whose rows the caller
    fetches) after them in the same one; nothing at all when the plan has no statement."""
    executed = tuple(statement.as_string(conn) for statement in render(plan.operations, schema))
    for text in executed:
        log.debug("SQL statement: %s;", text)
    if executed:
        send(cur, *executed, *((then,) if then is not None else ()))
    return executed
