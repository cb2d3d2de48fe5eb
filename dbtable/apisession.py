"""Kopf's HTTP session to the API server, with a bounded pool of connections (an edge: Kopf
wiring, used by the operator's login handler).

Kopf's own session has no connection limit (``aiohttp.TCPConnector(limit=0)``): a burst of
PATCHes and Events opens one TLS connection for each request in flight, hundreds of them,
each with its handshake (CPU in the operator and in the API server) and a 256 KiB read buffer
kept alive afterwards. Kopf's supported way to choose the session is a login handler that
returns ``kopf.AiohttpSession``; this builds one from the credentials Kopf's own login found,
exactly as Kopf builds its own (TLS context, auth headers, proxy), with a limit.

Watch streams hold a connection each for as long as they last, so the limit must stay above
the number of watches (one per watched namespace, or one cluster-wide) or requests would
wait for a watch to end.
"""
from __future__ import annotations

import os

import aiohttp
import kopf

# bench_burst: with 30, a burst of 2,000 waited in line (p50 create→Ready 13.5 s against 2.8 s
# with 100); 100 held 8 MB more than 64 after a burst of 1,000.
DEFAULT_CONNECTIONS = 64
# An idle connection is closed after this long (aiohttp's default: 15 s, checked every 15 s).
# Each holds a 256 KiB read buffer and its TLS state: after a burst the operator would keep them
# all (64, about 20 MB) for 15 to 30 s; dbtable/heap.py hands the memory back once they close.
# Within a burst they never idle this long; between bursts a request may pay a new handshake.
IDLE_CONNECTION_S = 2.0
MIN_CONNECTIONS = 4  # a watch, and room for requests beside it


class InvalidConnectionLimit(ValueError):
    pass


def connection_limit(raw: str | None) -> int:
    """``DBT_API_CONNECTIONS``: how many connections to the API server at most."""
    if raw is None or not raw.strip():
        return DEFAULT_CONNECTIONS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < MIN_CONNECTIONS:
        raise InvalidConnectionLimit(
            f"DBT_API_CONNECTIONS must be a whole number of at least {MIN_CONNECTIONS} "
            f"(connections to the API server; watches hold one each), not {raw!r}")
    return value


def limited_session(info: kopf.ConnectionInfo, limit: int) -> kopf.AiohttpSession:
    """The session Kopf would make from ``info``, with at most ``limit`` connections.

    Must run in the operator's event loop (an async login handler): the session binds to it.
    """
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, keepalive_timeout=IDLE_CONNECTION_S,
                                       ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    return kopf.AiohttpSession(server=info.server, default_namespace=info.default_namespace,
                               priority=info.priority, expiration=info.expiration,
                               aiohttp_session=session)


def in_cluster_server(host: str | None, port: str | None) -> str | None:
    """The API server's URL from a Pod's KUBERNETES_SERVICE_HOST/PORT (as client-go's
    InClusterConfig reads them), or None outside a Pod."""
    if not host or not port:
        return None
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def limit_from_env() -> int:
    return connection_limit(os.environ.get("DBT_API_CONNECTIONS"))
