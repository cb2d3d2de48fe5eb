"""Benchmark a burst: N DatabaseTables created at once, until every one is Ready (issue 10).

    .venv/bin/python -m bench.bench_burst [--count 500] [--threads 16] [--workers 4]
        [--scenarios burst,restart,scale,namespaces] [--who seed,operator,floor]
        [--checkout PATH]

One local control plane (hack/controlplane.py) and one local PostgreSQL (hack/postgres.py),
all on loopback, shared by every row of one run; each row gets a fresh namespace and a fresh
database. Scenarios:

  burst       the issue's table, one row each (run in the order of --who):
              * this operator: the checkout's Dockerfile CMD (``kopf run --standalone
                --namespace=...``) with this project's virtualenv, a ServiceAccount token and
                DBT_WORKERS=--workers, as the e2e tests start it;
              * a seed-style Kopf operator (bench/seed_operator.py: a create handler only, a new
                connection per event, Kopf's defaults, no status, no Events) run from its own
                virtualenv holding only kopf, kubernetes and psycopg2-binary at this project's
                pins (made once under ~/.cache/database-table-operator/); Ready = its table
                exists (polled from the catalog every 50 ms);
              * the floor: no operator; per resource a finalizer PATCH, the CREATE TABLE on one
                shared connection and a status PATCH with Ready, from --threads threads.
  restart     --restart-count resources Ready, the operator restarted: DDL statements
              (pg_stat_statements), PATCHes and Events (/metrics), time until every resource
              was checked (its resume outcome in Kopf's log).
  scale       --scale-count resources in one namespace: the burst row, and RSS once idle.
  namespaces  --ns-count resources over --namespaces namespaces, served by one operator in
              cluster-wide mode (deploy/cluster-wide's RBAC and WATCH_NAMESPACE, a control
              plane of its own: bench/burst_namespaces.py), beside --ns-count in one
              namespace in namespaced mode.

Figures: all Ready = first create to last Ready; RSS = VmRSS from /proc (idle: before the
burst; after: once the operator's CPU has settled); operator CPU = utime + stime from the first
create until settled; API writes = apiserver_request_total deltas over the same span.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path


from bench.burst_api import Api
from bench.burst_procs import ensure_seed_venv
from bench.burst_report import (burst_table, context_lines, mib, ratios, requests_table,
                                rounds_table, rss)
from bench.burst_restart import restart_table, run_restart
from bench.burst_floor import floor_row
from bench.burst_namespaces import cluster_wide_row, own_control_plane
from bench.burst_rows import Row, Site, operator_row, seed_row
from bench.common import ROOT, log_dir, machine
from hack.crd_wait import wait_established

SCENARIOS = ("burst", "restart", "scale", "namespaces")
WHO = ("seed", "operator", "floor")


def env_note(args: argparse.Namespace) -> str:
    return "".join(f", {k}={v}" for k, v in args.operator_env.items())


def timeout_for(count: int) -> float:
    return max(180.0, count * 0.5)


def burst_round(site: Site, args: argparse.Namespace, order: list[str]) -> list[Row]:
    rows = []
    for who in order:
        print(f"... {who}: {args.count} resources", flush=True)
        if who == "operator":
            rows.append(operator_row(site, args.count, args.threads, args.workers,
                                     timeout_for(args.count), extra_env=args.operator_env)[0])
        elif who == "seed":
            rows.append(seed_row(site, args.count, args.threads, timeout_for(args.count)))
        else:
            rows.append(floor_row(site, args.count, args.threads, timeout_for(args.count)))
    rank = {"this operator": 0, "seed-style Kopf operator": 1, "floor (no operator)": 2}
    rows.sort(key=lambda r: rank[r.who])
    print(f"\nBurst: {args.count} DatabaseTables created at once by {args.threads} client "
          f"threads; this operator with DBT_WORKERS={args.workers}{env_note(args)}; checkout "
          f"{site.checkout}; rows in the order {', '.join(order)}\n{machine()}\n")
    print(burst_table(rows))
    if ratio := ratios(rows):
        print(f"\nall Ready: {ratio}")
    print("\n(API writes besides the client's create, per resource: total (object PATCH + "
          "status PATCH + Events); the toy's Ready is its table existing)\n")
    print(requests_table(rows))
    print()
    print("\n".join(context_lines(rows)))
    return rows


def scenario_burst(site: Site, args: argparse.Namespace) -> None:
    """``--rounds`` bursts, each row's place in the order moved by one every round (no row
    always runs first, on a cold machine, or right after another's load); then, with more
    than one round, every round's all-Ready times and ratios, and their medians."""
    rounds = []
    for n in range(args.rounds):
        shift = n % len(args.who)
        print(f"\n=== round {n + 1} of {args.rounds}", flush=True)
        rounds.append(burst_round(site, args, args.who[shift:] + args.who[:shift]))
    if len(rounds) > 1:
        print(f"\n{rounds_table(rounds)}")


def scenario_restart(site: Site, args: argparse.Namespace) -> None:
    count = args.restart_count
    print(f"... restart: {count} resources", flush=True)
    row, result = run_restart(site, count, args.threads, args.workers, timeout_for(count),
                              args.operator_env)
    print(f"\nRestart: {count} resources created at once and Ready, then the operator stopped "
          f"(SIGTERM) and started again; checkout {site.checkout}\n{machine()}\n")
    print(burst_table([row]))
    print("\n".join(context_lines([row])))
    print()
    print(restart_table(result))
    for query, calls in result.ddl[:10]:
        print(f"  DDL x{calls}: {query[:150]}")


