"""The unique constraints of "Changing a table" on a real PostgreSQL: built concurrently then
attached, refused while values repeat (with the count), an invalid index left by a failed build
dropped, and a unique constraint made by someone else never dropped."""
from __future__ import annotations

from typing import Any

import pytest
from psycopg2 import sql

from dbtable.database import DatabaseSettings
from dbtable.plan import RefusalReason
from tests.support.column_changes import OWNER, apply, assert_refused_unchanged, converge, execute

pytestmark = pytest.mark.integration


def _indexes(conn: Any, settings: DatabaseSettings) -> list[tuple[str, bool]]:
    with conn, conn.cursor() as cur:
        cur.execute("SELECT i.relname, x.indisvalid FROM pg_index x JOIN pg_class i "
                    "ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass ORDER BY 1",
                    (f'"{settings.schema}".orders',))
        return cur.fetchall()


def test_unique_is_built_concurrently_then_attached(conn, settings) -> None:
    from dbtable.unique_operations import unique_name

    apply(conn, settings)
    execute(conn, settings, "INSERT INTO {t} (id, email) SELECT g, 'u' || g FROM "
                            "generate_series(1, 50) g")
    spec = {"columnOptions": {"EMAIL": {"unique": True}}}
    outcomes = converge(conn, settings, **spec)
    name = unique_name("orders", "email")
    assert [o.statements for o in outcomes] == [
        (f'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON '
         f'"{settings.schema}"."orders" ("email")',),
        (f'ALTER TABLE "{settings.schema}"."orders" ADD CONSTRAINT "{name}" UNIQUE USING '
         f'INDEX "{name}"',)]
    assert outcomes[-1].table.uniques == ((name, ("email",)),)
    assert apply(conn, settings, **spec).statements == ()
    # And away again: only the operator's own constraint (and its index) is dropped.
    converge(conn, settings)
    assert _indexes(conn, settings) == [("orders_pkey", True)]


def test_unique_is_refused_while_values_repeat_with_the_count(conn, settings) -> None:
    apply(conn, settings)
    execute(conn, settings, "INSERT INTO {t} (id, email) VALUES (1, 'a'), (2, 'a'), (3, 'a'), "
                            "(4, 'b'), (5, NULL), (6, NULL)")
    assert_refused_unchanged(conn, settings, RefusalReason.DUPLICATES_PRESENT,
                             "repeats values in 2 row(s)",
                             columnOptions={"EMAIL": {"unique": True}})


def test_an_invalid_index_left_by_a_failed_build_is_dropped_and_built_again(conn,
                                                                            settings) -> None:
    from dbtable.unique_operations import unique_name

    apply(conn, settings)
    execute(conn, settings, "INSERT INTO {t} (id, email) VALUES (1, 'a'), (2, 'a')")
    name = unique_name("orders", "email")
    conn.autocommit = True
    with pytest.raises(Exception, match="could not create unique index"):
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY {} ON {} (email)").format(
                sql.Identifier(name), sql.Identifier(settings.schema, "orders")))
    conn.autocommit = False
    assert (name, False) in _indexes(conn, settings)
    execute(conn, settings, "UPDATE {t} SET email = 'b' WHERE id = 2")
    outcomes = converge(conn, settings, columnOptions={"EMAIL": {"unique": True}})
    assert outcomes[0].statements[0].startswith("DROP INDEX CONCURRENTLY IF EXISTS")
    assert (name, True) in _indexes(conn, settings)
    assert outcomes[-1].table.uniques == ((name, ("email",)),)


def test_a_unique_constraint_made_by_someone_else_is_reported_and_never_dropped(
        conn, settings) -> None:
    from dbtable.unique_operations import unique_name

    apply(conn, settings)
    execute(conn, settings, "ALTER TABLE {t} ADD CONSTRAINT status_once UNIQUE (status)")
    outcomes = converge(conn, settings, columnOptions={"EMAIL": {"unique": True}})
    outcomes += converge(conn, settings, columnOptions={"EMAIL": {"unique": False}})
    assert not any("status_once" in s for o in outcomes for s in o.statements)
    assert outcomes[-1].table.uniques == (("status_once", ("status",)),)
    assert unique_name("orders", "email") not in [n for n, _ in _indexes(conn, settings)]


def test_a_failed_concurrent_build_drops_its_invalid_index_at_once(conn, settings) -> None:
    """Values that repeat only after the count (a write between the plan and the build):
    the build fails, and the INVALID index it left, which would still refuse new duplicates,
    is dropped before the error is reported."""
    from psycopg2 import errors

    from dbtable.lone_statement import execute_alone
    from dbtable.unique_operations import CreateUniqueIndex, unique_name

    apply(conn, settings)
    execute(conn, settings, "INSERT INTO {t} (id, email) VALUES (1, 'a'), (2, 'a')")
    with pytest.raises(errors.UniqueViolation):
        execute_alone(conn, settings, OWNER,
                      CreateUniqueIndex("orders", "email", unique_name("orders", "email")))
    assert _indexes(conn, settings) == [("orders_pkey", True)]
    execute(conn, settings, "INSERT INTO {t} (id, email) VALUES (3, 'a')")  # not refused
