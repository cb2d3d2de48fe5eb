"""The benchmark's own Kubernetes client: plain HTTPS on loopback, one connection per thread.

No kubectl (a process per call) and no kubernetes client (its object model costs more CPU than
the work measured): the burst's clients, the watch that timestamps Ready and the /metrics reads
run in the benchmark's process, beside the operator on the same CPUs, so they are kept cheap.
"""
from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GROUP, VERSION, PLURAL = "kopf.demo", "v1", "databasetables"
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY"})


class ApiError(RuntimeError):
    pass


class Api:
    """Requests as the control plane's admin (client certificate), a keep-alive HTTPS
    connection per calling thread."""

    def __init__(self, port: int, ca_file: Path, cert: Path, key: Path) -> None:
        self.port = port
        self._ctx = ssl.create_default_context(cafile=str(ca_file))
        self._ctx.load_cert_chain(str(cert), str(key))
        self._local = threading.local()

    @classmethod
    def admin_of(cls, cp: Any) -> Api:
        return cls(cp.port, cp.ca_file, cp.pki / "admin.crt", cp.pki / "admin.key")

    def connection(self, timeout: float | None = 60) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self._ctx,
                                           timeout=timeout)

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json") -> Any:
        """One request; its JSON answer (or text for non-JSON). Retries once on a dropped
        keep-alive connection."""
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None) or self.connection()
            self._local.conn = conn
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
                continue
            if response.status >= 400:
                raise ApiError(f"{method} {path}: {response.status} {data[:300]!r}")
            if response.getheader("Content-Type", "").startswith("application/json"):
                return json.loads(data)
            return data.decode()
        raise AssertionError("unreachable")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def collection(namespace: str | None) -> str:
    """The DatabaseTables of one namespace, or of every namespace (None)."""
    if namespace is None:
        return f"/apis/{GROUP}/{VERSION}/{PLURAL}"
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"


def ready_generation(obj: dict[str, Any]) -> bool:
    """Ready=True for the object's current generation."""
    generation = obj["metadata"].get("generation")
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return (condition.get("status") == "True"
                    and condition.get("observedGeneration") == generation)
    return False


class ReadyWatch(threading.Thread):
    """Watches one namespace's DatabaseTables (every namespace's: None) and notes when each
    first turned Ready (monotonic seconds), as the watch event arrives: no polling delay."""

    def __init__(self, api: Api, namespace: str | None) -> None:
        super().__init__(daemon=True, name=f"watch {namespace or 'all namespaces'}")
        self.api, self.namespace = api, namespace
        self.ready_at: dict[str, float] = {}
        self.finalized_at: dict[str, float] = {}  # first seen with a finalizer
        self.lists = 0     # 1 + the times the server ended the watch early (slow reader, 410)
        self.ends: list[tuple[float, str]] = []  # (monotonic time, why)
        self._conn: http.client.HTTPSConnection | None = None
        self._started = threading.Event()
        self._halt = False
        self.error: BaseException | None = None

    def start_and_wait(self) -> ReadyWatch:
        self.start()
        if not self._started.wait(70):
            raise ApiError(f"the watch of {self.namespace} did not start")
        if self.error:
            raise self.error
        return self

    def run(self) -> None:
        try:
            while not self._halt:
                self._list_and_watch()
        except BaseException as e:  # reported by start_and_wait or seen as missing Ready
            if not self._halt:
                self.error = e
            self._started.set()

    def _note(self, obj: dict[str, Any]) -> None:
        name = obj.get("metadata", {}).get("name")
        if name and name not in self.finalized_at and obj["metadata"].get("finalizers"):
            self.finalized_at[name] = time.monotonic()
        if name and name not in self.ready_at and ready_generation(obj):
            self.ready_at[name] = time.monotonic()

    def _list_and_watch(self) -> None:
        """List (a fresh CRD or namespace answers 429 for a moment: retried), then watch from
        the list's resourceVersion until the stream ends."""
        deadline = time.monotonic() + 60
        while True:
            try:
                listing = self.api.request("GET", collection(self.namespace))
                break
            except ApiError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.lists += 1
        for obj in listing.get("items", []):
            self._note(obj)
        version = listing["metadata"]["resourceVersion"]
        self._conn = self.api.connection(timeout=None)
        self._conn.request("GET", f"{collection(self.namespace)}?watch=true&timeoutSeconds=3600"
                                  f"&resourceVersion={version}",
                           headers={"Accept": "application/json"})
        response = self._conn.getresponse()
        if response.status != 200:
            raise ApiError(f"watch of {self.namespace}: {response.status} {response.read()!r}")
        self._started.set()
        while not self._halt:
            line = response.readline()
            if not line:
                self.ends.append((time.monotonic(), "end of stream"))
                return  # the server ended the watch: list again
            event = json.loads(line)
            if event.get("type") == "ERROR":
                self.ends.append((time.monotonic(),
                                  str(event.get("object", {}).get("message"))[:100]))
                return  # e.g. 410 Gone: list again
            if event.get("type") != "DELETED":
                self._note(event.get("object") or {})

    def stop(self) -> None:
        self._halt = True
        if self._conn is not None and self._conn.sock is not None:
            # shutdown() wakes the blocked readline; close() alone does not
            import socket

            try:
                self._conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._conn.close()
        self.join(10)


