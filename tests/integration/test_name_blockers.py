"""What holds a table name besides a table: PostgreSQL's automatic array types do not.

Every table and every base type comes with an array type named with a leading underscore
(table ``foo`` has ``_foo``). When a new table or type wants that name, PostgreSQL renames the
automatic array type out of the way (``moveArrayTypeName``: ``_foo`` becomes ``__foo``), so it
is no conflict. A type someone created under that name is one.
"""
from __future__ import annotations

from typing import Any

import pytest
from psycopg2 import sql

from dbtable.catalog_indexes import read_name_holders
from dbtable.database import DatabaseSettings
from dbtable.fk_catalog import read_referenced
from dbtable.model import Owner
from dbtable.plan import RefusalReason
from dbtable.reconcile import reconcile_table
from dbtable.spec import parse_spec

pytestmark = pytest.mark.integration

OWNER = Owner("default", "underscored", "5f1e0c2a-0000-4000-8000-0000000000b1")
COLUMNS = [{"ID": "integer"}, {"NOTE": "text"}]


def apply(conn: Any, settings: DatabaseSettings, table: str):
    spec = {"tableName": table, "columns": COLUMNS, "primaryKey": "ID"}
    return reconcile_table(conn, settings, parse_spec(spec), OWNER)


def run(conn: Any, settings: DatabaseSettings, statement: str) -> None:
    """DDL written by the test itself, in the test's schema (search_path set to it)."""
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(settings.schema)))
        cur.execute(statement)


def array_type_name(conn: Any, settings: DatabaseSettings, element: str) -> str:
    with conn, conn.cursor() as cur:
        cur.execute("""SELECT a.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                         JOIN pg_type a ON a.oid = t.typarray
                        WHERE n.nspname = %s AND t.typname = %s""", (settings.schema, element))
        return cur.fetchone()[0]


def test_underscored_name_of_an_existing_tables_array_type_is_free(conn, other_conn,
                                                                  settings) -> None:
    run(other_conn, settings, "CREATE TABLE foo (id integer)")
    assert array_type_name(conn, settings, "foo") == "_foo"
    outcome = apply(conn, settings, "_foo")
    assert outcome.plan.refusals == ()
    assert outcome.table is not None and outcome.table.name == "_foo"
    assert array_type_name(conn, settings, "foo") == "__foo"  # moved aside by PostgreSQL
    assert apply(conn, settings, "_foo").statements == ()


def test_rename_onto_the_name_of_an_array_type_is_free(conn, other_conn, settings) -> None:
    apply(conn, settings, "bar")
    run(other_conn, settings, "CREATE TYPE mood AS ENUM ('sad', 'happy')")
    outcome = apply(conn, settings, "_mood")
    assert outcome.plan.refusals == ()
    assert outcome.table is not None and outcome.table.name == "_mood"
    assert array_type_name(conn, settings, "mood") == "__mood"


def test_a_type_created_under_the_name_is_still_a_conflict(conn, other_conn, settings) -> None:
    run(other_conn, settings, "CREATE TYPE _flag AS ENUM ('on', 'off')")
    outcome = apply(conn, settings, "_flag")
    (refusal,) = outcome.plan.refusals
    assert refusal.reason is RefusalReason.CONFLICT
    assert refusal.message == "the name _flag is taken by a type _flag; choose another tableName"
    assert outcome.statements == ()


def test_a_domain_over_an_array_under_the_name_is_still_a_conflict(conn, other_conn,
                                                                    settings) -> None:
    run(other_conn, settings, "CREATE DOMAIN _ids AS integer[]")
    (refusal,) = apply(conn, settings, "_ids").plan.refusals
    assert refusal.reason is RefusalReason.CONFLICT


def test_a_name_longer_than_postgresql_keeps_holds_nothing(conn, other_conn, settings) -> None:
    """The holders of names, and the tables a key references, are looked up by pg_class's
    index on the name cast to PostgreSQL's type, which keeps 63 bytes: a longer name is cut
    short there, and must not be taken for the relation called by its first 63 bytes."""
    short = "h" * 63
    run(other_conn, settings, f"CREATE TABLE {short} (id integer PRIMARY KEY)")
    with conn, conn.cursor() as cur:
        assert read_name_holders(cur, settings.schema, [short], None, ()) == (
            (short, f"the table {short}"),)  # found by its own name
        assert read_name_holders(cur, settings.schema, [short + "x"], None, ()) == ()
        assert [(n, r is not None) for n, r in read_referenced(cur, settings.schema, [short])
                ] == [(short, True)]
        assert [(n, r is not None) for n, r in read_referenced(
            cur, settings.schema, [short + "x"])] == [(short + "x", False)]
