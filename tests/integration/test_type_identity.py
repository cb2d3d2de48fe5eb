"""Type equality decided by the server: oids and typmods, never the spelling.

``_int4`` is ``integer[]``; ``mood`` is whichever ``mood`` the search_path finds first, and
``a.mood`` is not ``b.mood`` even when format_type prints both as ``mood``. A type the server
does not know is refused on its column before any DDL. Extension types take modifiers that
only their own typmod_in understands (``vector(1536)``, ``geometry(Point,4326)``).
"""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from dbtable.catalog import read_table
from dbtable.database import DatabaseSettings
from dbtable.model import Owner
from dbtable.plan import RefusalReason
from dbtable.reconcile import reconcile_table
from dbtable.resolve import resolve_tables
from dbtable.spec import parse_spec
from dbtable.types import parse_type
from bench.counting import CountingCursor
from tests.support.postgres import create_operator_database

pytestmark = pytest.mark.integration

OWNER = Owner("default", "typed", "5f1e0c2a-0000-4000-8000-0000000000c1")


def apply(conn: Any, settings: DatabaseSettings, column_type: str, table: str = "typed",
          extra: tuple[dict[str, str], ...] = ()):
    spec = {"tableName": table, "columns": [{"ID": "integer"}, {"VALUE": column_type}, *extra],
            "primaryKey": "ID"}
    return reconcile_table(conn, settings, parse_spec(spec), OWNER)


def execute(conn: Any, statement: sql.Composable | str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(statement)


def search_path(conn: Any, *schemas: str) -> None:
    """The session's search_path, as an operator deployment might configure it."""
    execute(conn, sql.SQL("SET search_path TO {}").format(
        sql.SQL(", ").join(sql.Identifier(s) for s in schemas)))


def column_type(conn: Any, settings: DatabaseSettings, table: str = "typed") -> str:
    with conn, conn.cursor() as cur:
        found = read_table(cur, settings.schema, table)
    assert found is not None
    return dict((c.name, c.type) for c in found.columns)["value"]


def table_exists(conn: Any, settings: DatabaseSettings, table: str = "typed") -> bool:
    with conn, conn.cursor() as cur:
        return read_table(cur, settings.schema, table) is not None


def assert_refused(outcome: Any, reason: RefusalReason, fragment: str) -> None:
    (refusal,) = outcome.plan.refusals
    assert (refusal.reason, refusal.field) == (reason, "spec.columns.value"), refusal
    assert fragment in refusal.message, refusal.message
    assert outcome.plan.operations == () and outcome.statements == ()


# -- names the server resolves ------------------------------------------------------------------


def test_array_type_named_by_its_internal_name_converges(conn, settings) -> None:
    created = apply(conn, settings, "_int4")
    assert created.plan.refusals == ()
    assert column_type(conn, settings) == "integer[]"
    again = apply(conn, settings, "_int4")
    assert again.plan.refusals == () and again.statements == ()
    # And the spelled-out name is the same type.
    assert apply(conn, settings, "integer[]").statements == ()


def test_same_enum_name_in_another_schema_is_a_changed_type(conn, other_conn,
                                                            settings) -> None:
    other = f"{settings.schema}_other"
    execute(other_conn, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(other)))
    for schema in (settings.schema, other):
        execute(other_conn, sql.SQL("CREATE TYPE {} AS ENUM ('sad', 'happy')").format(
            sql.Identifier(schema, "mood")))
    search_path(conn, settings.schema, "public")
    assert apply(conn, settings, "mood").plan.refusals == ()
    assert column_type(conn, settings) == "mood"  # visible: format_type leaves out the schema
    assert apply(conn, settings, f"{settings.schema}.mood").statements == ()

    changed = apply(conn, settings, f"{other}.mood")
    assert_refused(changed, RefusalReason.TYPE_CHANGED, f"the spec says {other}.mood")


def test_unqualified_name_means_what_the_search_path_finds_first(conn, other_conn,
                                                                 settings) -> None:
    other = f"{settings.schema}_first"
    execute(other_conn, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(other)))
    execute(other_conn, sql.SQL("CREATE TYPE {} AS ENUM ('x')").format(
        sql.Identifier(settings.schema, "mood")))
    search_path(conn, "public")
    assert apply(conn, settings, f"{settings.schema}.mood").plan.refusals == ()
    # Another mood earlier on the search_path: "mood" now names that one, not the column's.
    execute(other_conn, sql.SQL("CREATE TYPE {} AS ENUM ('y')").format(
        sql.Identifier(other, "mood")))
    search_path(conn, other, settings.schema, "public")
    assert_refused(apply(conn, settings, "mood"), RefusalReason.TYPE_CHANGED, "the spec says mood")


