"""Ownership against a real PostgreSQL: consented adoption, the users' comment kept,
reclaiming after a restore, ambiguous markers, retention. Checked in the catalog."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from psycopg2 import sql

from dbtable import retention
from dbtable.catalog import AmbiguousOwnership, read_owned_table, read_retained_tables, read_table
from dbtable.database import DatabaseSettings
from dbtable.model import DeletionPolicy, Owner
from dbtable.ownership import Marker, TableComment
from dbtable.plan import ReclaimTable, RefusalReason
from dbtable.reconcile import delete_table, reconcile_table
from dbtable.retention import purge_expired
from dbtable.spec import parse_spec
from tests.integration.test_reconcile import OWNER, SEED, apply, insert_user, snapshot

pytestmark = pytest.mark.integration

PAYROLL = {"tableName": "payroll", "primaryKey": "id",
           "columns": [{"ID": "integer"}, {"EMPLOYEE": "text"}, {"SALARY": "numeric(12,2)"}]}
PROBE = Owner("team-a", "payroll-probe", "7d0c9a4e-0000-4000-8000-000000000003")
RESTORED = Owner(OWNER.namespace, OWNER.name, "7d0c9a4e-0000-4000-8000-00000000000f")


def run(conn: Any, settings: DatabaseSettings, statement: str, *names: str,
        literal: str | None = None) -> list[tuple]:
    """Run ``statement`` as the database owner would; {} are the table names, then a literal."""
    parts = [sql.Identifier(settings.schema, n) for n in names]
    if literal is not None:
        parts.append(sql.Literal(literal))
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL(statement).format(*parts))
        return cur.fetchall() if cur.description else []


def comment_of(conn: Any, settings: DatabaseSettings, name: str) -> str | None:
    with conn, conn.cursor() as cur:
        found = read_table(cur, settings.schema, name)
    return found.comment if found else None


@pytest.fixture
def payroll(conn: Any, settings: DatabaseSettings) -> str:
    """A table the operator's role owns but no resource manages, with HR's comment and a row."""
    run(conn, settings, "CREATE TABLE {} (id integer PRIMARY KEY, employee text, "
        "salary numeric(12,2))", "payroll")
    run(conn, settings, "INSERT INTO {} VALUES (1, 'ada', 9000.00)", "payroll")
    run(conn, settings, "COMMENT ON TABLE {} IS {}", "payroll", literal="HR: do not touch")
    return "payroll"


def test_probing_an_unowned_table_learns_nothing_and_changes_nothing(conn, settings,
                                                                     payroll) -> None:
    before = snapshot(conn, settings.schema)
    for spec in ({**PAYROLL, "columns": [{"ID": "integer"}], "adoptExistingTable": True},
                 {**PAYROLL, "columns": [{"ID": "bigint"}, {"EMPLOYEE": "text"},
                                         {"SALARY": "text"}], "adoptExistingTable": True}):
        outcome = reconcile_table(conn, settings, parse_spec(spec), PROBE)
        (refusal,) = outcome.plan.refusals
        assert refusal.reason is RefusalReason.CONFLICT and outcome.statements == ()
        for secret in ("employee", "salary", "numeric"):
            assert secret not in str(refusal)
    assert snapshot(conn, settings.schema) == before


def test_adoption_needs_the_consent_of_a_database_owner(conn, settings, payroll) -> None:
    before = snapshot(conn, settings.schema)
    spec = parse_spec({**PAYROLL, "adoptExistingTable": True})
    refused = reconcile_table(conn, settings, spec, PROBE)
    (refusal,) = refused.plan.refusals
    statement = (f'COMMENT ON TABLE "{settings.schema}"."payroll" IS '
                 """'{"databaseTableOperator": {"adoptBy": "team-a/payroll-probe"}}';""")
    assert statement in refusal.message
    assert snapshot(conn, settings.schema) == before

    # The DBA runs exactly what the message says, beside HR's line.
    run(conn, settings, "COMMENT ON TABLE {} IS {}", "payroll",
        literal="HR: do not touch\n" + PROBE.consent())
    adopted = reconcile_table(conn, settings, spec, PROBE)
    assert adopted.table.owner == PROBE
    assert comment_of(conn, settings, "payroll") == (
        "HR: do not touch\n" + Marker(PROBE, adopted=True).text())

    # Deleting it without an explicit policy keeps the table, its rows and HR's comment.
    released = delete_table(conn, settings, PROBE, spec.deletion_policy)
    assert len(released.statements) == 1
    assert comment_of(conn, settings, "payroll") == "HR: do not touch"
    assert run(conn, settings, "SELECT id, employee FROM {}", "payroll") == [(1, "ada")]


def test_adopted_table_is_dropped_only_when_the_spec_says_drop(conn, settings,
                                                               payroll) -> None:
    run(conn, settings, "COMMENT ON TABLE {} IS {}", "payroll", literal=PROBE.consent())
    spec = parse_spec({**PAYROLL, "adoptExistingTable": True, "deletionPolicy": "Drop"})
    reconcile_table(conn, settings, spec, PROBE)
    delete_table(conn, settings, PROBE, spec.deletion_policy)
    assert read_table_named(conn, settings, "payroll") is None


def read_table_named(conn: Any, settings: DatabaseSettings, name: str):
    with conn, conn.cursor() as cur:
        return read_table(cur, settings.schema, name)


def test_the_users_comment_survives_marking_and_release(conn, settings) -> None:
    apply(conn, settings)
    marker = comment_of(conn, settings, "website_users")
    run(conn, settings, "COMMENT ON TABLE {} IS {}", "website_users",
        literal="HR: do not touch\n" + marker)
    # Still ours: a rename rewrites nothing of the comment, and finds the table by its marker.
    apply(conn, settings, tableName="USERS")
    assert comment_of(conn, settings, "users") == "HR: do not touch\n" + marker
    delete_table(conn, settings, OWNER, DeletionPolicy.RETAIN)
    assert comment_of(conn, settings, "users") == "HR: do not touch"


def test_rename_onto_a_consented_unowned_table_is_refused(conn, settings, payroll) -> None:
    apply(conn, settings)
    run(conn, settings, "COMMENT ON TABLE {} IS {}", "payroll", literal=OWNER.consent())
    before = snapshot(conn, settings.schema)
    outcome = apply(conn, settings, tableName="payroll", adoptExistingTable=True)
    (refusal,) = outcome.plan.refusals
    assert "cannot rename table website_users to payroll" in refusal.message
    assert snapshot(conn, settings.schema) == before


def test_restored_resource_reclaims_its_table_with_its_rows(conn, settings) -> None:
    apply(conn, settings)
    insert_user(conn, settings, "website_users", 1)
    # The resource comes back from a backup: same namespace/name, a new uid.
    outcome = apply(conn, settings, owner=RESTORED)
    assert outcome.plan.operations == (ReclaimTable("website_users", RESTORED,
                                                    previous_uid=OWNER.uid),)
    assert outcome.table.owner == RESTORED
    assert run(conn, settings, "SELECT user_id FROM {}", "website_users") == [(1,)]
    assert apply(conn, settings, owner=RESTORED).statements == ()
    # A late deletion of the earlier object drops nothing: the table is the new one's now.
    assert delete_table(conn, settings, OWNER, DeletionPolicy.DROP).statements == ()
    assert run(conn, settings, "SELECT user_id FROM {}", "website_users") == [(1,)]


def test_two_tables_with_one_resources_marker_are_ambiguous_and_untouched(conn,
                                                                          settings) -> None:
    apply(conn, settings)
    run(conn, settings, "CREATE TABLE {} (user_id integer)", "copy")
    run(conn, settings, "COMMENT ON TABLE {} IS {}", "copy",
        literal=comment_of(conn, settings, "website_users"))
    before = snapshot(conn, settings.schema)
    for attempt in (lambda: apply(conn, settings, columns=SEED["columns"] + [{"X": "int"}]),
                    lambda: apply(conn, settings, owner=RESTORED),
                    lambda: delete_table(conn, settings, OWNER, DeletionPolicy.DROP)):
        with pytest.raises(AmbiguousOwnership, match="copy, website_users"):
            attempt()
    assert snapshot(conn, settings.schema) == before


def test_dropped_table_is_kept_aside_and_reclaimed_with_its_rows(conn, settings) -> None:
    apply(conn, settings)
    insert_user(conn, settings, "website_users", 1)
    deleted = delete_table(conn, settings, OWNER, None, retention=timedelta(hours=1))
    assert len(deleted.statements) == 2 and read_table_named(conn, settings,
                                                             "website_users") is None
    with conn, conn.cursor() as cur:
        aside = read_owned_table(cur, settings.schema, OWNER)
    assert aside.name.startswith("website_users_retained_")
    assert TableComment.parse(aside.comment).marker.retained_until
    # Again (a retried deletion): nothing more happens.
    assert delete_table(conn, settings, OWNER, None, retention=timedelta(hours=1)).statements == ()
    assert purge_expired(conn, settings) == []  # the window is not over

    recreated = apply(conn, settings, owner=RESTORED)
    assert [type(op).__name__ for op in recreated.plan.operations] == ["ReclaimTable",
                                                                       "RenameTable"]
    assert recreated.table.name == "website_users" and recreated.table.owner == RESTORED
    assert TableComment.parse(recreated.table.comment).marker == Marker(RESTORED)
    assert run(conn, settings, "SELECT user_id FROM {}", "website_users") == [(1,)]


def test_expired_tables_are_purged_and_others_kept(conn, settings) -> None:
    apply(conn, settings)
    other = Owner("default", "kept", "7d0c9a4e-0000-4000-8000-0000000000aa")
    reconcile_table(conn, settings, parse_spec({**SEED, "tableName": "kept"}), other)
    delete_table(conn, settings, OWNER, None, retention=timedelta(seconds=1))
    delete_table(conn, settings, other, None, retention=timedelta(hours=1))
    run(conn, settings, "SELECT pg_sleep(1.1)")
    with conn, conn.cursor() as cur:
        expired = read_owned_table(cur, settings.schema, OWNER).name
        kept = read_owned_table(cur, settings.schema, other).name
    assert purge_expired(conn, settings) == [expired]
    assert read_table_named(conn, settings, expired) is None
    assert read_table_named(conn, settings, kept) is not None


def test_a_table_reclaimed_after_the_purge_looked_is_not_purged(conn, settings,
                                                                monkeypatch) -> None:
    """The purge lists candidates, then drops each under its locks after reading it again: a
    resource re-created in between has reclaimed it, and it stays."""
    apply(conn, settings)
    delete_table(conn, settings, OWNER, None, retention=timedelta(seconds=1))
    run(conn, settings, "SELECT pg_sleep(1.1)")
    with conn, conn.cursor() as cur:
        stale = read_retained_tables(cur, settings.schema)
    (aside, _), = stale
    # Re-created under the name it is kept under, so the reclaim does not rename it.
    reconcile_table(conn, settings, parse_spec({**SEED, "tableName": aside}), RESTORED)
    monkeypatch.setattr(retention, "read_retained_tables", lambda cur, schema: stale)
    assert purge_expired(conn, settings) == []
    assert read_table_named(conn, settings, aside).owner == RESTORED


def test_swapping_two_resources_names_is_refused_until_one_name_is_free(conn,
                                                                        settings) -> None:
    first = Owner("default", "first", "7d0c9a4e-0000-4000-8000-0000000000b1")
    second = Owner("default", "second", "7d0c9a4e-0000-4000-8000-0000000000b2")

    def spec(name: str):
        return parse_spec({**SEED, "tableName": name})

    reconcile_table(conn, settings, spec("a"), first)
    reconcile_table(conn, settings, spec("b"), second)
    insert_user(conn, settings, "a", 1)
    before = snapshot(conn, settings.schema)
    # The swap: each wants the other's name. Both are refused, nothing moves.
    for owner, wanted, holder in ((first, "b", second), (second, "a", first)):
        (refusal,) = reconcile_table(conn, settings, spec(wanted), owner).plan.refusals
        assert refusal.reason is RefusalReason.CONFLICT
        assert f"table {wanted} belongs to DatabaseTable {holder}" in refusal.message
        assert f"or wait until {holder} lets go of it" in refusal.message
    assert snapshot(conn, settings.schema) == before
    # Once second moves to a free name, first's next reconcile takes b (the drift sweep's
    # re-check does this within seconds, and resolves a direct swap by itself).
    reconcile_table(conn, settings, spec("c"), second)
    moved = reconcile_table(conn, settings, spec("b"), first)
    assert moved.table.name == "b" and moved.table.owner == first
    assert run(conn, settings, "SELECT user_id FROM {}", "b") == [(1,)]
    assert reconcile_table(conn, settings, spec("a"), second).table.name == "a"
