"""``python -m database_table_operator plan FILE [--database-url URL]``: a dry run.

Prints the SQL the operator would run for each DatabaseTable in FILE, each statement followed by
the lock it takes and whether it scans or rewrites the table, using the operator's own parse,
plan and render code: against an empty database without a URL, against the live one
with it (read-only). Invalid resources print nothing on stdout, explain themselves on stderr
naming the field, and make the exit status non-zero.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import psycopg2
import yaml

from dbtable.database import InvalidDatabaseUrl, connect, settings_from_env
from dbtable.errors import InvalidSpec
from dbtable.model import DesiredTable, Owner
from dbtable.plan import MarkOwned
from dbtable.reconcile import preview
from dbtable.render import to_text
from dbtable.spec import parse_spec
from dbtable.steps import table_effect

EXIT_INVALID = 2
EXIT_REFUSED = 3
EXIT_UNREACHABLE = 4

# The API server's rules for metadata.name (DNS-1123 subdomain) and metadata.namespace
# (DNS-1123 label). A file never met an API server, and both names are printed in the plan's
# `--` comment lines: a line break in them would put the rest of the name into the SQL.
_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_UID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Resource:
    owner: Owner
    desired: DesiredTable


def main(argv: Sequence[str] | None = None, stdout: TextIO = sys.stdout,
         stderr: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="python -m database_table_operator")
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="print the SQL the operator would run")
    plan.add_argument("file", help="a YAML file with one or more DatabaseTable resources ('-' "
                                   "for standard input)")
    plan.add_argument("--database-url", help="diff against this live database (read-only); "
                                             "without it, plan against an empty database")
    args = parser.parse_args(argv)
    try:
        documents = _load(args.file)
    except (OSError, yaml.YAMLError) as e:
        print(f"{args.file}: {e}", file=stderr)
        return EXIT_INVALID
    resources, errors = _parse(documents, args.file)
    if errors:
        print("\n".join(errors), file=stderr)
        return EXIT_INVALID
    if not resources:
        print(f"{args.file}: no DatabaseTable resource found", file=stderr)
        return EXIT_INVALID
    return _plan(resources, args.database_url, stdout, stderr)


def _load(path: str) -> list[Any]:
    if path == "-":
        return list(yaml.safe_load_all(sys.stdin))
    with open(path, encoding="utf-8") as f:
        return list(yaml.safe_load_all(f))


def _parse(documents: list[Any], path: str) -> tuple[list[Resource], list[str]]:
    resources: list[Resource] = []
    errors: list[str] = []
    for index, doc in enumerate(documents):
        if doc is None:
            continue
        if not isinstance(doc, dict) or doc.get("kind") != "DatabaseTable":
            continue
        where = f"{path}: document {index + 1}"
        if doc.get("apiVersion") != "kopf.demo/v1":
            errors.append(f"{where}: apiVersion: must be kopf.demo/v1, got "
                          f"{doc.get('apiVersion')!r}")
            continue
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        owner = Owner(namespace=str(meta.get("namespace") or "default"),
                      name=str(meta.get("name") or ""), uid=str(meta.get("uid") or ""))
        invalid = _invalid_names(owner)
        if invalid:
            errors.extend(f"{where}: {error}" for error in invalid)
            continue
        where = f"{path}: DatabaseTable {owner}"
        if not owner.name:
            errors.append(f"{where}: metadata.name: is required")
            continue
        try:
            resources.append(Resource(owner, parse_spec(doc.get("spec"))))
        except InvalidSpec as e:
            errors.extend(f"{where}: {error}" for error in e.errors)
    return resources, errors


def _invalid_names(owner: Owner) -> list[str]:
    errors = []
    if owner.name and (len(owner.name) > 253 or not _NAME_RE.fullmatch(owner.name)):
        errors.append(f"metadata.name: {owner.name!r} is not a Kubernetes name: lower-case "
                      "letters, digits, '-' and '.', at most 253 characters")
    if len(owner.namespace) > 63 or not _NAMESPACE_RE.fullmatch(owner.namespace):
        errors.append(f"metadata.namespace: {owner.namespace!r} is not a Kubernetes namespace: "
                      "lower-case letters, digits and '-', at most 63 characters")
    if owner.uid and not _UID_RE.fullmatch(owner.uid):
        errors.append(f"metadata.uid: {owner.uid!r} is not a Kubernetes uid (a UUID such as "
                      "'0b1c9a2e-...'); leave it out to plan by namespace and name")
    return errors


def _plan(resources: list[Resource], url: str | None, stdout: TextIO, stderr: TextIO) -> int:
    try:
        settings = settings_from_env({**os.environ, "DATABASE_URL": url} if url else {})
    except InvalidDatabaseUrl as e:  # its message never quotes the URL (it holds the password)
        print(f"cannot connect to the database: {e}", file=stderr)
        return EXIT_UNREACHABLE
    conn = None
    if url:
        try:
            conn = connect(settings)
        except psycopg2.OperationalError as e:
            print(f"cannot connect to the database: {str(e).strip()}", file=stderr)
            return EXIT_UNREACHABLE
    output: list[str] = []
    refused: list[str] = []
    try:
        for resource in resources:
            plan, statements = preview(conn, settings, resource.desired, resource.owner)
            header = f"-- DatabaseTable {resource.owner}"
            if plan.refused:
                refused.extend(f"DatabaseTable {resource.owner}: {r}" for r in plan.refusals)
            elif statements:
                output.append(header)
                for index, (operation, statement) in enumerate(zip(plan.operations,
                                                                   statements)):
                    if index and operation.own_transaction:
                        output.append(f"-- then, once the above has committed, in a "
                                      f"transaction of its own ({operation.lock} lock):")
                    if isinstance(operation, MarkOwned) and not resource.owner.uid:
                        # The marker names the resource's uid, which only the API server
                        # assigns: a file has none, so this statement cannot be shown as is.
                        output.append(f"-- and mark the table as owned by DatabaseTable "
                                      f"{resource.owner} (uid assigned by Kubernetes)")
                    else:
                        output.append(f"{to_text(statement)};  -- {operation.lock} lock, "
                                      f"{table_effect(operation)}")
            else:
                output.append(f"{header}: up to date, nothing to do")
    finally:
        if conn is not None:
            conn.close()
    if refused:
        print("\n".join(refused), file=stderr)
        return EXIT_REFUSED
    print("\n".join(output), file=stdout)
    return 0
