"""A TCP proxy on loopback that records every query a PostgreSQL client sends: what "one round
trip" means, counted on the wire rather than inferred.

psycopg2 speaks only the simple query protocol, so each round trip is one Query ('Q') message:
its own statements, and the BEGIN, COMMIT and ROLLBACK it sends for a transaction. Several
statements joined by ``;`` travel in one message, and count once. The client must not encrypt
(``url_through`` asks for sslmode and gssencmode disable), or there is nothing to read.
"""
from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tests.support.proxy import FreezableProxy

# Startup-phase requests that carry a protocol code instead of a version (the server answers
# them with one byte, and the real startup message follows).
_SSL_REQUEST, _GSSENC_REQUEST = 80877103, 80877104


class QueryRecorder(FreezableProxy):
    """Forwards to the upstream server and records the text of each Query message, in order."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._queries: list[str] = []
        self._record_lock = threading.Lock()
        super().__init__(upstream_host, upstream_port)

    def url_through(self, url: str) -> str:
        """``url`` (a postgresql:// URL) pointed at this proxy, in the clear."""
        parts = urlsplit(super().url_through(url))
        query = dict(parse_qsl(parts.query), sslmode="disable", gssencmode="disable")
        return urlunsplit(parts._replace(query=urlencode(query)))

    def take(self) -> list[str]:
        """The queries sent since the last call."""
        with self._record_lock:
            taken, self._queries = self._queries, []
        return taken

    def _client_watcher(self) -> Callable[[bytes], None]:
        return _Parser(self._record).feed  # one per connection: its own byte stream

    def _record(self, query: str) -> None:
        with self._record_lock:
            self._queries.append(query)


class _Parser:
    """Splits the client's byte stream into protocol messages; hands on each Query's text."""

    def __init__(self, on_query: Callable[[str], None]) -> None:
        self._on_query = on_query
        self._buffer = b""
        self._starting = True  # the startup messages have no type byte

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if self._starting:
                if len(self._buffer) < 8:
                    return
                (length, code) = struct.unpack("!ii", self._buffer[:8])
                if len(self._buffer) < length:
                    return
                self._buffer = self._buffer[length:]
                self._starting = code in (_SSL_REQUEST, _GSSENC_REQUEST)
                continue
            if len(self._buffer) < 5:
                return
            kind, length = self._buffer[:1], struct.unpack("!i", self._buffer[1:5])[0]
            if len(self._buffer) < 1 + length:
                return
            body, self._buffer = self._buffer[5:1 + length], self._buffer[1 + length:]
            if kind == b"Q":
                self._on_query(body.rstrip(b"\0").decode("utf-8", "replace"))
