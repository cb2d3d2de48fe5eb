"""Changes made to a table behind the operator's back (drift), found by the periodic check.

Additive repairs are made (a dropped table or column comes back); anything else is reported
on the Ready condition and as a Warning event, and never "repaired" by dropping data.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.faults.conftest import Database, Namespace, column_list, wait_condition, warnings
from tests.support.k8s import resource, wait_for

COLUMNS = [{"ID": "integer"}, {"NAME": "varchar(50)"}, {"EMAIL": "text"}]
EXPECTED = [("id", "integer"), ("name", "character varying(50)"), ("email", "text")]
ROWS = [(1, "ada", "ada@example.org"), (2, "bob", "bob@example.org")]


@pytest.fixture
def drifting(namespace: Namespace, database: Database, start_operator) -> None:
    """The operator checking every 2 s, and a Ready table `users` with two rows."""
    start_operator("container", extra_env={"DBT_DRIFT_INTERVAL_S": "2"})
    namespace.apply(resource("users", {"tableName": "USERS", "columns": COLUMNS,
                                       "primaryKey": "ID"}))
    namespace.wait_ready("users")
    database.execute("INSERT INTO public.users VALUES (%s, %s, %s), (%s, %s, %s)",
                     ROWS[0] + ROWS[1])


def warned(namespace: Namespace, reason: str) -> Callable[[], list[str]]:
    return lambda: [m for r, m in warnings(namespace, "users") if r == reason]


def test_dropped_table_is_recreated(drifting, namespace: Namespace,
                                    database: Database) -> None:
    database.execute("DROP TABLE public.users")
    [message] = wait_for(warned(namespace, "DriftRepaired"), timeout=20,
                         message="a DriftRepaired event")
    assert "created table users" in message
    assert column_list(database, "users") == EXPECTED
    assert database.table("users").primary_key == ("id",)
    assert namespace.wait_ready("users")["reason"] == "Reconciled"


def test_dropped_column_is_added_back_and_other_rows_kept(drifting, namespace: Namespace,
                                                          database: Database) -> None:
    database.execute("ALTER TABLE public.users DROP COLUMN email")
    [message] = wait_for(warned(namespace, "DriftRepaired"), timeout=20,
                         message="a DriftRepaired event")
    assert "added column email text to users" in message
    assert column_list(database, "users") == EXPECTED
    assert database.execute("SELECT id, name, email FROM public.users ORDER BY id") == [
        (1, "ada", None), (2, "bob", None)]
    assert namespace.wait_ready("users")["reason"] == "Reconciled"


def test_added_column_is_reported_and_kept(drifting, namespace: Namespace,
                                           database: Database) -> None:
    database.execute("ALTER TABLE public.users ADD COLUMN notes text")
    database.execute("UPDATE public.users SET notes = 'keep me'")
    condition = wait_condition(namespace, "users", "ColumnRemoved", timeout=20)
    assert "column notes (text) exists in table users but is missing from the spec" \
        in condition["message"]
    assert wait_for(warned(namespace, "ColumnRemoved"), timeout=20,
                    message="a ColumnRemoved event")
    assert column_list(database, "users") == EXPECTED + [("notes", "text")]
    assert database.execute("SELECT DISTINCT notes FROM public.users") == [("keep me",)]
    # Someone drops it again: the check finds the table matching and says Ready again.
    database.execute("ALTER TABLE public.users DROP COLUMN notes")
    assert namespace.wait_ready("users", timeout=20)["reason"] == "Reconciled"


def test_changed_column_type_is_reported_and_data_kept(drifting, namespace: Namespace,
                                                       database: Database) -> None:
    database.execute("ALTER TABLE public.users ALTER COLUMN name TYPE text")
    condition = wait_condition(namespace, "users", "TypeChanged", timeout=20)
    assert "column name is text in table users, the spec says character varying(50)" \
        in condition["message"]
    assert wait_for(warned(namespace, "TypeChanged"), timeout=20,
                    message="a TypeChanged event")
    assert column_list(database, "users")[1] == ("name", "text")
    assert database.execute("SELECT id, name, email FROM public.users ORDER BY id") == ROWS


def test_changed_primary_key_is_reported_not_replaced(drifting, namespace: Namespace,
                                                      database: Database) -> None:
    database.execute("ALTER TABLE public.users DROP CONSTRAINT users_pkey, "
                     "ADD PRIMARY KEY (email)")
    condition = wait_condition(namespace, "users", "Drifted", timeout=20)
    assert "the primary key of table users is (email) but the spec says (id)" \
        in condition["message"]
    assert wait_for(warned(namespace, "Drifted"), timeout=20, message="a Drifted event")
    assert database.table("users").primary_key == ("email",)
    assert database.execute("SELECT id, name, email FROM public.users ORDER BY id") == ROWS