# -- types the server does not know ---------------------------------------------------------------


def test_unknown_type_is_refused_naming_the_column_before_any_ddl(conn, settings) -> None:
    outcome = apply(conn, settings, "no_such_type")
    assert_refused(outcome, RefusalReason.INVALID_SPEC, "type no_such_type does not exist")
    assert not table_exists(conn, settings)


def test_unknown_type_of_an_added_column_leaves_the_table_untouched(conn, settings) -> None:
    apply(conn, settings, "text")
    spec = {"tableName": "typed", "primaryKey": "ID",
            "columns": [{"ID": "integer"}, {"VALUE": "text"}, {"EXTRA": "nope.nothing[]"}]}
    outcome = reconcile_table(conn, settings, parse_spec(spec), OWNER)
    (refusal,) = outcome.plan.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.INVALID_SPEC, "spec.columns.extra")
    assert "type nope.nothing[] does not exist" in refusal.message
    assert outcome.statements == ()
    with conn, conn.cursor() as cur:
        assert [c.name for c in read_table(cur, settings.schema, "typed").columns] == \
            ["id", "value"]


def test_function_call_shaped_type_is_looked_up_as_a_type_and_never_called(conn,
                                                                            settings) -> None:
    outcome = apply(conn, settings, "pg_sleep(10)")
    assert_refused(outcome, RefusalReason.INVALID_SPEC, "type pg_sleep does not exist")
    assert not table_exists(conn, settings)


def test_modifiers_on_a_type_that_takes_none_are_refused(conn, other_conn, settings) -> None:
    execute(other_conn, sql.SQL("CREATE TYPE {} AS ENUM ('x')").format(
        sql.Identifier(settings.schema, "mood")))
    outcome = apply(conn, settings, f"{settings.schema}.mood(3)")
    assert_refused(outcome, RefusalReason.INVALID_SPEC, "takes no modifiers")


# -- extension types with modifiers ----------------------------------------------------------------


@pytest.fixture
def vector_type(pg_server: Any, operator_db: dict[str, str], conn: Any, settings) -> str:
    """A stand-in for pgvector's ``vector(n)``: a base type whose typmod_in and typmod_out are
    varchar's (so ``vector(1536)`` has typmod 1540 and prints as ``vector(1536)``). Creating a
    base type needs a superuser, as installing pgvector does. Returns its schema, which is put
    on the operator's search_path, where an extension's types usually are."""
    schema = f"vec_{secrets.token_hex(4)}"
    statements = [
        "CREATE SCHEMA {s}",
        "CREATE TYPE {s}.vector",
        "CREATE FUNCTION {s}.vector_in(cstring) RETURNS {s}.vector"
        " LANGUAGE internal IMMUTABLE STRICT AS 'textin'",
        "CREATE FUNCTION {s}.vector_out({s}.vector) RETURNS cstring"
        " LANGUAGE internal IMMUTABLE STRICT AS 'textout'",
        "CREATE FUNCTION {s}.vector_typmod_in(cstring[]) RETURNS integer"
        " LANGUAGE internal IMMUTABLE STRICT AS 'varchartypmodin'",
        "CREATE FUNCTION {s}.vector_typmod_out(integer) RETURNS cstring"
        " LANGUAGE internal IMMUTABLE STRICT AS 'varchartypmodout'",
        "CREATE TYPE {s}.vector (INPUT = {s}.vector_in, OUTPUT = {s}.vector_out,"
        " TYPMOD_IN = {s}.vector_typmod_in, TYPMOD_OUT = {s}.vector_typmod_out, LIKE = text)",
        "GRANT USAGE ON SCHEMA {s} TO PUBLIC",
    ]
    for statement in statements:
        pg_server.execute_as_superuser(sql.SQL(statement).format(s=sql.Identifier(schema)),
                                       dbname=operator_db["dbname"])
    search_path(conn, "public", schema)
    return schema


def test_extension_type_with_a_modifier_is_created_and_converges(conn, settings,
                                                                 vector_type: str) -> None:
    created = apply(conn, settings, "vector(1536)", extra=({"NEIGHBOURS": "vector(3)[]"},))
    assert created.plan.refusals == ()
    assert column_type(conn, settings) == "vector(1536)"
    again = apply(conn, settings, "Vector( 1536 )", extra=({"NEIGHBOURS": "vector(3)[4]"},))
    assert again.plan.refusals == () and again.statements == ()


def test_extension_type_with_another_modifier_is_a_changed_type(conn, settings,
                                                                vector_type: str) -> None:
    apply(conn, settings, "vector(1536)")
    assert_refused(apply(conn, settings, "vector(768)"), RefusalReason.TYPE_CHANGED,
                   "set it back to vector(1536)")
    assert_refused(apply(conn, settings, "vector"), RefusalReason.TYPE_CHANGED,
                   "set it back to vector(1536)")


