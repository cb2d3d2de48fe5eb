"""Printing bench_burst's figures (pure: rows in, text out)."""
from __future__ import annotations

import statistics

from bench.burst_api import Metrics
from bench.burst_rows import Row
from bench.common import percentile, table

DATABASETABLES, EVENTS = "databasetables", "events"


def mib(kib: float | None) -> str:
    return f"{kib / 1024:.0f} MB" if kib is not None else "-"


def all_ready(row: Row) -> float | None:
    """Seconds from the first create to the last Ready, if every resource got Ready."""
    if len(row.ready) < row.count:
        return None
    return max(row.ready.values()) - row.started


def latencies(row: Row) -> list[float]:
    return [row.ready[name] - row.created[name] for name in row.ready if name in row.created]


def stages(row: Row) -> str:
    """Where a resource's create→Ready goes when a finalizer is added first (p50 / p99)."""
    first = [row.finalized[n] - row.created[n] for n in row.finalized if n in row.created]
    then = [row.ready[n] - row.finalized[n] for n in row.ready if n in row.finalized]
    if not first or not then:
        return ""
    return (f"create→finalizer {percentile(first, 50):.2f} / {percentile(first, 99):.2f} s, "
            f"finalizer→Ready {percentile(then, 50):.2f} / {percentile(then, 99):.2f} s "
            "(p50 / p99)")


def rss(row: Row) -> tuple[int | None, int | None, int | None]:
    """(idle, after, peak) in KiB: the last idle sample, the last sample after the burst."""
    idle, after = row.rss.get("idle"), row.rss.get("after")
    every = [v for samples in row.rss.values() for v in samples]
    return (idle[-1] if idle else None, after[-1] if after else None,
            max(every) if every else None)


def writes(metrics: Metrics | None, count: int) -> dict[str, float]:
    """API writes per resource besides the client's own create, from apiserver_request_total."""
    if metrics is None:
        return {}
    creates = metrics.count(["POST"], DATABASETABLES)
    return {
        "object PATCH": metrics.count(["PATCH"], DATABASETABLES) / count,
        "status PATCH": metrics.count(["PATCH"], DATABASETABLES, "status") / count,
        "Event POST": metrics.writes(EVENTS) / count,
        "total": (metrics.writes(DATABASETABLES) - creates + metrics.writes(EVENTS)) / count,
    }


def burst_table(rows: list[Row]) -> str:
    out = []
    for row in rows:
        total = all_ready(row)
        lat = latencies(row)
        idle, after, peak = rss(row)
        w = writes(row.metrics, row.count)
        missing = row.count - len(row.ready)
        out.append((
            row.who,
            f"{total:.1f} s" if total is not None else f"({missing} not Ready)",
            f"{row.count / total:.0f}" if total else "-",
            f"{mib(idle)} → {mib(after)} (peak {mib(peak)})" if peak else "-",
            f"{row.cpu:.1f} s" if row.cpu is not None else "-",
            f"{w['total']:.2f} ({w['object PATCH']:.2f} + {w['status PATCH']:.2f} + "
            f"{w['Event POST']:.2f})" if w else "-",
            f"{percentile(lat, 50):.2f} s" if lat else "-",
            f"{percentile(lat, 99):.2f} s" if lat else "-",
        ))
    return table(("who", "all Ready", "per second", "operator RSS idle → after",
                  "operator CPU", "API writes/resource (PATCH + status PATCH + Events)",
                  "p50 create→Ready", "p99"), out)


def requests_table(rows: list[Row]) -> str:
    """Every apiserver_request_total change per resource, by verb/resource/subresource."""
    keys = sorted({k for row in rows if row.metrics for k, v in row.metrics.counts.items()
                   if k[1] in (DATABASETABLES, EVENTS)})
    out = []
    for verb, resource, sub in keys:
        cells = []
        for row in rows:
            n = row.metrics.counts.get((verb, resource, sub), 0) if row.metrics else 0
            cells.append(f"{n} ({n / row.count:.2f})")
        out.append((f"{verb} {resource}{'/' + sub if sub else ''}", *cells))
    return table(("apiserver_request_total delta (per resource)", *[r.who for r in rows]), out)


