"""A TCP proxy on loopback that records every query a PostgreSQL client sends (threads, no
dependencies): what "one round trip" means, counted on the wire rather than inferred.

psycopg2 speaks only the simple query protocol, so each round trip is one Query ('Q') message:
its own statements, and the BEGIN, COMMIT and ROLLBACK it sends for a transaction. Several
statements joined by ``;`` travel in one message, and count once. The client must not encrypt
(``url_through`` asks for sslmode and gssencmode disable), or there is nothing to read.
"""
from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Startup-phase requests that carry a protocol code instead of a version (the server answers
# them with one byte, and the real startup message follows).
_SSL_REQUEST, _GSSENC_REQUEST = 80877103, 80877104


class QueryRecorder:
    """Forwards to ``upstream`` and records the text of each Query message, in order."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._lock = threading.Lock()
        self._queries: list[str] = []
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", self._listener.getsockname()[1]
        threading.Thread(target=self._accept, name="wire-accept", daemon=True).start()

    def url_through(self, url: str) -> str:
        """``url`` (a postgresql:// URL) pointed at this proxy, in the clear."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[0] + f"@{self.host}:{self.port}"
        query = dict(parse_qsl(parts.query), sslmode="disable", gssencmode="disable")
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))

    def take(self) -> list[str]:
        """The queries sent since the last call."""
        with self._lock:
            taken, self._queries = self._queries, []
        return taken

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _close_quietly(sock)

    def __enter__(self) -> QueryRecorder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._upstream, timeout=10)
            except OSError:
                return  # the listener was closed (or the server is gone: the client sees it)
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, _Parser(self._record)),
                             name="wire-client", daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None),
                             name="wire-server", daemon=True).start()

    def _record(self, query: str) -> None:
        with self._lock:
            self._queries.append(query)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, parser: _Parser | None) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                _close_quietly(sink)
                return
            if parser is not None:
                parser.feed(data)  # before forwarding: recorded before any answer can come
            try:
                sink.sendall(data)
            except OSError:
                _close_quietly(source)
                return


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


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
