"""The drift sweep's bulk catalog read against a real PostgreSQL: it sees each table exactly as
the per-table reads do, in a fixed number of queries however many tables there are."""
from __future__ import annotations

from typing import Any

import pytest
from psycopg2 import sql

from dbtable.catalog import read_managed_tables, read_owned_table, read_table
from dbtable.database import DatabaseSettings
from dbtable.drift import CatalogSnapshot, Subject, ReadyCondition, find_drift
from dbtable.model import Owner
from dbtable.reconcile import reconcile_table
from dbtable.spec import parse_spec
from bench.counting import CountingCursor

pytestmark = pytest.mark.integration


def owner(n: int) -> Owner:
    return Owner("default", f"t{n}", f"00000000-0000-4000-8000-{n:012d}")


def spec(n: int, key: str = "ID") -> dict[str, Any]:
    return {"tableName": f"T{n}", "columns": [{"ID": "integer"}, {"NAME": "varchar(20)"},
                                              {"AT": "timestamp with time zone"}],
            "primaryKey": key}


def make_tables(conn: Any, settings: DatabaseSettings, count: int) -> None:
    for n in range(count):
        reconcile_table(conn, settings, parse_spec(spec(n, key="ID, NAME")), owner(n))


def bulk(conn: Any, settings: DatabaseSettings, names: tuple[str, ...] = (),
         owners: set[tuple[str, str]] | None = None) -> tuple[Any, int]:
    with conn, conn.cursor() as raw:
        cur = CountingCursor(raw)
        found = read_managed_tables(cur, settings.schema, names, owners)
    return found, cur.executed


def test_bulk_read_equals_the_per_table_reads(conn, settings) -> None:
    make_tables(conn, settings, 5)
    with conn, conn.cursor() as cur:  # an unmarked table, and a view holding a name
        cur.execute(sql.SQL("CREATE TABLE {} (a int)").format(
            sql.Identifier(settings.schema, "handmade")))
        cur.execute(sql.SQL("CREATE VIEW {} AS SELECT 1").format(
            sql.Identifier(settings.schema, "seen")))
    (tables, blockers), _ = bulk(conn, settings, ("handmade", "seen", "absent"))
    with conn, conn.cursor() as cur:
        expected = [read_owned_table(cur, settings.schema, owner(n)) for n in range(5)]
        expected.append(read_table(cur, settings.schema, "handmade"))
    assert sorted(tables, key=lambda t: t.name) == sorted(expected, key=lambda t: t.name)
    assert tables[-1].primary_key == ("id", "name")  # key columns in key order
    assert blockers == {"seen": "a view seen"}


def test_bulk_read_costs_four_queries_whatever_the_number_of_tables(conn, settings) -> None:
    make_tables(conn, settings, 1)
    (few, _), one = bulk(conn, settings, ("t0",))
    make_tables(conn, settings, 40)
    (many, _), forty = bulk(conn, settings, ("t0",))
    assert (len(few), len(many)) == (1, 40)
    assert one == forty == 4  # candidates, indexes, details, blockers


def test_bulk_read_for_some_owners_reads_only_theirs(conn, settings) -> None:
    make_tables(conn, settings, 6)
    (tables, _), _ = bulk(conn, settings, ("t5",), owners={("default", "t1")})
    assert [t.name for t in tables] == ["t1", "t5"]


def test_sweep_finds_exactly_the_drifted_tables(conn, settings) -> None:
    make_tables(conn, settings, 4)
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER TABLE {} DROP COLUMN name CASCADE").format(
            sql.Identifier(settings.schema, "t1")))
        cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(settings.schema, "t2")))
    ready = ReadyCondition("True", "Reconciled", "", 1)
    subjects = [Subject.of(o.namespace, o.name, o.uid, 1, spec(n, key="ID, NAME"),
                           observed_generation=1, ready=ready)
                for n, o in ((n, owner(n)) for n in range(4))]
    (tables, blockers), _ = bulk(conn, settings, tuple(f"t{n}" for n in range(4)))
    findings = find_drift(subjects, CatalogSnapshot(tables, blockers))
    assert {f.subject.name: f.why for f in findings} == {
        # The key lost with its column comes back too: nothing is dropped to restore it.
        "t1": "would apply: added column name character varying(20) to t1; "
              "set primary key (id, name) on t1",
        "t2": "would apply: created table t2 with columns id, name, at and primary key "
              "(id, name); marked table t2 as owned by default/t2",
    }


