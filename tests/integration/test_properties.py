"""Property-based tests (hypothesis) of the parse → plan → render → execute path, on PostgreSQL:
any spec the parser accepts becomes, in a fresh schema, exactly the table it describes (names,
types, order, primary key), a second reconcile runs no statement, and a random sequence of
allowed changes (add columns, rename, change the key) converges too. (Everything else refused:
test_properties_refusals.py; the rendered SQL re-parsed: test_properties_sql.py.)
"""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import pytest
from hypothesis import given, settings, strategies as st
from psycopg2 import sql

from dbtable.catalog import read_owned_table
from dbtable.database import DatabaseSettings
from dbtable.fresh_create import create_fresh
from dbtable.model import DesiredTable, Owner
from dbtable.reconcile import reconcile_table
from dbtable.spec import parse_spec
from dbtable.types import parse_type
from tests.support.column_types import ACCEPTED
from tests.support.spec_strategies import column_lists, identifiers, key_capable, key_text, specs

pytestmark = pytest.mark.integration

# -- helpers ---------------------------------------------------------------------------------


@contextmanager
def fresh_schema(conn: Any, url: str) -> Iterator[DatabaseSettings]:
    schema = f"prop_{secrets.token_hex(6)}"
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield DatabaseSettings(url=url, schema=schema, lock_timeout_ms=2000,
                               statement_timeout_ms=10000)
    finally:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def assert_converged(conn: Any, settings_: DatabaseSettings, desired: DesiredTable,
                     owner: Owner) -> None:
    """The catalog has exactly the spec's table, and reconciling again changes nothing."""
    with conn, conn.cursor() as cur:
        table = read_owned_table(cur, settings_.schema, owner)
    assert table is not None
    assert table.name == desired.name
    assert [c.name for c in table.columns] == [c.name for c in desired.columns]
    for wanted, actual in zip(desired.columns, table.columns):
        assert wanted.type.matches(actual.type), (wanted.type.canonical, actual.type)
    assert table.primary_key == desired.primary_key
    again = reconcile_table(conn, settings_, desired, owner)
    assert again.plan.operations == () and again.plan.refusals == ()
    assert again.statements == ()


def test_key_capable_types_are_exactly_those_with_a_btree_opclass(db: Any) -> None:
    for text, _ in ACCEPTED:
        column_type = parse_type(text)
        if column_type.array:
            continue
        statement = sql.SQL("CREATE TEMP TABLE key_probe (k {} PRIMARY KEY)").format(
            column_type.sql())
        try:
            with db, db.cursor() as cur:
                cur.execute(statement)
                cur.execute("DROP TABLE key_probe")
            accepted = True
        except psycopg2.Error as e:
            assert "no default operator class for access method \"btree\"" in str(e), str(e)
            accepted = False
        assert accepted == key_capable(column_type), text


@settings(max_examples=100, deadline=None)
@given(spec=specs(), uid=st.uuids())
def test_any_accepted_spec_creates_exactly_its_table(db: Any, operator_db: dict[str, str],
                                                     spec: dict[str, Any], uid: Any) -> None:
    desired = parse_spec(spec)
    owner = Owner("props", "table", str(uid))
    with fresh_schema(db, operator_db["url"]) as schema_settings:
        outcome = reconcile_table(db, schema_settings, desired, owner)
        assert outcome.statements[0].startswith("CREATE TABLE")
        assert_converged(db, schema_settings, desired, owner)


@settings(max_examples=60, deadline=None)
@given(spec=specs(), uid=st.uuids(), data=st.data())
def test_a_fresh_create_reads_back_the_table_the_catalog_holds(
        db: Any, operator_db: dict[str, str], spec: dict[str, Any], uid: Any,
        data: st.DataObject) -> None:
    """dbtable/fresh_create.py reads the new table back before it commits, without looking
    up checks, unique constraints, indexes or foreign keys (it made none, and no one else can
    see the table yet): what it reports is what a full read of the committed table finds, for
    any plain spec."""
    names = [name for column in spec["columns"] for name in column]
    not_null = data.draw(st.sets(st.sampled_from(names)), label="nullable: false")
    if not_null:
        spec = {**spec, "columnOptions": {name: {"nullable": False} for name in not_null}}
    desired = parse_spec(spec)
    owner = Owner("props", "fresh", str(uid))
    with fresh_schema(db, operator_db["url"]) as schema_settings:
        outcome = create_fresh(db, schema_settings, desired, owner)
        assert outcome is not None and outcome.statements[0].startswith("CREATE TABLE")
        with db, db.cursor() as cur:
            assert outcome.table == read_owned_table(cur, schema_settings.schema, owner)


CHANGES = ("add columns", "rename", "change key")


@settings(max_examples=60, deadline=None)
@given(spec=specs(), data=st.data())
def test_random_sequences_of_allowed_changes_converge(db: Any, operator_db: dict[str, str],
                                                      spec: dict[str, Any],
                                                      data: st.DataObject) -> None:
    owner = Owner("props", "changes", secrets.token_hex(8))
    with fresh_schema(db, operator_db["url"]) as schema_settings:
        reconcile_table(db, schema_settings, parse_spec(spec), owner)
        for _ in range(data.draw(st.integers(1, 4), label="steps")):
            changes = data.draw(st.sets(st.sampled_from(CHANGES), min_size=1), label="changes")
            spec = dict(spec)
            if "add columns" in changes:
                taken = frozenset(n.lower() for c in spec["columns"] for n in c)
                spec["columns"] = spec["columns"] + data.draw(
                    column_lists(max_size=3, avoid=taken), label="added")
            if "rename" in changes:
                spec["tableName"] = data.draw(identifiers, label="new name")
            if "change key" in changes:
                spec["primaryKey"] = data.draw(key_text(spec["columns"]), label="new key")
            desired = parse_spec(spec)
            outcome = reconcile_table(db, schema_settings, desired, owner)
            assert not outcome.plan.refused, outcome.plan.refusals
            assert_converged(db, schema_settings, desired, owner)
