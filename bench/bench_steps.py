"""How long an online change of N steps takes through the real operator and API server: from
``kubectl apply`` to Ready for the new generation.

The change: NOT NULL on K columns of a table with rows and unique on U of them, which the
operator applies as 1 + K + 2U transactions (the NOT VALID checks; one VALIDATE each; one
concurrent unique build and one attach each). Before steps were chained in one handler call,
each transaction after the first waited about 1 s of Kopf retry delay.

    python -m bench.bench_steps [--rows 10000] [--not-null 3] [--unique 2] [--repeat 3]
                                [--operator-root DIR]

``--operator-root`` runs the operator from another checkout (e.g. an export of an older
commit) against the same throwaway PostgreSQL and control plane, to compare.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql

import bench.bench_operator as bench_operator
from bench.bench_operator import Operator, apply_and_wait
from bench.common import ROOT, machine, operator_site


def manifest(name: str, columns: int, not_null: int, unique: int) -> str:
    options = {f"C{i}": {"nullable": False, **({"unique": True} if i < unique else {})}
               for i in range(not_null)}
    spec = {"tableName": name, "primaryKey": "ID",
            "columns": [{"ID": "integer"}] + [{f"C{i}": "text"} for i in range(columns)]}
    if options:
        spec["columnOptions"] = options
    return json.dumps({"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
                       "metadata": {"name": name.lower().replace("_", "-")}, "spec": spec})


def run(args: argparse.Namespace, workdir: Path) -> None:
    bench_operator.ROOT = Path(args.operator_root).resolve()  # the checkout the CMD runs from
    with contextlib.ExitStack() as stack:
        site = operator_site(stack, workdir)
        operator = Operator({"KUBECONFIG": str(site.kubeconfig),
                             "DATABASE_URL": site.database_url,
                             "WATCH_NAMESPACE": site.namespace}, workdir / "operator.log")
        stack.callback(operator.stop)
        operator.wait_live()
        print(f"operator from {bench_operator.ROOT}\n{machine()}\n", flush=True)
        steps = 1 + args.not_null + 2 * args.unique
        times = []
        for n in range(args.repeat):
            name = f"STEPS_{n}"
            apply_and_wait(site.cp, site.namespace, manifest(name, args.not_null, 0, 0), 1, 1,
                           timeout=120)
            conn = psycopg2.connect(site.database_url)
            try:
                with conn, conn.cursor() as cur:
                    cur.execute(sql.SQL("INSERT INTO {} SELECT g, {} FROM generate_series(1, %s)"
                                        " g").format(
                        sql.Identifier("public", name.lower()),
                        sql.SQL(", ").join(sql.SQL("g::text") for _ in range(args.not_null))),
                        (args.rows,))
            finally:
                conn.close()
            _, _, total, reasons = apply_and_wait(
                site.cp, site.namespace,
                manifest(name, args.not_null, args.not_null, args.unique), 1, 2, timeout=300)
            times.append(total)
            # Only this run's resource is listed in the next: apply_and_wait counts them all.
            site.cp.kubectl_run("-n", site.namespace, "delete", "databasetable",
                                name.lower().replace("_", "-"), "--wait=true")
            print(f"run {n + 1}: {steps} transactions, apply to Ready {total:.2f} s ({reasons})",
                  flush=True)
        times.sort()
        print(f"\n{args.rows} rows, NOT NULL on {args.not_null} columns, unique on "
              f"{args.unique}: {steps} transactions; apply to Ready: median "
              f"{times[len(times) // 2]:.2f} s, min {times[0]:.2f} s, max {times[-1]:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_steps")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--not-null", type=int, default=3)
    parser.add_argument("--unique", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--operator-root", default=str(ROOT))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-steps-") as workdir:
        run(args, Path(workdir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