def scenario_scale(site: Site, args: argparse.Namespace) -> None:
    count = args.scale_count
    print(f"... scale: {count} resources in one namespace", flush=True)
    row = operator_row(site, count, args.threads, args.workers, max(600.0, count * 0.5),
                       extra_env=args.operator_env)[0]
    print(f"\nScale: {count} DatabaseTables in one namespace; checkout {site.checkout}\n"
          f"{machine()}\n")
    print(burst_table([row]))
    print(f"\noperator RSS idle with {len(row.ready)} resources Ready: {mib(rss(row)[1])}")
    print("\n".join(context_lines([row])))


def scenario_namespaces(site: Site, args: argparse.Namespace) -> None:
    count, spaces = args.ns_count, args.namespaces
    print(f"... namespaces: {count} resources in one namespace (namespaced mode)", flush=True)
    one = operator_row(site, count, args.threads, args.workers, timeout_for(count),
                       extra_env=args.operator_env)[0]
    one.who = "namespaced, 1 namespace"
    print(f"... namespaces: {count} resources over {spaces} namespaces (cluster-wide mode, "
          "a control plane of its own)", flush=True)
    with own_control_plane(site) as own:
        row = cluster_wide_row(own, count, spaces, args.threads, args.workers,
                               timeout_for(count), extra_env=args.operator_env)
    print(f"\nNamespaces: {count} DatabaseTables created at once by {args.threads} client "
          f"threads, spread over {spaces} namespaces and served by one operator in cluster-wide "
          f"mode (deploy/cluster-wide), beside the same in one namespace in namespaced mode; "
          f"DBT_WORKERS={args.workers}{env_note(args)}; checkout {site.checkout}\n{machine()}\n")
    if row is None:
        print("  the checkout has no deploy/cluster-wide (no cluster-wide mode): only the "
              "namespaced row was measured\n")
    rows = [r for r in (row, one) if r is not None]
    print(burst_table(rows))
    print()
    print(requests_table(rows))
    print()
    print("\n".join(context_lines(rows)))


def setup(stack: contextlib.ExitStack, args: argparse.Namespace, workdir: Path) -> Site:
    from hack.controlplane import ControlPlane
    from hack.postgres import LocalPostgres

    seed_bin = ensure_seed_venv() if "burst" in args.scenarios and "seed" in args.who else None
    pg = LocalPostgres()
    stack.callback(pg.stop)
    pg.start()
    # statement counts for the restart scenario; in the postgres database, so the operator's
    # own database holds only its tables
    pg.execute_as_superuser("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    cp = ControlPlane()
    stack.callback(cp.stop)
    cp.start()
    cp.kubectl_run("apply", "-f", str(args.checkout / "crd.yaml"))
    wait_established(cp.kubectl_run)
    return Site(pg=pg, cp=cp, api=Api.admin_of(cp), checkout=args.checkout, workdir=workdir,
                seed_bin=seed_bin)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_burst",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500, help="burst size (default 500)")
    parser.add_argument("--threads", type=int, default=16,
                        help="client threads creating at once; also the floor's (default 16)")
    parser.add_argument("--workers", type=int, default=4,
                        help="DBT_WORKERS of this operator (default 4, its default)")
    parser.add_argument("--scenarios", default="burst",
                        help=f"comma-separated, of {', '.join(SCENARIOS)} (default burst)")
    parser.add_argument("--who", default=",".join(WHO),
                        help="burst rows to run, in this order (default seed,operator,floor)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="bursts in a row, the rows' order rotated each round; with more "
                             "than one, a summary with the medians (default 1)")
    parser.add_argument("--restart-count", type=int, default=1000)
    parser.add_argument("--scale-count", type=int, default=10000)
    parser.add_argument("--ns-count", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--checkout", type=Path, default=ROOT,
                        help="the operator checkout to measure (its Dockerfile CMD, crd.yaml, "
                             "service-account.yaml), e.g. a `git worktree add` of an older "
                             "commit (default: this one)")
    parser.add_argument("--operator-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for this operator (repeatable), for "
                             "experiments such as MALLOC_ARENA_MAX=2")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the operators' logs (the directory is printed)")
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.who = [w for w in args.who.split(",") if w]
    args.checkout = args.checkout.resolve()
    if any("=" not in e for e in args.operator_env):
        parser.error("--operator-env takes NAME=VALUE")
    args.operator_env = dict(e.split("=", 1) for e in args.operator_env)
    for value, allowed in [(s, SCENARIOS) for s in args.scenarios] + [(w, WHO) for w in args.who]:
        if value not in allowed:
            parser.error(f"{value!r} is not one of {', '.join(allowed)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    with log_dir("dbt-burst-", args.keep_logs) as workdir, contextlib.ExitStack() as stack:
        site = setup(stack, args, workdir)
        print(f"setup {time.monotonic() - started:.1f} s; pid {os.getpid()}", flush=True)
        for name in args.scenarios:
            globals()[f"scenario_{name}"](site, args)
    print(f"total run time {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
