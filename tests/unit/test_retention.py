"""DBT_DROP_RETENTION: off unless set, a duration otherwise, refused naming the variable."""
from __future__ import annotations

from datetime import timedelta

import pytest

from dbtable.retention import InvalidRetention, parse_retention, purge_interval


@pytest.mark.parametrize("value", [None, "", " ", "0", "0h", "off", "OFF"])
def test_retention_is_off_unless_set(value: str | None) -> None:
    assert parse_retention(value) is None


@pytest.mark.parametrize("value, expected", [
    ("24h", timedelta(hours=24)), ("90m", timedelta(minutes=90)), ("3600s", timedelta(hours=1)),
    ("2d", timedelta(days=2)), ("45", timedelta(seconds=45)), (" 12H ", timedelta(hours=12)),
])
def test_retention_is_a_duration(value: str, expected: timedelta) -> None:
    assert parse_retention(value) == expected


@pytest.mark.parametrize("value", ["1w", "-5m", "1.5h", "24 hours", "h", "1h30m"])
def test_anything_else_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(InvalidRetention, match="DBT_DROP_RETENTION"):
        parse_retention(value)


def test_purges_are_looked_for_often_enough_and_at_most_once_a_second() -> None:
    assert purge_interval(timedelta(hours=24)) == 60
    assert purge_interval(timedelta(seconds=30)) == 15
    assert purge_interval(timedelta(seconds=1)) == 1
