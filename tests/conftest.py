"""Fixtures shared by the integration and end-to-end suites (started only when requested)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.postgres import ExternalPostgres


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A PostgreSQL server for the whole session: DBT_TEST_DATABASE_URL's, or our own."""
    url = os.environ.get("DBT_TEST_DATABASE_URL")
    if url:
        yield ExternalPostgres(url)
        return
    from hack.postgres import LocalPostgres

    with LocalPostgres() as server:
        yield server