@pytest.mark.parametrize(("text", "message"), [
    ("vector(0)", "length for type varchar must be at least 1"),
    ("vector(point)", 'invalid input syntax for type integer: "point"'),
    ("vector(1,2)", "invalid type modifier"),
])
def test_modifiers_the_type_refuses_are_refused_with_the_servers_reason(
        conn, settings, vector_type: str, text: str, message: str) -> None:
    outcome = apply(conn, settings, text)
    assert_refused(outcome, RefusalReason.INVALID_SPEC, message)
    assert not table_exists(conn, settings)
    # The refusal was caught in a savepoint: the connection is usable, nothing is left open.
    assert conn.status == psycopg2.extensions.STATUS_READY
    assert apply(conn, settings, "vector(2)").plan.refusals == ()


# PostGIS, the real thing, where it is installed (CI installs it: .ci/run).


@pytest.fixture(scope="module")
def postgis_db(pg_server: Any) -> dict[str, str]:
    """A database of its own with PostGIS (CREATE EXTENSION needs a superuser)."""
    available = pg_server.execute_as_superuser(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")
    if available != [(1,)]:
        pytest.skip("PostGIS is not installed on this PostgreSQL server "
                    "(Debian: postgresql-<version>-postgis-3)")
    database = create_operator_database(pg_server, prefix="dbt_gis")
    pg_server.execute_as_superuser("CREATE EXTENSION postgis", dbname=database["dbname"])
    return database


@pytest.fixture
def gis(postgis_db: dict[str, str]) -> Iterator[tuple[Any, DatabaseSettings]]:
    connection = psycopg2.connect(postgis_db["url"])
    schema = f"t_{secrets.token_hex(6)}"
    execute(connection, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield connection, DatabaseSettings(url=postgis_db["url"], schema=schema,
                                       lock_timeout_ms=1000, statement_timeout_ms=10000)
    connection.close()


def test_postgis_geometry_with_modifiers_is_created_and_converges(gis) -> None:
    conn, settings = gis
    created = apply(conn, settings, "geometry(Point,4326)",
                    extra=({"AREAS": "GEOMETRY(POLYGON, 4326)[]"},))
    assert created.plan.refusals == ()
    assert column_type(conn, settings) == "geometry(Point,4326)"
    # Offline (no server to ask), the grammar's spelling still matches what PostGIS prints.
    assert parse_type("GEOMETRY(point, 4326)").matches(column_type(conn, settings))
    again = apply(conn, settings, "geometry(point, 4326)",
                  extra=({"AREAS": "geometry(Polygon,4326)[]"},))
    assert again.plan.refusals == () and again.statements == ()


def test_postgis_geometry_with_another_srid_or_shape_is_a_changed_type(gis) -> None:
    conn, settings = gis
    apply(conn, settings, "geometry(Point,4326)")
    for text in ("geometry(Point,3857)", "geometry(Polygon,4326)", "geometry", "geography"):
        assert_refused(apply(conn, settings, text), RefusalReason.TYPE_CHANGED,
                       "set it back to geometry(Point,4326)")


def test_postgis_refuses_an_unknown_shape_with_its_own_message(gis) -> None:
    conn, settings = gis
    outcome = apply(conn, settings, "geometry(Blob,4326)")
    assert_refused(outcome, RefusalReason.INVALID_SPEC, "Invalid geometry type modifier: blob")
    assert not table_exists(conn, settings)


# -- many tables at once (a drift sweep) ------------------------------------------------------------


def test_many_tables_resolve_with_one_lookup_and_one_call_per_distinct_modified_type(
        conn, settings, vector_type: str) -> None:
    tables = [parse_spec({"tableName": f"t{i}", "primaryKey": "ID", "columns": [
        {"ID": "integer"}, {"A": "varchar(50)"}, {"B": "vector(3)"}, {"C": "_int4"},
        {"D": "Vector( 3 )"}, {"E": "nope"}]}) for i in range(50)]
    with conn, conn.cursor() as cur:
        counting = CountingCursor(cur)
        resolved = resolve_tables(counting, tables)
    # one lookup for all distinct types; vector(3) once: savepoint, typmod_in, release
    assert counting.executed == 4
    for table in resolved:
        by_name = {c.name: c for c in table.columns}
        assert by_name["b"].resolved == by_name["d"].resolved
        assert by_name["b"].resolved is not None and by_name["b"].resolved.typmod == 7
        assert by_name["c"].resolved is not None and by_name["e"].unresolved is not None
    assert resolved[0].columns == resolved[49].columns
