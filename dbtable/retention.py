"""Keeping dropped tables aside for a while (DBT_DROP_RETENTION), and purging them after.

``kubectl replace --force`` and a GitOps tool's re-create sync delete a resource and create it
again: under ``deletionPolicy: Drop`` that drops the table and creates it empty. With a
retention window the operator renames a dropped table aside instead (``delete_table``), the
same namespace/name created again within the window takes it back with its rows (the
planner's reclaim), and this module drops what nobody took back once the window is over.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

from psycopg2.extensions import connection as Connection

from dbtable.catalog import read_retained_tables, read_table
from dbtable.database import DatabaseSettings
from dbtable.fk_catalog import read_referencing
from dbtable.ownership import TableComment
from dbtable.plan import DropTable
from dbtable.reconcile import execute_locked

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class InvalidRetention(ValueError):
    """DBT_DROP_RETENTION is not a duration."""


def parse_retention(value: str | None) -> timedelta | None:
    """``24h``, ``90m``, ``3600s``, ``2d`` or plain seconds; unset, empty, ``0`` or ``off``:
    no retention (a dropped table is dropped at once)."""
    if value is None or value.strip().lower() in ("", "0", "off"):
        return None
    match = _DURATION.match(value.lower())
    if match is None:
        raise InvalidRetention(f"DBT_DROP_RETENTION={value!r} is not a duration such as 24h, "
                               "90m, 3600s, 2d or off")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    return timedelta(seconds=seconds) if seconds else None


def purge_interval(retention: timedelta) -> float:
    """How often to look for expired tables: often enough for short windows, at most a
    minute apart, and never busier than once a second."""
    return max(1.0, min(60.0, retention.total_seconds() / 2))


def purge_expired(conn: Connection, settings: DatabaseSettings) -> list[str]:
    """Drop every kept-aside table whose window is over; the names dropped.

    Each table is dropped in its own transaction under its resource's and its name's locks,
    after reading its marker again: a resource re-created meanwhile may have reclaimed it.
    """
    with conn, conn.cursor() as cur:
        candidates = read_retained_tables(cur, settings.schema)
    dropped: list[str] = []
    for name, marker in candidates:
        def still_expired(cur: object, name: str = name) -> DropTable | None:
            found = read_table(cur, settings.schema, name)
            now_marker = TableComment.parse(found.comment).marker if found else None
            if now_marker is None or now_marker.retained_until is None:
                return None  # reclaimed meanwhile
            try:
                until = _timestamp(now_marker.retained_until)
            except ValueError:
                return None  # edited by hand: never drop on a guess
            cur.execute("SELECT now()")
            if cur.fetchone()[0] < until:
                return None
            referencing = read_referencing(cur, settings.schema, name)
            if referencing:  # DROP would fail on them, CASCADE would drop them: kept for now
                log.warning("Table %s, kept aside, is not purged: %s references it; it is "
                            "purged once nothing does.", name, ", ".join(referencing))
                return None
            return DropTable(name)

        if execute_locked(conn, settings, marker.owner, name, still_expired):
            log.info("Purged table %s, kept aside for %s until %s (DBT_DROP_RETENTION).",
                     name, marker.owner, marker.retained_until)
            dropped.append(name)
    return dropped


def _timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
