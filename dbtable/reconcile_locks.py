"""The advisory locks a reconcile takes (an edge's SQL): its resource's, then the names of
the tables it may touch, in sorted order.

They are sent in the round trip that reads the catalog (dbtable/reconcile.py, ``_snapshot``),
so everything is read under them. Only then does a reconcile know its table's current name,
which a rename needs locked too: ``lock_more`` takes it without ever waiting out of order.
"""
from __future__ import annotations

from typing import Any

from dbtable.batch import Part, send
from dbtable.database import DatabaseSettings
from dbtable.model import Owner

# First key of pg_advisory_xact_lock(int, int): "DBT" — keeps our locks apart from others'.
LOCK_CLASS = 0x444254
_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"
# A reconcile starts again with every name locked in order when one of its names turns out to
# sort before one it holds and is busy (lock_more); the last attempt waits.
ATTEMPTS = 3


def begin(settings: DatabaseSettings, owner: Owner) -> tuple[Part, Part]:
    """Bound every wait, then serialize work on this resource across operator replicas."""
    return (("SELECT set_config('lock_timeout', %s, true), "
             "set_config('statement_timeout', %s, true)",
             (f"{settings.lock_timeout_ms}ms", f"{settings.statement_timeout_ms}ms")),
            # Keyed by namespace/name, not uid: an earlier object of the same resource (a
            # restore, a re-create) and this one then never work on the table at the same time.
            (_LOCK, (LOCK_CLASS, f"resource:{owner}")))


def name_locks(names: set[str]) -> list[Part]:
    # Sorted, so two transactions that need the same names never wait on each other in a cycle.
    return [(_LOCK, (LOCK_CLASS, f"table:{name}")) for name in sorted(names)]


def lock_more(cur: Any, held: set[str], more: set[str], wait: bool) -> bool:
    """Also lock ``more``; False if that would break the sorted order (a name sorts before
    one held) and another transaction holds one of them: the caller starts again with all of
    them. ``wait``: take them whatever the order (the last attempt)."""
    if wait or min(more) > max(held):
        send(cur, *name_locks(more))
        return True
    send(cur, ("SELECT bool_and(pg_try_advisory_xact_lock(%s, hashtext(n))) "
               "FROM unnest(%s::text[]) AS n", (LOCK_CLASS, [f"table:{n}" for n in sorted(more)])))
    return bool(cur.fetchone()[0])
