"""Benchmark the pure core (no database): parse_spec, plan_reconcile, render, to_text.

    .venv/bin/python -m bench.bench_core [--budget SECONDS]

Three tables: the seed example (5 columns), 100 columns, 1,600 columns (PostgreSQL's maximum).
Each operation is repeated as often as fits in --budget seconds (at least 20 runs) and timed
with time.perf_counter; the table shows the median and the 95th percentile. Two plans are
timed: against an empty database (CREATE TABLE), and against a catalog table that already
matches the spec (the no-op plan every steady-state reconcile and every drift tick makes).
Peak memory (tracemalloc) is measured for the 1,600-column case.
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench.common import fmt_bytes, fmt_time, machine, repeat, seed_spec, summary, table, wide_spec
from dbtable.model import ActualColumn, ActualTable, DesiredTable, Owner
from dbtable.plan import plan_reconcile
from dbtable.render import render, to_text
from dbtable.spec import parse_spec

SCHEMA = "public"
OWNER = Owner("default", "bench", "00000000-0000-0000-0000-000000000000")


def actual_of(desired: DesiredTable) -> ActualTable:
    """The catalog's view of a table that matches ``desired`` (as read_table returns it)."""
    return ActualTable(schema=SCHEMA, name=desired.name,
                       columns=tuple(ActualColumn(c.name, c.type.canonical)
                                     for c in desired.columns),
                       primary_key=desired.primary_key,
                       primary_key_constraint=f"{desired.name}_pkey", owner=OWNER,
                       comment=OWNER.marker())


def operations(spec: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """The timed operations for one spec, each on inputs prepared beforehand."""
    desired = parse_spec(spec)
    actual = actual_of(desired)
    create = plan_reconcile(desired, OWNER, None, None)
    assert create.operations and not create.refused
    assert not plan_reconcile(desired, OWNER, actual, None).operations  # really a no-op
    statements = render(create.operations, SCHEMA)

    def pipeline() -> list[str]:
        d = parse_spec(spec)
        p = plan_reconcile(d, OWNER, None, None)
        return [to_text(s) for s in render(p.operations, SCHEMA)]

    return {
        "parse_spec": lambda: parse_spec(spec),
        "plan_reconcile (create)": lambda: plan_reconcile(desired, OWNER, None, None),
        "plan_reconcile (no-op)": lambda: plan_reconcile(desired, OWNER, actual, None),
        "render (create)": lambda: render(create.operations, SCHEMA),
        "to_text (create)": lambda: [to_text(s) for s in statements],
        "all four (create)": pipeline,
        "diff base fetch+build (per event)": diff_base(spec),
    }


def diff_base(spec: dict[str, Any]) -> Callable[[], Any]:
    """What Kopf asks of the operator's diff-base storage on every watch event: the record
    of what was handled, and the essence of the object as it is, from an object as the watch
    delivers it (three managers' managedFields, kubectl's copy, a status of every column)."""
    import json

    import kopf

    from dbtable.diffbase import DigestDiffBaseStorage

    columns = [{"name": next(iter(c)).lower(), "type": "integer"} for c in spec["columns"]]
    fields = {"f:spec": {f"f:{k}": {} for k in spec}, "f:status": {"f:columns": {}}}
    raw = {"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
           "metadata": {"name": "bench", "namespace": "default", "uid": OWNER.uid,
                        "generation": 1, "finalizers": ["kopf.demo/database-table-operator"],
                        "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                        json.dumps({"spec": spec})},
                        "managedFields": [{"manager": m, "fieldsV1": fields}
                                          for m in ("kubectl", "kopf", "kopf-status")]},
           "spec": spec, "status": {"columns": columns, "observedGeneration": 1}}
    storage = DigestDiffBaseStorage(prefix="kopf.demo")
    patch = kopf.Patch()
    storage.store(body=kopf.Body(raw), patch=patch, essence=storage.build(body=kopf.Body(raw)))
    # the record, wherever the storage keeps it (the status; annotations before 2026-11-27)
    raw["status"].update(patch.get("status", {}))
    raw["metadata"]["annotations"].update(patch.get("metadata", {}).get("annotations", {}))
    body = kopf.Body(raw)
    return lambda: (storage.fetch(body=body), storage.build(body=body))


def peak_memory(spec: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(operation, peak traced bytes during it, bytes still held by its result)."""
    results: list[tuple[str, int, int]] = []
    held: list[Any] = []

    def traced(name: str, fn: Callable[[], Any]) -> Any:
        tracemalloc.start()
        try:
            result = fn()
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        results.append((name, peak, current))
        held.append(result)
        return result

    desired = traced("parse_spec", lambda: parse_spec(spec))
    plan = traced("plan_reconcile (create)", lambda: plan_reconcile(desired, OWNER, None, None))
    actual = actual_of(desired)
    traced("plan_reconcile (no-op)", lambda: plan_reconcile(desired, OWNER, actual, None))
    statements = traced("render (create)", lambda: render(plan.operations, SCHEMA))
    traced("to_text (create)", lambda: [to_text(s) for s in statements])

    def pipeline() -> list[str]:
        d = parse_spec(spec)
        p = plan_reconcile(d, OWNER, None, None)
        return [to_text(s) for s in render(p.operations, SCHEMA)]

    texts = traced("all four (create)", pipeline)
    results.append(("(SQL text of the CREATE TABLE)", 0, sum(len(t) for t in texts)))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_core",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=0.5,
                        help="seconds of repetitions per operation and case (default 0.5)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cases = {"seed (5 cols)": seed_spec(), "100 cols": wide_spec(100),
             "1,600 cols": wide_spec(1600)}
    rows = []
    for case, spec in cases.items():
        for name, fn in operations(spec).items():
            samples = repeat(fn, args.budget, min_n=30)
            median, p95 = summary(samples)
            rows.append((case, name, len(samples), fmt_time(median), fmt_time(p95)))
    print(f"Pure core; {machine()}")
    print(f"time.perf_counter, about {args.budget} s of runs per line (N = runs)\n")
    print(table(("case", "operation", "N", "median", "p95"), rows))

    print("\nPeak memory, 1,600 columns (tracemalloc; each operation traced on its own)\n")
    mem = peak_memory(cases["1,600 cols"])
    print(table(("operation", "peak", "held after"),
                [(name, fmt_bytes(peak) if peak else "", fmt_bytes(held))
                 for name, peak, held in mem]))
    print(f"\ntotal run time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
