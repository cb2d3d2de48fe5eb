"""bench_burst's pure parts: reading /metrics, the figures of a row, the log lines it counts."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.burst_api import Metrics, collection, parse_request_totals, ready_generation
from bench.burst_namespaces import operator_settings, spread
from bench.burst_procs import LogTail, seed_pins
from bench.burst_report import all_ready, latencies, ratios, rounds_table, rss, writes
from bench.burst_restart import CHECKED, DDL, checked_names
from bench.burst_rows import Row
from bench.common import ROOT

METRICS = """\
# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="kopf.demo",\
resource="databasetables",scope="resource",subresource="",verb="POST",version="v1"} 500
apiserver_request_total{code="200",component="apiserver",dry_run="",group="kopf.demo",\
resource="databasetables",scope="resource",subresource="",verb="PATCH",version="v1"} 990
apiserver_request_total{code="409",component="apiserver",dry_run="",group="kopf.demo",\
resource="databasetables",scope="resource",subresource="",verb="PATCH",version="v1"} 10
apiserver_request_total{code="200",component="apiserver",dry_run="",group="kopf.demo",\
resource="databasetables",scope="resource",subresource="status",verb="PATCH",version="v1"} 500
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",\
resource="events",scope="resource",subresource="",verb="POST",version="v1"} 500
apiserver_request_total{code="200",component="apiserver",dry_run="",group="kopf.demo",\
resource="databasetables",scope="namespace",subresource="",verb="WATCH",version="v1"} 3
apiserver_request_duration_seconds_count{verb="PATCH",resource="databasetables"} 77
"""


def test_request_totals_sum_codes_by_verb_resource_subresource() -> None:
    totals = parse_request_totals(METRICS)
    assert totals[("PATCH", "databasetables", "")] == 1000
    assert totals[("PATCH", "databasetables", "status")] == 500
    assert totals[("POST", "events", "")] == 500
    assert totals[("WATCH", "databasetables", "")] == 3
    assert sum(totals.values()) == 2503  # the duration histogram is not a request count


def test_writes_per_resource_leave_out_the_clients_create_and_reads() -> None:
    after = Metrics(parse_request_totals(METRICS))
    before = Metrics(Counter({("PATCH", "databasetables", ""): 500}))
    delta = after - before
    assert delta.count(["PATCH"], "databasetables") == 500
    assert writes(delta, 500) == {"object PATCH": 1.0, "status PATCH": 1.0, "Event POST": 1.0,
                                  "total": 3.0}


def test_a_row_is_ready_only_when_every_resource_is() -> None:
    row = Row("x", 3, created={"a": 10.0, "b": 10.5, "c": 11.0}, ready={"a": 11.0, "b": 13.5},
              started=9.0, rss={"idle": [100, 90], "burst": [300], "after": [200, 150]})
    assert all_ready(row) is None
    assert sorted(latencies(row)) == [1.0, 3.0]
    row.ready["c"] = 12.0
    assert all_ready(row) == 4.5
    assert rss(row) == (90, 150, 300)


def test_ready_means_true_for_the_current_generation() -> None:
    def obj(status: str, observed: int) -> dict:
        return {"metadata": {"generation": 2}, "status": {"conditions": [
            {"type": "Ready", "status": status, "observedGeneration": observed}]}}

    assert ready_generation(obj("True", 2))
    assert not ready_generation(obj("True", 1))
    assert not ready_generation(obj("False", 2))
    assert not ready_generation({"metadata": {"generation": 1}})


def test_checks_are_read_from_kopfs_per_object_log_lines(tmp_path: Path) -> None:
    log = tmp_path / "operator.log"
    log.write_text(
        "[2026-11-27 05:41:50,694] kopf.objects         [INFO    ] [ns-1/burst-00000] "
        "Handler 'reconcile' succeeded.\n"
        "[2026-11-27 05:41:50,708] kopf.objects         [INFO    ] [ns-1/burst-00000] "
        "Resuming is processed: 1 succeeded; 0 failed.\n"
        "[2026-11-27 05:41:50,709] kopf.objects         [INFO    ] [ns-1/burst-00001] "
        "Handler 'reconcile' failed temporarily: x\n"
        "[2026-11-27 05:41:50,710] kopf.objects         [INFO    ] [ns-1/burst-00002] "
        "Resuming is processed: 1 succeeded; 0 failed.\n")
    tail = LogTail(log, CHECKED)
    tail.start()
    tail.stop()
    assert sorted(checked_names(tail)) == ["burst-00000", "burst-00002"]


def test_ddl_is_told_from_queries() -> None:
    assert DDL.match('CREATE TABLE "public"."x" ("a" integer)')
    assert DDL.match("  comment on table x is $1")
    assert not DDL.match("SELECT c.relname FROM pg_class c")
    assert not DDL.match("SET LOCAL lock_timeout = $1")


def test_the_seed_venv_pins_the_seeds_three_packages_as_requirements_does() -> None:
    pins = seed_pins()
    assert [p.split("==")[0].lower() for p in pins] == ["kopf", "kubernetes", "psycopg2-binary"]
    pinned = (ROOT / "requirements.txt").read_text() + (ROOT / "requirements-test.txt").read_text()
    assert all(p in pinned for p in pins)


def test_resources_are_spread_round_robin_with_names_unique_across_namespaces() -> None:
    bodies = spread(7, ["a", "b", "c"])
    assert [b["metadata"]["namespace"] for b in bodies] == ["a", "b", "c", "a", "b", "c", "a"]
    assert len({b["metadata"]["name"] for b in bodies}) == 7
    assert len({b["spec"]["tableName"] for b in bodies}) == 7


def test_cluster_wide_operator_takes_the_deployments_settings_but_not_its_database() -> None:
    deployment = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"env": [
        {"name": "WATCH_NAMESPACE", "value": "*"}, {"name": "KOPF_RUN_VERBOSE", "value": "1"},
        {"name": "PGHOST", "value": "postgresql"},
        {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "p", "key": "k"}}}]}]}}}}
    assert operator_settings([{"kind": "Service"}, deployment]) == {
        "WATCH_NAMESPACE": "*", "KOPF_RUN_VERBOSE": "1"}


def test_the_ready_watch_of_every_namespace_is_the_cluster_wide_collection() -> None:
    assert collection(None) == "/apis/kopf.demo/v1/databasetables"
    assert collection("ns") == "/apis/kopf.demo/v1/namespaces/ns/databasetables"


def test_ratios_compare_all_ready_times() -> None:
    def row(who: str, seconds: float) -> Row:
        return Row(who, 1, created={"a": 0.0}, ready={"a": seconds}, started=0.0)

    assert ratios([row("this operator", 4.0), row("seed-style Kopf operator", 6.0),
                   row("floor (no operator)", 2.0)]) == (
        "the seed-style operator's time / this operator's = 1.50; "
        "this operator's time / the floor's = 2.00")
    assert ratios([row("floor (no operator)", 2.0)]) == ""


def test_rounds_are_summed_up_by_their_medians() -> None:
    def row(who: str, seconds: float) -> Row:
        return Row(who, 1, created={"a": 0.0}, ready={"a": seconds}, started=0.0)

    rounds = [[row("this operator", ours), row("seed-style Kopf operator", toy),
               row("floor (no operator)", floor)]
              for ours, toy, floor in ((4.0, 6.0, 2.0), (5.0, 5.0, 2.5), (6.0, 6.6, 3.0))]
    lines = rounds_table(rounds).splitlines()
    assert lines[2].split() == ["1", "4.00", "s", "6.00", "s", "2.00", "s", "4.00", "s",
                                "1.50", "2.00"]
    # medians of each column: all-Ready 5.0 / 6.0 / 2.5 s; toy/ours 1.50, 1.00, 1.10 -> 1.10
    assert lines[-1].split() == ["median", "5.00", "s", "6.00", "s", "2.50", "s", "1.10", "2.00"]


def test_a_forking_servers_cpu_counts_its_children_ended_and_live() -> None:
    import subprocess
    import sys

    from bench.burst_procs import cpu_seconds, tree_cpu_seconds

    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess, sys, time\n"
                               f"subprocess.run([sys.executable, '-c', {spin!r}])\n"
                               "print('reaped', flush=True)\ntime.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "reaped"
        own, total = cpu_seconds(parent.pid), tree_cpu_seconds(parent.pid)
        assert own is not None and total is not None
        assert total >= own + 0.25  # the child's 0.3 s, reaped into the parent's cutime
    finally:
        parent.kill()
        parent.wait()


def test_the_runtime_virtualenv_is_what_the_image_installs() -> None:
    from bench.burst_procs import image_requirements

    requirements = (ROOT / "requirements.txt").read_text()
    pins = image_requirements(requirements, (ROOT / "Dockerfile").read_text())
    assert "kubernetes==" in requirements and "kubernetes==" not in pins
    assert "kopf==" in pins and "psycopg2-binary==" in pins
    # a checkout whose Dockerfile installs all of requirements.txt gets all of it
    assert image_requirements(requirements, "RUN pip install -r /tmp/requirements.txt") == requirements
