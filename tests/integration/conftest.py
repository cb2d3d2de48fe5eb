"""Integration fixtures: a least-privileged operator role and a fresh schema per test."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from dbtable.database import DatabaseSettings
from tests.support.postgres import create_operator_database


@pytest.fixture(scope="session")
def operator_db(pg_server: Any) -> dict[str, str]:
    return create_operator_database(pg_server)


@pytest.fixture
def settings(operator_db: dict[str, str]) -> Iterator[DatabaseSettings]:
    """Operator settings pointing at a schema of its own, so tests cannot see each other."""
    schema = f"t_{secrets.token_hex(6)}"
    conn = psycopg2.connect(operator_db["url"])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    finally:
        conn.close()
    yield DatabaseSettings(url=operator_db["url"], schema=schema, lock_timeout_ms=1000,
                           statement_timeout_ms=10000)


@pytest.fixture
def conn(operator_db: dict[str, str]) -> Iterator[Any]:
    connection = psycopg2.connect(operator_db["url"])
    yield connection
    connection.close()


@pytest.fixture
def other_conn(operator_db: dict[str, str]) -> Iterator[Any]:
    """A second session, for locks held elsewhere and for changes behind the operator's back."""
    connection = psycopg2.connect(operator_db["url"])
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def db(operator_db: dict[str, str]) -> Iterator[Any]:
    """One connection for all examples of the module (each example makes its own schema)."""
    connection = psycopg2.connect(operator_db["url"])
    yield connection
    connection.close()
