"""Rows of the burst table: this operator and the seed-style toy (the floor: burst_floor.py).

Every row gets a fresh namespace (with the checkout's RBAC and a ServiceAccount token) and a
fresh database owned by a fresh unprivileged role; N resources are POSTed by ``threads``
client threads at once. Ready is timestamped by a watch (operator, floor) or, for the toy, which
writes no status, by polling PostgreSQL's catalog for the table.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2

from bench.burst_api import Api, Metrics, ReadyWatch, create_all
from bench.burst_procs import (Process, api_connections, cpu_seconds, start_operator,
                               start_seed, tree_cpu_seconds)
from bench.common import rss_kib, seed_spec
from hack.finalizer_policy import finalizer_policy, install_policy
from tests.support.k8s import namespaced_rbac
from tests.support.postgres import create_operator_database

SERVICE_ACCOUNT = "database-table-operator"
IDLE_S = 5.0      # the operator's RSS is read this long after /healthz answers, before the burst
SETTLE_S = 5.0    # after the last Ready: trailing PATCHes, then the "after" RSS
SAMPLE_S = 0.2
CONNECTIONS_S = 1.0
TABLE_POLL_S = 0.05


@dataclass
class Site:
    """What every row shares: the servers, the admin client, the checkout under test."""

    pg: Any
    cp: Any
    api: Api
    checkout: Path
    workdir: Path
    seed_bin: Path | None = None


@dataclass
class Row:
    """One row's measurements, filled in as the row runs (so not frozen)."""

    who: str
    count: int
    created: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)
    finalized: dict[str, float] = field(default_factory=dict)  # first seen with a finalizer
    started: float = 0.0
    rss: dict[str, list[int]] = field(default_factory=dict)   # phase -> KiB samples
    connections: dict[str, list[int]] = field(default_factory=dict)  # phase -> to the API
    cpu: float | None = None
    servers_cpu: dict[str, float] = field(default_factory=dict)
    metrics: Metrics | None = None
    errors: list[str] = field(default_factory=list)
    # the benchmark's own watch, ended early by the server: (monotonic time, why)
    watch_ends: list[tuple[float, str]] = field(default_factory=list)
    load: tuple[float, ...] = ()
    notes: list[str] = field(default_factory=list)  # how this row ran, printed under the table


