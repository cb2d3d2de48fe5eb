"""What a failed reconcile or delete means for retrying, decided by SQLSTATE (pure).

Two kinds of failure, and the difference matters: retrying what cannot succeed costs a Warning
Event, a connection and, for DDL, an ACCESS EXCLUSIVE lock that queues every reader of the
table behind it, on every attempt.

- **Temporary** (``permanent=False``): the same statement may well succeed later without anyone
  changing anything: the server is unreachable or shutting down, a lock is held elsewhere, a
  deadlock or serialization failure, the server is short of memory, disk or connections, data
  that a new key does not fit yet (duplicates, NULLs: fixed in the database, not in the spec).
  Retried with backoff, 5 s doubling to 300 s.
- **Permanent** (``permanent=True``): retrying the same spec against the same database fails
  the same way: a name or type PostgreSQL refuses (classes 42, 22, 54, 0A: ``xmin`` as a column,
  an unknown type, a key on a type without a btree operator class, 1,601 columns), missing
  privileges or schema, and a statement that ran into ``statement_timeout`` (see
  ``_statement_timeout``). Not retried with backoff: the next spec change, drift sweep or
  operator restart tries again.
"""
from __future__ import annotations

from dataclasses import dataclass

import psycopg2
from psycopg2._psycopg import sqlstate_errors

from dbtable.catalog import AmbiguousOwnership
from dbtable.database import is_connection_error
from dbtable.pool import PoolTimeout

MAX_RETRY_DELAY = 300

# Class 42 errors that a concurrent change of the catalog can cause (a table dropped or created
# by someone else between our catalog read and our statement): the next attempt reads the
# catalog again and plans around it.
_RACES = frozenset({"42P01", "42P07"})  # undefined_table, duplicate_table
# Whole SQLSTATE classes that describe the statement itself, hence the spec or the database's
# definitions, never the moment it ran: data exception, syntax error or access rule violation,
# program limit exceeded, feature not supported, invalid schema name.
_PERMANENT_CLASSES = ("22", "42", "54", "0A", "3F")


@dataclass(frozen=True)
class Failure:
    """How to report a failure and whether retrying on a timer can help."""

    reason: str        # the Ready condition's reason and the Event's reason
    message: str       # stable across retries: no delays or counters, so repeats are repeats
    permanent: bool    # only a change (spec, database, settings) can make it succeed


def retry_delay(retry: int) -> int:
    """Backoff for the temporary failures: 5 s, 10 s, 20 s, ... at most 300 s."""
    return min(5 * 2 ** min(retry, 16), MAX_RETRY_DELAY)


def classify(error: BaseException, action: str, statement_timeout_ms: int) -> Failure | None:
    """The failure ``error`` is, or None for an error that is not about the database (a bug:
    let Kopf log its traceback). ``action`` completes "could not ..." in the message."""
    if isinstance(error, AmbiguousOwnership):
        return Failure("Conflict", f"could not {action}: {error}", permanent=True)
    if isinstance(error, PoolTimeout):
        return Failure("DatabaseUnavailable", f"cannot reach PostgreSQL to {action}: {error}",
                       permanent=False)
    if not isinstance(error, psycopg2.Error):
        return None
    code = sqlstate(error)
    if code.startswith(("08", "57P")) or (not code and is_connection_error(error)):
        return Failure("DatabaseUnavailable",
                       f"cannot reach PostgreSQL to {action}: {first_line(error)}",
                       permanent=False)
    if code == "55P03":  # lock_not_available: lock_timeout
        return Failure("LockTimeout", f"could not {action}: the table is locked by another "
                                      "transaction (lock_timeout)", permanent=False)
    if code == "57014" and "statement timeout" in first_line(error):
        return _statement_timeout(action, statement_timeout_ms)
    permanent = code.startswith(_PERMANENT_CLASSES) and code not in _RACES
    detail = f"{first_line(error)} (SQLSTATE {code})" if code else first_line(error)
    if permanent:
        return Failure("ApplyFailed", f"PostgreSQL refused to {action}, nothing was applied: "
                                      f"{detail}; it will fail the same way until the spec or "
                                      "the database changes", permanent=True)
    return Failure("ApplyFailed", f"PostgreSQL refused to {action}, nothing was applied: "
                                  f"{detail}", permanent=False)


def _statement_timeout(action: str, statement_timeout_ms: int) -> Failure:
    """A statement ran into statement_timeout: permanent, with what to do about it.

    Lock waits end at lock_timeout (LockTimeout), so a statement that reaches statement_timeout
    was working, not waiting: a new primary key reads the whole table and builds its index
    under ACCESS EXCLUSIVE. The same work on the same rows takes as long again, and every
    attempt blocks all readers of the table for the whole timeout, so retrying with backoff only
    repeats the outage. One attempt per spec change, drift sweep or restart is the bound.
    """
    seconds = f"{statement_timeout_ms / 1000:g}"
    return Failure("StatementTimeout",
                   f"could not {action}: a statement ran longer than statement_timeout "
                   f"({seconds} s) and was cancelled, nothing was applied. The table is "
                   "probably too large for this change within that time (a new primary key "
                   "scans the table and builds an index while it blocks every query on it), "
                   "so it is not retried with backoff, only by the drift sweep: raise "
                   "DBT_STATEMENT_TIMEOUT_MS and restart the operator, or make the change at a "
                   "quiet time", permanent=True)


# psycopg2 raises one class per SQLSTATE; the class names the code even where ``pgcode`` is
# unset (an error raised by our own code, or in a test).
_CODES = {cls: code for code, cls in sqlstate_errors.items()}


def sqlstate(error: psycopg2.Error) -> str:
    return error.pgcode or _CODES.get(type(error), "")


def first_line(error: BaseException) -> str:
    """PostgreSQL's primary message (no DETAIL, HINT or query text), else the exception's."""
    diag = getattr(error, "diag", None)
    message = (diag.message_primary if diag is not None else None) or str(error)
    return message.strip().splitlines()[0] if message.strip() else type(error).__name__
