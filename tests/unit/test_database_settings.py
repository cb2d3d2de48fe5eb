"""Connection settings from the environment: secrets never quoted, every wait bounded."""
from __future__ import annotations

import pytest

from dbtable.database import DatabaseSettings, InvalidDatabaseUrl, settings_from_env

PASSWORD = "s3cr%zzet"


@pytest.mark.parametrize("url", [
    f"postgresql://app:{PASSWORD}@db:5432/app",          # a '%' that starts no escape
    "postgresql://app:s3cr3t%@db:5432/app",               # a '%' at the end
    "host=db password=s3cr3t port",                        # a keyword without a value
])
def test_unparsable_database_url_is_refused_without_quoting_it(url: str) -> None:
    try:
        settings_from_env({"DATABASE_URL": url})
    except Exception as e:  # noqa: BLE001 - the type and the text are both checked
        error = e
    else:
        raise AssertionError("an unparsable DATABASE_URL was accepted")
    assert isinstance(error, InvalidDatabaseUrl), repr(error)
    assert "DATABASE_URL" in str(error)
    for secret in (PASSWORD, "s3cr3t", "zzet"):
        assert secret not in str(error)
        assert secret not in repr(error)
    assert error.__cause__ is None and error.__suppress_context__  # not chained to libpq's text


def test_connections_are_bounded_by_libpq_parameters() -> None:
    kwargs = settings_from_env({"DATABASE_URL": "postgresql://app:pw@db/app",
                                "DBT_CONNECT_TIMEOUT_S": "7"}).connect_kwargs()
    assert kwargs["connect_timeout"] == 7
    assert (kwargs["keepalives"], kwargs["keepalives_idle"], kwargs["keepalives_interval"],
            kwargs["keepalives_count"], kwargs["tcp_user_timeout"]) == (1, 10, 5, 3, 30000)


def test_a_statement_answer_is_awaited_for_statement_timeout_plus_grace() -> None:
    assert DatabaseSettings(statement_timeout_ms=60000).answer_timeout_s == 70
    assert DatabaseSettings(statement_timeout_ms=1500, answer_grace_s=1).answer_timeout_s == 2.5