def create_all(api: Api, namespace: str | None, bodies: list[dict[str, Any]], threads: int,
               then: Callable[[dict[str, Any]], None] | None = None) -> dict[str, float]:
    """POST every body from ``threads`` client threads (bodies dealt round-robin) into
    ``namespace``, or each into its own metadata.namespace (None); returns the monotonic time
    each create returned, by name. ``then`` is called with each created object in the creating
    thread (the floor uses a queue there)."""
    created: dict[str, float] = {}
    errors: list[BaseException] = []

    def work(chunk: Iterable[dict[str, Any]]) -> None:
        try:
            for body in chunk:
                path = collection(namespace or body["metadata"]["namespace"])
                obj = api.request("POST", path, body)
                created[body["metadata"]["name"]] = time.monotonic()
                if then is not None:
                    then(obj)
        except BaseException as e:
            errors.append(e)
        finally:
            api.close()

    workers = [threading.Thread(target=work, args=(bodies[i::threads],), daemon=True)
               for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return created


@dataclass(frozen=True)
class Metrics:
    """apiserver_request_total summed by (verb, resource, subresource)."""

    counts: Counter[tuple[str, str, str]]

    @classmethod
    def read(cls, api: Api) -> Metrics:
        return cls(parse_request_totals(api.request("GET", "/metrics", content_type="text/plain")))

    def __sub__(self, before: Metrics) -> Metrics:
        counts = Counter(self.counts)
        counts.subtract(before.counts)
        return Metrics(Counter({k: v for k, v in counts.items() if v}))

    def count(self, verbs: Iterable[str], resource: str, subresource: str = "") -> int:
        return sum(self.counts.get((verb, resource, subresource), 0) for verb in verbs)

    def writes(self, resource: str) -> int:
        return sum(v for (verb, res, _), v in self.counts.items()
                   if res == resource and verb in WRITE_VERBS)


def parse_request_totals(text: str) -> Counter[tuple[str, str, str]]:
    """Sum ``apiserver_request_total`` samples by (verb, resource, subresource)."""
    totals: Counter[tuple[str, str, str]] = Counter()
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, _, value = line[len("apiserver_request_total{"):].rpartition("} ")
        labels = dict(_labels(labels_text))
        key = (labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", ""))
        totals[key] += int(float(value))
    return totals


def _labels(text: str) -> Iterable[tuple[str, str]]:
    """key="value" pairs of a Prometheus sample (label values here carry no quotes)."""
    for part in text.split('",'):
        key, _, value = part.partition('="')
        yield key.strip(), value.rstrip('"')
