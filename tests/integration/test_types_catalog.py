"""The type grammar against a real server: every canonical form is what format_type prints.

The unit tests pin ``ColumnType.canonical`` to strings; this file proves those strings are
PostgreSQL's, by creating a column from ``ColumnType.sql()`` and reading the catalog back.
Each test runs in a transaction that is rolled back, so it also works against a shared
server named by DBT_TEST_DATABASE_URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pglast
import psycopg2
import psycopg2.extensions
import pytest
from psycopg2 import sql

from dbtable.types import ColumnType, parse_type
from tests.unit.test_types import ACCEPTED

pytestmark = pytest.mark.integration

PROBE_TABLE = "dbt_type_probe"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """DBT_TEST_DATABASE_URL if set, else a throwaway local server for the session."""
    url = os.environ.get("DBT_TEST_DATABASE_URL")
    if url:
        yield url
        return
    from hack.postgres import LocalPostgres

    with LocalPostgres() as server:
        yield server.url("postgres", server.superuser_password, "postgres")


@pytest.fixture()
def connection(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(database_url)
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


def create_probe_column(conn: psycopg2.extensions.connection, column_type: ColumnType) -> str:
    """Create a temp table with one column of this type; return format_type for it."""
    statement = sql.SQL("CREATE TEMP TABLE {} (probe {})").format(
        sql.Identifier(PROBE_TABLE), column_type.sql()
    )
    assert_single_plain_column_definition(statement.as_string(conn))
    with conn.cursor() as cursor:
        cursor.execute(statement)
        cursor.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attname = 'probe'",
            (f"pg_temp.{PROBE_TABLE}",),
        )
        (catalog_type,) = cursor.fetchone()
    return str(catalog_type)


def assert_single_plain_column_definition(statement: str) -> None:
    """PostgreSQL's own parser sees one CREATE TABLE with one bare column: nothing smuggled in."""
    (raw,) = pglast.parse_sql(statement)
    create = raw.stmt
    assert type(create).__name__ == "CreateStmt"
    (column,) = create.tableElts
    assert column.colname == "probe"
    assert column.constraints is None
    assert column.collClause is None


@pytest.mark.parametrize(("text", "canonical"), ACCEPTED)
def test_builtin_type_canonical_form_is_what_format_type_prints(
    connection: psycopg2.extensions.connection, text: str, canonical: str
) -> None:
    column_type = parse_type(text)
    catalog_type = create_probe_column(connection, column_type)
    assert catalog_type == canonical == column_type.canonical
    assert column_type.matches(catalog_type)


def run(conn: psycopg2.extensions.connection, statement: sql.Composable | str) -> None:
    with conn.cursor() as cursor:
        cursor.execute(statement)


@pytest.mark.parametrize("text", ["mood", "MOOD", "mood[]", "Mood[3]"])
def test_user_defined_enum_on_the_search_path_matches_the_catalog(
    connection: psycopg2.extensions.connection, text: str
) -> None:
    run(connection, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    column_type = parse_type(text)
    catalog_type = create_probe_column(connection, column_type)
    assert catalog_type == column_type.canonical
    assert column_type.matches(catalog_type)


@pytest.mark.parametrize("text", ["dbt_app.mood", "DBT_APP.Mood", "dbt_app.mood[]"])
def test_schema_qualified_type_off_the_search_path_keeps_its_schema(
    connection: psycopg2.extensions.connection, text: str
) -> None:
    run(connection, "CREATE SCHEMA dbt_app")
    run(connection, "CREATE TYPE dbt_app.mood AS ENUM ('sad', 'happy')")
    column_type = parse_type(text)
    catalog_type = create_probe_column(connection, column_type)
    assert catalog_type == column_type.canonical
    assert column_type.matches(catalog_type)


def test_schema_qualified_type_on_the_search_path_matches_its_unqualified_name(
    connection: psycopg2.extensions.connection,
) -> None:
    run(connection, "CREATE TYPE mood AS ENUM ('sad', 'happy')")
    column_type = parse_type("public.mood")
    catalog_type = create_probe_column(connection, column_type)
    assert catalog_type == "mood"
    assert column_type.matches(catalog_type)


def test_type_name_that_needs_quotes_is_quoted_like_format_type_does(
    connection: psycopg2.extensions.connection,
) -> None:
    run(connection, 'CREATE DOMAIN "price$eur" AS numeric(10,2)')
    column_type = parse_type("Price$EUR")
    catalog_type = create_probe_column(connection, column_type)
    assert catalog_type == column_type.canonical == '"price$eur"'
    assert column_type.matches(catalog_type)


def test_serial_column_gets_a_sequence_default(connection: psycopg2.extensions.connection) -> None:
    create_probe_column(connection, parse_type("bigserial"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, 'probe') IS NOT NULL", (f"pg_temp.{PROBE_TABLE}",)
        )
        assert cursor.fetchone() == (True,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("varchar(10485761)", "length for type varchar cannot exceed 10485760"),
        ("bit(83886081)", "length for type bit cannot exceed 83886080"),
        ("numeric(1001)", "NUMERIC precision 1001 must be between 1 and 1000"),
        ("numeric(10,1001)", "NUMERIC scale 1001 must be between -1000 and 1000"),
        ("float(54)", "precision for type float must be less than 54 bits"),
    ],
)
def test_limits_just_past_ours_are_refused_by_postgresql_too(
    connection: psycopg2.extensions.connection, text: str, message: str
) -> None:
    # Deliberately bypasses parse_type (which refuses these) to ask the server itself; the
    # texts are constants of this test.
    with pytest.raises(psycopg2.Error) as caught:
        run(connection, f"CREATE TEMP TABLE {PROBE_TABLE} (probe {text})")
    assert message in str(caught.value)
