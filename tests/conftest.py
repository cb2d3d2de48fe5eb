"""Fixtures shared by the integration and end-to-end suites (started only when requested)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from tests.support.postgres import ExternalPostgres

# CI must fail (or pass) the same way on every run: with a random seed, one CI run in many hit
# a lone-surrogate name that the others never tried. Derandomized, each property test draws
# the same examples on every run (seeded from the test's own code), so a red CI run can be
# rerun and a green one means the same thing twice. Locally the random search stays, so new
# inputs keep being explored (and failures are replayed from .hypothesis/). Hypothesis would
# load a profile of its own under CI; it is spelled out here so a Hypothesis upgrade cannot
# change it. Override with --hypothesis-profile=ci|dev.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True,
                                     deadline=None)
hypothesis_settings.register_profile("dev", parent=hypothesis_settings.get_profile("default"))
hypothesis_settings.load_profile("ci" if "CI" in os.environ else "dev")


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
