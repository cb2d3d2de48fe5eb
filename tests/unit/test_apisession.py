"""Kopf's session to the API server, rebuilt with a connection limit (dbtable/apisession.py)."""
from __future__ import annotations

import asyncio
import datetime

import kopf
import pytest

from dbtable.apisession import (DEFAULT_CONNECTIONS, IDLE_CONNECTION_S, InvalidConnectionLimit,
                                connection_limit, in_cluster_server, limited_session)


@pytest.mark.parametrize("raw, limit", [(None, DEFAULT_CONNECTIONS), ("", DEFAULT_CONNECTIONS),
                                        ("4", 4), (" 64 ", 64)])
def test_limit_is_read_from_the_setting(raw: str | None, limit: int) -> None:
    assert connection_limit(raw) == limit


@pytest.mark.parametrize("raw", ["0", "3", "-1", "many", "1.5"])
def test_a_limit_that_leaves_no_room_beside_a_watch_is_refused_naming_the_setting(
        raw: str) -> None:
    with pytest.raises(InvalidConnectionLimit, match=f"DBT_API_CONNECTIONS .* not '{raw}'"):
        connection_limit(raw)


def test_the_session_carries_kopfs_credentials_and_the_limit() -> None:
    expires = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    info = kopf.ConnectionInfo(server="https://127.0.0.1:6443", token="s3cret", scheme="Bearer",
                               default_namespace="ns", priority=7, expiration=expires,
                               insecure=True)

    async def build() -> tuple[kopf.AiohttpSession, int, float]:
        made = limited_session(info, 12)
        connector = made.aiohttp_session.connector
        limit, idle = connector.limit, connector._keepalive_timeout  # aiohttp has no getter
        await made.aiohttp_session.close()
        return made, limit, idle

    made, limit, idle = asyncio.run(build())
    assert limit == 12
    assert idle == IDLE_CONNECTION_S  # idle connections closed soon after a burst
    assert (made.server, made.default_namespace, made.priority, made.expiration) == (
        "https://127.0.0.1:6443", "ns", 7, expires)
    assert made.aiohttp_session.headers["Authorization"] == "Bearer s3cret"


@pytest.mark.parametrize("host, port, server", [
    ("10.96.0.1", "443", "https://10.96.0.1:443"),
    ("fd00::1", "6443", "https://[fd00::1]:6443"),
    (None, "443", None), ("10.96.0.1", None, None), ("", "", None)])
def test_in_a_pod_the_api_server_is_the_address_the_kubelet_gives(
        host: str | None, port: str | None, server: str | None) -> None:
    assert in_cluster_server(host, port) == server
