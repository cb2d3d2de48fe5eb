"""A TCP proxy on loopback that a test can freeze: what a hung pgbouncer, a stuck NAT or a
network partition looks like to a client (threads, no dependencies).

Frozen, it still accepts connections and keeps every socket open, but forwards nothing in
either direction; whatever arrives meanwhile is held and delivered when it resumes. The
kernel keeps acknowledging the client's packets (the proxy's sockets are alive), so TCP
keepalives and ``tcp_user_timeout`` cannot tell: only the client's own timeouts can.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit


class FreezableProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._acceptor.start()

    def freeze(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def url_through(self, url: str) -> str:
        """A postgresql:// URL of the upstream server, pointed at this proxy instead."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[0] + f"@{self.host}:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()  # wake the pumps so they see the close
        # close() alone leaves a thread blocked in accept() waiting (until the join's
        # timeout); shutdown() wakes it at once.
        _close_quietly(self._listener)
        with self._lock:
            for sock in self._sockets:
                _close_quietly(sock)
        self._acceptor.join(timeout=10)

    def __enter__(self) -> FreezableProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            try:
                upstream = socket.create_connection(self._upstream, timeout=10)
                upstream.settimeout(None)
            except OSError:
                _close_quietly(client)
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink, watch in ((client, upstream, self._client_watcher()),
                                        (upstream, client, None)):
                threading.Thread(target=self._pump, args=(source, sink, watch),
                                 name="proxy-pump", daemon=True).start()

    def _client_watcher(self) -> Callable[[bytes], None] | None:
        """What sees the bytes one client sends, before they are forwarded (a subclass's)."""
        return None

    def _pump(self, source: socket.socket, sink: socket.socket,
              watch: Callable[[bytes], None] | None) -> None:
        while not self._closed.is_set():
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            self._flowing.wait()  # frozen: hold the data, keep both sockets open
            if not data or self._closed.is_set():
                _close_quietly(sink)
                return
            if watch is not None:
                watch(data)
            try:
                sink.sendall(data)
            except OSError:
                _close_quietly(source)
                return


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