def test_sweep_check_resolves_types_like_a_reconcile_and_finds_nothing_in_sync(
        conn, settings) -> None:
    from dbtable.pool import ConnectionPool
    from dbtable.sweep import SpecCache, check

    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE TYPE {} AS ENUM ('ok', 'meh')").format(
            sql.Identifier(settings.schema, "mood")))
    typed = {"tableName": "TYPED", "primaryKey": "ID", "columns": [
        {"ID": "int4"}, {"NAMES": "_text"}, {"PRICE": "numeric(10,2)"},
        {"MOOD": f"{settings.schema}.mood"}, {"AT": "timestamptz(3)"}]}
    typed_owner = Owner("default", "typed", "00000000-0000-4000-8000-00000000aaaa")
    reconcile_table(conn, settings, parse_spec(typed), typed_owner)
    make_tables(conn, settings, 3)
    ready = ReadyCondition("True", "Reconciled", "", 1)
    subjects = [Subject.of(o.namespace, o.name, o.uid, 1, s, observed_generation=1,
                           ready=ready)
                for o, s in [(typed_owner, typed)] + [(owner(n), spec(n, key="ID, NAME"))
                                                      for n in range(3)]]
    pool = ConnectionPool(settings, 1)
    try:
        cache = SpecCache()
        assert check(pool, settings.schema, subjects, cache, chunk=2) == []
        assert cache.parsed == {}  # none in Conflict: a sweep holds a chunk's parsed specs
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("ALTER TABLE {} DROP COLUMN mood").format(
                sql.Identifier(settings.schema, "typed")))
        [finding] = check(pool, settings.schema, subjects, SpecCache())
        assert finding.subject.name == "typed"
        assert finding.why == f"would apply: added column mood {settings.schema}.mood to typed"
    finally:
        pool.close()


def test_between_full_sweeps_only_the_conflicts_parsed_specs_are_kept(conn, settings) -> None:
    """A parsed spec is about ten times its compact JSON (issue 10: 23 MB at 10,000): a full
    sweep parses what it compares and keeps only what the re-checks every few seconds reuse,
    the specs of resources in Conflict."""
    import asyncio
    import logging
    from types import SimpleNamespace

    import kopf

    from dbtable.pool import ConnectionPool
    from dbtable.sweep import SpecCache, check, sweep_once

    make_tables(conn, settings, 2)
    ready = ReadyCondition("True", "Reconciled", "", 1)
    settled = [Subject.of(o.namespace, o.name, o.uid, 1, spec(n, key="ID, NAME"),
                          observed_generation=1, ready=ready)
               for n, o in ((n, owner(n)) for n in range(2))]
    taker = owner(9)  # wants t0's name: refused as a Conflict

    def conflicted(message: str) -> Subject:
        return Subject.of(taker.namespace, taker.name, taker.uid, 1, spec(0),
                          observed_generation=1,
                          ready=ReadyCondition("False", "Conflict", message, 1))

    pool = ConnectionPool(settings, 1)
    kopf_settings = kopf.OperatorSettings()
    try:
        [news] = check(pool, settings.schema, [conflicted("old")], SpecCache())
        stuck = conflicted(news.why.removeprefix("refused for a new reason: "))
        index = {None: settled + [stuck]}
        memo = SimpleNamespace(pool=pool, database=settings)
        cache = SpecCache()
        logger = logging.getLogger("test")

        def sweep(only_conflicts: bool) -> list[Any]:
            return asyncio.run(sweep_once(index, memo, kopf_settings, logger, cache,
                                          only_conflicts=only_conflicts))

        assert sweep(only_conflicts=False) == []  # all compared, nothing to hand over
        assert set(cache.parsed) == {taker.uid}
        kept = cache.parsed[taker.uid]
        assert sweep(only_conflicts=True) == []
        assert cache.parsed[taker.uid] is kept  # the re-check reused it
        index[None] = settled  # the Conflict resolved (or the resource is gone)
        sweep(only_conflicts=False)
        assert cache.parsed == {}
    finally:
        kopf_settings.execution.executor.shutdown()
        pool.close()


def test_a_sweep_in_chunks_finds_what_one_read_finds_a_swap_across_chunks_too(
        conn, settings) -> None:
    """A sweep reads and compares 1,000 resources at a time (bounded memory at 10,000); who
    waits for whom is gathered over all chunks, so a swap of names split between two chunks
    is still found."""
    from dbtable.pool import ConnectionPool
    from dbtable.sweep import SpecCache, check

    left, right, drifted = owner(1), owner(2), owner(3)
    for n, who in ((1, left), (2, right), (3, drifted)):
        reconcile_table(conn, settings, parse_spec(spec(n)), who)
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER TABLE {} DROP COLUMN at").format(
            sql.Identifier(settings.schema, "t3")))

    def refused(who: Owner, wants: int, message: str) -> Subject:
        return Subject.of(who.namespace, who.name, who.uid, 2, spec(wants),
                          observed_generation=2,
                          ready=ReadyCondition("False", "Conflict", message, 2))

    pool = ConnectionPool(settings, 1)
    try:
        news = check(pool, settings.schema, [refused(left, 2, "?"), refused(right, 1, "?")],
                     SpecCache())
        said = {f.subject.name: f.why.removeprefix("refused for a new reason: ") for f in news}
        subjects = [refused(left, 2, said["t1"]),
                    Subject.of(drifted.namespace, drifted.name, drifted.uid, 1, spec(3),
                               observed_generation=1,
                               ready=ReadyCondition("True", "Reconciled", "", 1)),
                    refused(right, 1, said["t2"])]
        whole = check(pool, settings.schema, subjects, SpecCache())
        chunked = check(pool, settings.schema, subjects, SpecCache(), chunk=1)
    finally:
        pool.close()
    seen = [(f.subject.name, f.why, f.park) for f in whole]
    assert seen == [(f.subject.name, f.why, f.park) for f in chunked]
    assert seen == [("t3", "would apply: added column at timestamp with time zone to t3", False),
                    ("t1", "swapping names with default/t2", True)]
