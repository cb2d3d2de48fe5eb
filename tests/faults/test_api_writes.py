"""What the operator writes to the API server: each write of a DatabaseTable comes back to
every watch of it as an event (Kopf processes each one again), so a create must cost no more
writes than it needs, and a restart with nothing changed must write nothing at all.

Writes are counted as the API server reports them: the MODIFIED events of a watch of the
namespace's DatabaseTables (one per write, each with a new resourceVersion), so the count does
not depend on other clients of a shared API server.
"""
from __future__ import annotations

import json
import re
import subprocess
import threading
from typing import Any

import pytest

from tests.faults.conftest import Namespace
from tests.support.k8s import resource, wait_for

NAMES = ("alpha", "beta", "gamma")


class Watch:
    """``kubectl get databasetables --watch-only`` in the background: every event it sees."""

    def __init__(self, namespace: Namespace) -> None:
        cluster = namespace.cluster
        self._process = subprocess.Popen(
            [str(cluster.kubectl), "--kubeconfig", str(cluster.kubeconfig), "-n", namespace.name,
             "get", "databasetables", "--watch-only", "--output-watch-events", "-o", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        decoder, buffer = json.JSONDecoder(), ""
        assert self._process.stdout is not None
        for line in self._process.stdout:
            buffer += line
            try:
                event, end = decoder.raw_decode(buffer.lstrip())
            except ValueError:
                continue  # an object printed over several lines: not complete yet
            buffer = buffer.lstrip()[end:]
            with self._lock:
                self.events.append(event)

    def seen(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)

    def writes(self, name: str) -> list[dict[str, Any]]:
        """The objects of the MODIFIED events of ``name``, in order."""
        return [e["object"] for e in self.seen()
                if e["type"] == "MODIFIED" and e["object"]["metadata"]["name"] == name]

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)


@pytest.fixture
def watch(namespace: Namespace):
    watches: list[Watch] = []

    def start() -> Watch:
        watches.append(Watch(namespace))
        return watches[-1]

    yield start
    for w in watches:
        w.stop()


def table(name: str) -> str:
    return resource(name, {"tableName": name.upper(), "columns": [{"ID": "integer"},
                                                                  {"NOTE": "text"}],
                           "primaryKey": "ID"})


def is_ready(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               and c.get("observedGeneration") == obj["metadata"]["generation"]
               for c in obj.get("status", {}).get("conditions", []))


def test_a_create_costs_the_finalizer_patch_and_one_patch_with_the_status(
        namespace: Namespace, start_operator, watch) -> None:
    """The handler adds our finalizer before it touches the database (one write); its status
    and Kopf's record of what it handled then go in ONE write, not one each."""
    start_operator("container")
    seen = watch()
    for name in NAMES:
        namespace.apply(table(name))
    for name in NAMES:
        namespace.wait_ready(name)
    for name in NAMES:
        writes = wait_for(lambda: (w := seen.writes(name)) and is_ready(w[-1]) and w,
                          timeout=30, message=f"the watch to see {name} Ready")
        # Until Ready, exactly: the finalizer, then the status with the diff base.
        until_ready = writes[:next(i for i, w in enumerate(writes) if is_ready(w)) + 1]
        assert len(until_ready) == 2, [(w["metadata"].get("finalizers"),
                                        w["metadata"].get("annotations"),
                                        w.get("status", {}).keys()) for w in until_ready]
        assert "kopf.demo/database-table-operator" in until_ready[0]["metadata"]["finalizers"]


RESUMED = re.compile(r"\[(?P<ns>[^/\]\s]+)/(?P<name>[^\]\s]+)\] Resuming is processed")


def test_a_restarted_operator_with_nothing_changed_writes_nothing(
        namespace: Namespace, start_operator, watch) -> None:
    first = start_operator("container")
    for name in NAMES:
        namespace.apply(table(name))
    before = {name: namespace.wait_ready(name) for name in NAMES}
    objects = {name: namespace.get(name) for name in NAMES}
    first.stop()

    seen = watch()
    second = start_operator("container")
    wait_for(lambda: {m["name"] for m in RESUMED.finditer(second.logs())} >= set(NAMES),
             timeout=60, message="every resource's resume handled")
    # Kopf sends a handler's patch right after logging its outcome: give a write that would
    # follow the log line time to show on the watch. Any write fails the test at once.
    with pytest.raises(AssertionError, match="timed out"):
        wait_for(lambda: seen.seen(), timeout=3, message="any write")
    for name in NAMES:
        after = namespace.get(name)
        assert after["metadata"]["resourceVersion"] == \
            objects[name]["metadata"]["resourceVersion"], name
        assert namespace.ready(name) == before[name]
