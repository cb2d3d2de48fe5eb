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

from dbtable.model import ActualColumn, DesiredColumn, DesiredTable, TypeIdentity
from dbtable.plan_changes import _same_type
from dbtable.resolve import resolve_types
from dbtable.types import ColumnType, parse_type
from tests.support.column_types import ACCEPTED

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


# -- the server's resolution (dbtable/resolve.py) agrees with the columns it makes ---------------


def resolved_and_actual(conn: psycopg2.extensions.connection, text: str
                        ) -> tuple[DesiredColumn, ActualColumn]:
    """Resolve ``text`` as the operator does, and create a column of it: both sides of a compare."""
    column_type = parse_type(text)
    desired = DesiredTable(name="t", columns=(DesiredColumn("probe", column_type),),
                           primary_key=("probe",))
    with conn.cursor() as cursor:
        (column,) = resolve_types(cursor, desired).columns
        create_probe_column(conn, column_type)
        cursor.execute(
            "SELECT format_type(atttypid, atttypmod), atttypid, atttypmod FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attname = 'probe'", (f"pg_temp.{PROBE_TABLE}",))
        printed, oid, typmod = cursor.fetchone()
    return column, ActualColumn("probe", printed, TypeIdentity(oid, typmod))


@pytest.mark.parametrize(("text", "canonical"), ACCEPTED)
def test_every_builtin_type_resolves_to_the_type_of_the_column_it_makes(
    connection: psycopg2.extensions.connection, text: str, canonical: str
) -> None:
    desired, actual = resolved_and_actual(connection, text)
    assert desired.unresolved is None
    assert desired.resolved is not None and desired.resolved.oid == actual.identity.oid
    assert _same_type(desired, actual)


@pytest.mark.parametrize(("text", "printed"), [
    ("_int4", "integer[]"), ("_text", "text[]"), ("int4range", "int4range"), ("name", "name"),
    ("regclass[]", "regclass[]"), ("_varchar", "character varying[]"), ("citext", None),
])
def test_internal_and_catalog_type_names_resolve_to_what_the_column_is(
    connection: psycopg2.extensions.connection, text: str, printed: str | None
) -> None:
    if printed is None:  # contrib's citext, where installed
        try:
            run(connection, "CREATE EXTENSION IF NOT EXISTS citext")
        except psycopg2.Error:
            pytest.skip("the citext extension is not installed on this server")
        printed = "citext"
    desired, actual = resolved_and_actual(connection, text)
    assert actual.type == printed
    assert desired.resolved == TypeIdentity(actual.identity.oid, -1)
    assert _same_type(desired, actual)


def test_two_schemas_types_of_one_name_are_different_types(
    connection: psycopg2.extensions.connection,
) -> None:
    for schema in ("dbt_a", "dbt_b"):
        run(connection, f"CREATE SCHEMA {schema}")
        run(connection, f"CREATE TYPE {schema}.mood AS ENUM ('x')")
    run(connection, "SET LOCAL search_path TO dbt_a, public")
    column, actual = resolved_and_actual(connection, "mood")
    assert actual.type == "mood"
    other, _ = resolved_and_actual_without_column(connection, "dbt_b.mood")
    assert _same_type(column, actual) and not _same_type(other, actual)


def resolved_and_actual_without_column(conn: psycopg2.extensions.connection, text: str
                                       ) -> tuple[DesiredColumn, None]:
    desired = DesiredTable(name="t", columns=(DesiredColumn("probe", parse_type(text)),),
                           primary_key=("probe",))
    with conn.cursor() as cursor:
        (column,) = resolve_types(cursor, desired).columns
    return column, None
