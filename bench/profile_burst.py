"""Where a burst's time and memory go in this operator (issue 10): one burst per tool.

    .venv/bin/python -m bench.profile_burst [--count 500] [--tools pyspy,hooks]
        [--py-spy PATH]

  pyspy  the plain operator, sampled by py-spy (``py-spy record --nonblocking --gil``, 100 Hz:
         only the thread holding the GIL, so waits on the database or the network are left
         out) from /healthz until the burst settled: the CPU by package (the innermost frame
         outside the standard library), by module of Kopf and this operator, by function.
         py-spy is not a project dependency: install it anywhere (``pip install py-spy`` into a
         throwaway virtualenv) and pass --py-spy or put it on PATH.
  hooks  the operator with bench/profile_hooks/sitecustomize.py loaded: every API request Kopf
         sends (method, URL, payload) to count round trips per create and show what each PATCH
         carries; tracemalloc from startup, snapshots when idle and once settled, grouped by
         package (imports included).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.bench_burst import setup
from bench.burst_procs import api_connections
from bench.burst_report import burst_table, context_lines
from bench.burst_rows import IDLE_S, Site, operator_row
from bench.common import ROOT, fmt_bytes, machine, table

HOOKS = ROOT / "bench" / "profile_hooks"
TOP = 15


def pyspy_probe(py_spy: str, out: Path) -> Callable[[int], Callable[[], None]]:
    def attach(pid: int) -> Callable[[], None]:
        proc = subprocess.Popen([py_spy, "record", "--pid", str(pid), "--rate", "100",
                                 "--nonblocking", "--gil", "--full-filenames", "--format",
                                 "raw", "--output", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def detach() -> None:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(60)
            if proc.poll() is None:
                proc.kill()
        return detach
    return attach


def package_of(frame: str) -> str:
    """A py-spy frame ``func (path:line)`` or a tracemalloc filename → its package (the
    standard library by module)."""
    path = frame[frame.rfind("(") + 1:].rsplit(":", 1)[0] if "(" in frame else frame
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/dbtable/" in path or path.endswith("database_table_operator.py"):
        return "(this operator)"
    if path.startswith("<"):
        return "(import machinery: code objects)"
    if "/lib/python3" in path:
        module = path.split("/lib/python3", 1)[1].split("/", 2)[1]
        return f"stdlib {module.removesuffix('.py')}"
    return path


def short(frame: str) -> str:
    """``func (.../site-packages/kopf/x.py:12)`` → ``func (kopf/x.py:12)``."""
    for marker in ("site-packages/", "/lib/python3.11/", f"{ROOT}/"):
        if marker in frame:
            head, _, tail = frame.partition("(")
            return f"{head}({tail.split(marker, 1)[1]}"
    return frame


def responsible(frames: list[str]) -> str:
    """The package of the innermost frame outside the standard library (what asked for the
    work), else the standard library module of the leaf (the event loop's own work)."""
    for frame in reversed(frames):
        package = package_of(frame)
        if not package.startswith(("stdlib ", "(import")) and not package.endswith("/kopf"):
            return package
    return package_of(frames[-1])


def print_pyspy(out: Path) -> None:
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    modules: Counter[str] = Counter()   # Kopf's and this operator's, by innermost module
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [f for f in stack.split(";") if f]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        package = responsible(frames)
        packages[package] += n
        if package in ("kopf", "(this operator)"):
            inner = next(f for f in reversed(frames) if package_of(f) == package)
            modules[short(inner).split("(", 1)[1].rsplit(":", 1)[0]] += n
    print(f"\npy-spy: {total} samples at 100 Hz holding the GIL = {total / 100:.1f} s of "
          "Python running\n")
    print(table(("package (innermost non-stdlib frame)", "samples", "share"),
                [(p, n, f"{n / total:.0%}") for p, n in packages.most_common(TOP)]))
    print()
    print(table(("module of Kopf / this operator (innermost)", "samples", "share"),
                [(m, n, f"{n / total:.1%}") for m, n in modules.most_common(TOP)]))
    print()
    print(table(("function (own samples)", "samples", "share"),
                [(short(f)[:110], n, f"{n / total:.1%}") for f, n in own.most_common(TOP)]))


def print_requests(path: Path, count: int) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    kinds: Counter[str] = Counter()
    for r in records:
        url = r["url"].split("?")[0]
        kind = ("Event" if "/events" in url else "status" if url.endswith("/status")
                else "object" if "/databasetables/" in url else url.rsplit("/", 1)[-1])
        kinds[f"{r['method']} {kind}"] += 1
    print(f"\nKubernetes API requests the operator sent ({len(records)} in all, "
          f"{count} resources)\n")
    print(table(("request", "count", "per resource"),
                [(k, n, f"{n / count:.2f}") for k, n in sorted(kinds.items())]))
    first = [r for r in records if "/burst-00000" in r["url"] or (
        "/events" in r["url"] and (r.get("payload") or {}).get("involvedObject", {}).get(
            "name") == "burst-00000")]
    print("\nWhat one resource's requests carried (burst-00000, in order):")
    for r in first:
        payload = json.dumps(r.get("payload"), separators=(",", ":"))
        url = r["url"].split("/namespaces/", 1)[-1]
        print(f"  {r['method']} {url} ({len(payload)} bytes): {payload[:400]}")


def print_memory(idle: Path, after: Path) -> None:
    def by_package(path: Path) -> Counter[str]:
        sizes: Counter[str] = Counter()
        for stat in tracemalloc.Snapshot.load(str(path)).statistics("filename"):
            sizes[package_of(stat.traceback[0].filename)] += stat.size
        return sizes

    growth = tracemalloc.Snapshot.load(str(after)).compare_to(
        tracemalloc.Snapshot.load(str(idle)), "lineno")
    before, later = by_package(idle), by_package(after)
    rows = [(p, fmt_bytes(before[p]), fmt_bytes(later[p]), fmt_bytes(later[p] - before[p]))
            for p, _ in later.most_common(TOP)]
    rows.append(("total traced", fmt_bytes(sum(before.values())),
                 fmt_bytes(sum(later.values())),
                 fmt_bytes(sum(later.values()) - sum(before.values()))))
    print("\nPython heap by the package that allocated it (tracemalloc, 1 frame; RSS also "
          "holds the interpreter, C libraries and freed-but-kept arenas)\n")
    print(table(("package", "idle", "after the burst", "growth"), rows))
    print("\nWhere the growth was allocated (top lines)\n")
    print(table(("line", "growth", "blocks"),
                [(short(f"({d.traceback[0].filename}:{d.traceback[0].lineno})"),
                  fmt_bytes(d.size_diff), d.count_diff) for d in growth[:10]]))
    imports = json.loads(Path(f"{idle}.imports").read_text())
    ordered = sorted(imports.items(), key=lambda kv: -kv[1][0])
    print(f"\nImports: {len(imports)} top-level packages, "
          f"{fmt_bytes(sum(v[0] for v in imports.values()))} still traced after importing "
          f"(each package's own, without what it imported)\n")
    print(table(("package imported", "memory", "import time"),
                [(p, fmt_bytes(v[0]), f"{v[1] * 1e3:.0f} ms") for p, v in ordered[:TOP]]))


def hooks_probe(base: Path, port: int) -> Callable[[int], Callable[[], None]]:
    """Snapshot 1 when idle (before the burst: measured() waits IDLE_S first), 2 once settled."""
    def attach(pid: int) -> Callable[[], None]:
        def snapshot(n: int) -> None:
            os.kill(pid, signal.SIGUSR2)
            deadline = time.monotonic() + 120
            while not Path(f"{base}.{n}").exists() and time.monotonic() < deadline:
                time.sleep(0.2)

        time.sleep(IDLE_S / 2)
        snapshot(1)

        def finish() -> None:
            snapshot(2)
            print(f"\noperator's TCP connections to the API server once settled: "
                  f"{api_connections(pid, port)}")
        return finish
    return attach


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_burst",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--tools", default="pyspy,hooks")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    args = parser.parse_args(argv)
    args.scenarios, args.who, args.checkout, args.operator_env = [], [], ROOT, {}
    workdir = Path(tempfile.mkdtemp(prefix="dbt-profile-"))
    timeout = max(180.0, args.count * 0.5)
    try:
        with contextlib.ExitStack() as stack:
            site: Site = setup(stack, args, workdir)
            print(f"Profile of a burst of {args.count}, DBT_WORKERS={args.workers}; {machine()}")
            if "pyspy" in args.tools:
                out = workdir / "pyspy.txt"
                row = operator_row(site, args.count, args.threads, args.workers, timeout,
                                   probe=pyspy_probe(args.py_spy, out))[0]
                print(burst_table([row]))
                print("\n".join(context_lines([row])))
                print_pyspy(out)
            if "hooks" in args.tools:
                requests = workdir / "requests.jsonl"
                base = workdir / "snapshot"
                env = {"PYTHONPATH": str(HOOKS), "DBT_PROFILE_REQUESTS": str(requests),
                       "DBT_PROFILE_TRACEMALLOC": str(base)}
                row = operator_row(site, args.count, args.threads, args.workers, timeout,
                                   extra_env=env, probe=hooks_probe(base, site.cp.port))[0]
                print("\n(with tracemalloc and the request log: slower than a plain run)")
                print(burst_table([row]))
                print_requests(requests, args.count)
                print_memory(Path(f"{base}.1"), Path(f"{base}.2"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
