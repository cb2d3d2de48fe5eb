"""Fault tests: the end-to-end fixtures (real API server, real PostgreSQL, the operator running),
reused as they are, plus helpers for watching what the operator reports under stress.

Everything here is end-to-end, so every test is marked ``e2e``.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from tests.e2e.conftest import (  # noqa: F401  (fixtures, re-exported for this directory)
    Database, Namespace, cluster, crd, database, namespace, start_operator)
from tests.support.k8s import wait_for


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def open_session(database: Database) -> Iterator[Any]:
    """Open extra sessions on the test database (for locks held elsewhere); closed afterwards."""
    opened: list[Any] = []

    def connect() -> Any:
        conn = psycopg2.connect(database.url, application_name="faults-test")
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def warnings(namespace: Namespace, name: str) -> list[tuple[str, str]]:
    """(reason, message) of the Warning events posted about ``name``."""
    return [(e["reason"], e["message"]) for e in namespace.events(name)
            if e.get("type") == "Warning"]


def wait_condition(namespace: Namespace, name: str, reason: str, timeout: float = 60,
                   status: str = "False") -> dict[str, Any]:
    """Wait until the Ready condition of the current generation has ``status`` and ``reason``."""
    return wait_for(lambda: (c := namespace.ready(name)) and c["status"] == status
                    and c["reason"] == reason and c,
                    timeout=timeout, message=f"{name} Ready={status} reason={reason}")


def column_list(database: Database, table: str) -> list[tuple[str, str]]:
    found = database.table(table)
    return [(c.name, c.type) for c in found.columns] if found else []
