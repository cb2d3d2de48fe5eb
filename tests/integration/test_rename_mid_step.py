"""Renaming a column (previousNames) while the operator's NOT NULL check on it is still in
progress: the check follows the column, so none is left behind under the old name."""
from __future__ import annotations

from typing import Any

import pytest
from psycopg2 import sql

from dbtable.column_operations import not_null_check_name
from dbtable.database import DatabaseSettings
from dbtable.model import Owner
from dbtable.reconcile import Outcome, reconcile_table
from dbtable.spec import parse_spec

pytestmark = pytest.mark.integration

OWNER = Owner("default", "orders", "5f1e0c2a-0000-4000-8000-0000000000d1")
BASE: dict[str, Any] = {"tableName": "ORDERS", "primaryKey": "ID",
                        "columns": [{"ID": "bigint"}, {"EMAIL": "text"}]}
RENAMED = {"columns": [{"ID": "bigint"}, {"MAIL": "text"}],
           "columnOptions": {"MAIL": {"previousNames": ["EMAIL"], "nullable": False}}}


def apply(conn: Any, settings: DatabaseSettings, **changes: Any) -> Outcome:
    return reconcile_table(conn, settings, parse_spec({**BASE, **changes}), OWNER)


def checks(conn: Any, settings: DatabaseSettings) -> dict[str, bool]:
    with conn, conn.cursor() as cur:
        cur.execute("""SELECT conname, convalidated FROM pg_constraint
                        WHERE conrelid = %s::regclass AND contype = 'c'""",
                    (f"{settings.schema}.orders",))
        return dict(cur.fetchall())


@pytest.mark.parametrize("validated", [False, True])
def test_rename_while_a_not_null_check_is_in_progress_leaves_no_check_behind(
        conn, settings, validated: bool) -> None:
    apply(conn, settings)
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("INSERT INTO {} SELECT g, 'a@b' FROM generate_series(1, 5) g")
                    .format(sql.Identifier(settings.schema, "orders")))
    first = apply(conn, settings, columnOptions={"EMAIL": {"nullable": False}})
    assert first.pending  # the check exists, NOT VALID; the rest waits for the next call
    if validated:  # stopped after VALIDATE, before SET NOT NULL
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
                sql.Identifier(settings.schema, "orders"),
                sql.Identifier(not_null_check_name("email"))))
    assert checks(conn, settings) == {not_null_check_name("email"): validated}

    outcome = apply(conn, settings, **RENAMED)
    while outcome.pending:
        outcome = apply(conn, settings, **RENAMED)
    assert checks(conn, settings) == {}  # neither the old-named nor a new-named check
    with conn, conn.cursor() as cur:
        cur.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = %s::regclass "
                    "AND attname = 'mail'", (f"{settings.schema}.orders",))
        assert cur.fetchone() == (True,)
    assert apply(conn, settings, **RENAMED).statements == ()