def new_namespace(site: Site, prefix: str) -> tuple[str, Path]:
    """A fresh namespace with the checkout's RBAC; returns it and a kubeconfig of its
    ServiceAccount's token."""
    namespace = f"{prefix}-{secrets.token_hex(3)}"
    site.api.request("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
    site.cp.kubectl_run("apply", "-f", "-", input=namespaced_rbac(namespace, site.checkout))
    token = site.cp.create_token(namespace, SERVICE_ACCOUNT, duration="6h")
    kubeconfig = site.cp.write_token_kubeconfig(site.workdir / f"{namespace}.kubeconfig", token,
                                                namespace)
    return namespace, kubeconfig


POLICY_NOTE = "our finalizer put on at admission by the checkout's deploy/finalizer-policy.yaml"


@contextlib.contextmanager
def admission_finalizer(site: Site, row: Row, namespaces: list[str] | None) -> Iterator[None]:
    """The checkout's finalizer policy (if it has one: older checkouts do not) bound to
    ``namespaces`` (None: all) while the row runs, as its README installs it; deleted after,
    so the toy and the floor never get it. Waits until a dry-run create shows it in effect
    (hack/finalizer_policy.py's install_policy, as `make run` and the tests install it)."""
    suffix = f"-{secrets.token_hex(3)}"
    manifest = finalizer_policy(namespaces, site.checkout, suffix=suffix)
    if manifest is None:
        yield
        return
    try:
        install_policy(site.cp.kubectl_run, namespaces, (namespaces or ["default"])[0],
                       suffix=suffix, timeout=30, checkout=site.checkout)
        row.notes.append(POLICY_NOTE)
        yield
    finally:
        site.cp.kubectl_run("delete", "-f", "-", "--ignore-not-found", input=manifest)


def bodies(count: int) -> list[dict[str, Any]]:
    spec = seed_spec()
    return [{"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
             "metadata": {"name": f"burst-{n:05}"},
             "spec": {**spec, "tableName": f"BURST_{n:05}"}} for n in range(count)]


class Sampler(threading.Thread):
    """VmRSS of one process every SAMPLE_S, and its connections to the API server every
    CONNECTIONS_S, by phase."""

    def __init__(self, pid: int, row: Row, api_port: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.row, self.phase, self.port = pid, row, "idle", api_port
        self._halt = threading.Event()

    def run(self) -> None:
        every = round(CONNECTIONS_S / SAMPLE_S)
        n = 0
        while not self._halt.is_set():
            kib = rss_kib(self.pid)
            if kib is not None:
                self.row.rss.setdefault(self.phase, []).append(kib)
            if n % every == 0:
                with contextlib.suppress(OSError):
                    self.row.connections.setdefault(self.phase, []).append(
                        api_connections(self.pid, self.port))
            n += 1
            self._halt.wait(SAMPLE_S)

    def stop(self) -> None:
        self._halt.set()
        self.join()


class TablePoll(threading.Thread):
    """Notes when each table first appears in the catalog (the toy writes no status)."""

    def __init__(self, url: str, tables: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.tables = url, tables      # table name -> resource name
        self.seen: dict[str, float] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not self._halt.is_set() and len(self.seen) < len(self.tables):
                    cur.execute("SELECT relname FROM pg_class WHERE relkind = 'r' AND "
                                "relnamespace = 'public'::regnamespace")
                    now = time.monotonic()
                    for (relname,) in cur.fetchall():
                        name = self.tables.get(relname)
                        if name is not None and name not in self.seen:
                            self.seen[name] = now
                    self._halt.wait(TABLE_POLL_S)
        finally:
            conn.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def wait_all(done: Callable[[], int], count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while done() < count and time.monotonic() < deadline:
        time.sleep(0.05)


def settle(pid: int, quiet: float = 0.05, timeout: float = 120) -> None:
    """Wait until the process uses under ``quiet`` of a CPU over a second (trailing work
    after the last Ready, such as Kopf's closing PATCHes, is part of the burst's cost)."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    while last is not None and time.monotonic() < deadline:
        time.sleep(1.0)
        now = cpu_seconds(pid)
        if now is None or now - last < quiet:
            return
        last = now


def server_cpu(site: Site) -> dict[str, float]:
    found = {name: cpu_seconds(pid) or 0.0 for name, pid in site.cp.pids().items()}
    postmaster = getattr(getattr(site.pg, "_process", None), "pid", None)  # a local server's
    if postmaster is not None:
        found["postgres"] = tree_cpu_seconds(postmaster) or 0.0
    # this process: the client threads' creates and the row's Ready watch or table poll,
    # on the same CPUs as the rest
    found["the benchmark"] = sum(os.times()[:2])
    return found


@contextlib.contextmanager
def measured(site: Site, row: Row, pid: int | None) -> Iterator[Sampler | None]:
    """Metrics and CPU deltas around the burst; RSS samples of ``pid`` through all phases."""
    sampler = Sampler(pid, row, site.cp.port) if pid else None
    if sampler:
        sampler.start()
        time.sleep(IDLE_S)
        sampler.phase = "burst"
    before, servers0 = Metrics.read(site.api), server_cpu(site)
    cpu0 = cpu_seconds(pid) if pid else None
    try:
        yield sampler
        if sampler:
            sampler.phase = "after"
        time.sleep(SETTLE_S)
        if pid:
            settle(pid)
        row.metrics = Metrics.read(site.api) - before
        if pid and cpu0 is not None:
            row.cpu = (cpu_seconds(pid) or 0.0) - cpu0
        row.servers_cpu = {k: v - servers0.get(k, 0.0) for k, v in server_cpu(site).items()}
    finally:
        if sampler:
            sampler.stop()


def burst(site: Site, row: Row, namespace: str, threads: int, timeout: float,
          ready: Callable[[], dict[str, float]],
          then: Callable[[dict[str, Any]], None] | None = None) -> None:
    row.load = os.getloadavg()
    row.started = time.monotonic()
    row.created = create_all(site.api, namespace, bodies(row.count), threads, then)
    wait_all(lambda: len(ready()), row.count, timeout)
    row.ready = dict(ready())


# Given the operator's pid once it is live; returns what to call once the burst has settled.
Probe = Callable[[int], Callable[[], None]]


def operator_row(site: Site, count: int, threads: int, workers: int, timeout: float,
                 keep: bool = False, extra_env: dict[str, str] | None = None,
                 probe: Probe | None = None
                 ) -> tuple[Row, Process | None, dict[str, str], str]:
    """This operator: its checkout's container command. With ``keep`` the operator is left
    running (returned with its env and database name, for the restart scenario)."""
    row = Row("this operator", count)
    namespace, kubeconfig = new_namespace(site, "burst-op")
    db = create_operator_database(site.pg, prefix="burst")
    env = {"KUBECONFIG": str(kubeconfig), "DATABASE_URL": db["url"],
           "WATCH_NAMESPACE": namespace, "DBT_WORKERS": str(workers), **(extra_env or {})}
    operator = start_operator(site.checkout, env, site.workdir / f"{namespace}.log")
    try:
        operator.wait_live()
        pid = operator.python_pid()
        finish = probe(pid) if probe else None
        watch = ReadyWatch(site.api, namespace).start_and_wait()
        try:
            with admission_finalizer(site, row, [namespace]), measured(site, row, pid):
                burst(site, row, namespace, threads, timeout, lambda: watch.ready_at)
            row.watch_ends, row.finalized = watch.ends, dict(watch.finalized_at)
        finally:
            watch.stop()
            if finish:
                finish()
        row.errors = operator.error_lines()
    finally:
        if not keep:
            operator.stop()
    return row, (operator if keep else None), env, db["dbname"]


def seed_row(site: Site, count: int, threads: int, timeout: float) -> Row:
    """The seed-style toy from its own virtualenv; "Ready" is its table existing."""
    assert site.seed_bin is not None
    row = Row("seed-style Kopf operator", count)
    namespace, kubeconfig = new_namespace(site, "burst-seed")
    db = create_operator_database(site.pg, prefix="burst")
    toy = start_seed(site.seed_bin, namespace,
                     {"KUBECONFIG": str(kubeconfig), "DATABASE_URL": db["url"]},
                     site.workdir / f"{namespace}.log")
    poll = TablePoll(db["url"], {b["spec"]["tableName"].lower(): b["metadata"]["name"]
                                 for b in bodies(count)})
    try:
        toy.wait_live()
        poll.start()
        with measured(site, row, toy.python_pid()):
            burst(site, row, namespace, threads, timeout, lambda: poll.seen)
        row.errors = toy.error_lines()
    finally:
        poll.stop()
        toy.stop()
    return row