def clip(line: str, keep: int = 90) -> str:
    """A long log line's start and end (where Kopf puts the reason)."""
    return line if len(line) <= 2 * keep + 5 else f"{line[:keep]} ... {line[-keep:]}"


def context_lines(rows: list[Row]) -> list[str]:
    lines = []
    for row in rows:
        servers = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(row.servers_cpu.items()))
        load = ", ".join(f"{x:.2f}" for x in row.load)
        # every write of an object is one event on each watch of it: the operator's included
        events = row.metrics.writes(DATABASETABLES) if row.metrics else 0
        per_event = (f"; {events} watch events (one per write of a resource), "
                     f"{row.cpu / events * 1e3:.1f} ms of operator CPU per event"
                     if events and row.cpu else "")
        posted = (f"all {len(row.created)} creates answered "
                  f"{max(row.created.values()) - row.started:.1f} s after the first; "
                  if row.created else "")
        conns = row.connections
        held = (f"; TCP connections to the API server: idle {conns['idle'][-1]}, peak "
                f"{max(max(v) for v in conns.values())}, after {conns['after'][-1]}"
                if conns.get("idle") and conns.get("after") else "")
        lines.append(f"{row.who}: load average before {load}; {posted}CPU of {servers}"
                     f"{per_event}{held}; {len(row.errors)} ERROR/Traceback lines in its log")
        lines += [f"    {note}" for note in row.notes]
        if split := stages(row):
            lines.append(f"    {split}")
        lines += [f"    {clip(line)}" for line in row.errors[:3]]
        if row.watch_ends:
            ends = ", ".join(f"{why} at {at - row.started:+.1f} s"
                             for at, why in row.watch_ends[:4])
            lines.append(f"    the benchmark's own watch was ended {len(row.watch_ends)} times "
                         f"by the server (listed again; from the first create): {ends}")
    return lines


def ratios(rows: list[Row]) -> str:
    """This operator's all-Ready time against the toy's and the floor's (issue 10 asks for
    1.25x sooner than the toy and within 2x of the floor); a figure, not a verdict."""
    times = {row.who: all_ready(row) for row in rows}
    ours = times.get("this operator")
    if not ours:
        return ""
    parts = []
    toy, floor = times.get("seed-style Kopf operator"), times.get("floor (no operator)")
    if toy:
        parts.append(f"the seed-style operator's time / this operator's = {toy / ours:.2f}")
    if floor:
        parts.append(f"this operator's time / the floor's = {ours / floor:.2f}")
    return "; ".join(parts)


def rounds_table(rounds: list[list[Row]]) -> str:
    """One line per round: each row's all-Ready time, this operator's p99 and the two ratios
    issue 10 asks about; then the medians. Rounds on one machine differ by more than a
    single run can tell: read the spread, not one line."""
    who = [row.who for row in rounds[0]]
    lines, ratio_rows = [], []
    for n, rows in enumerate(rounds, 1):
        times = {row.who: all_ready(row) for row in rows}
        ours = next((row for row in rows if row.who == "this operator"), None)
        p99 = percentile(latencies(ours), 99) if ours and latencies(ours) else None
        toy, floor, mine = (times.get("seed-style Kopf operator"),
                            times.get("floor (no operator)"), times.get("this operator"))
        pair = (toy / mine if toy and mine else None, mine / floor if mine and floor else None)
        ratio_rows.append(pair)
        lines.append([str(n)] + [_seconds(times.get(w)) for w in who] + [
            _seconds(p99), _ratio(pair[0]), _ratio(pair[1])])
    lines.append(["median"] + [_seconds(_median([all_ready(r) for rs in rounds for r in rs
                                                  if r.who == w])) for w in who] + [
        "", _ratio(_median([p[0] for p in ratio_rows])),
        _ratio(_median([p[1] for p in ratio_rows]))])
    header = ["round"] + [f"{w}: all Ready" for w in who] + [
        "this operator's p99", "toy / ours (>= 1.25)", "ours / floor (<= 2)"]
    return table(header, lines)


def _median(values: list[float | None]) -> float | None:
    known = sorted(v for v in values if v is not None)
    return statistics.median(known) if known else None


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
