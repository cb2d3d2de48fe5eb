"""``python -m hack.postgres up [--port P]``: a throwaway server with the demo database, until
Ctrl-C or SIGTERM (see hack/postgres.py)."""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence

from hack.postgres import LocalPostgres
from hack.postgres_install import LocalPostgresError
from hack.signals import stop_on_signals


def _up(port: int | None) -> int:
    stop_requested = stop_on_signals()
    started = time.monotonic()
    with LocalPostgres(port=port) as server:
        env = server.setup_demo()
        elapsed = time.monotonic() - started
        print(f"# PostgreSQL is up on {server.host}:{server.port} ({elapsed:.1f} s); log: {server.log_path}")
        for key, value in env.items():
            print(f"export {key}={shlex.quote(value)}")
        print(f"# connect with: psql {shlex.quote(server.url(env['PGUSER'], env['PGPASSWORD'], env['PGDATABASE']))}")
        print("# Ctrl-C or SIGTERM stops it.", flush=True)
        while not stop_requested.wait(1.0):
            if not server.running:
                print("postgres exited unexpectedly; see the log above", file=sys.stderr)
                return 1
        print("# stopping PostgreSQL", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hack.postgres",
        description="A throwaway local PostgreSQL server for tests and for developing the operator.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a throwaway server with the demo database and wait")
    up.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    if args.command == "up":
        try:
            return _up(args.port)
        except LocalPostgresError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 2
