"""The database password and the ServiceAccount token appear in no log, status or Event.

The operator runs at DEBUG level (the Dockerfile's command plus KOPF_RUN_VERBOSE=1, which
Kopf's CLI reads as --verbose; in-process with --verbose), with the password inside
DATABASE_URL, and goes through every path that writes text: a table created (the DEBUG log
prints each SQL statement), an invalid spec, a refused change, and a connection error from a
second operator whose DATABASE_URL has the same password but a port nobody listens on.
"""
from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import yaml

from tests.e2e.conftest import Database, Namespace, RunningOperator
from tests.support.k8s import resource

VERBOSE = {"KOPF_RUN_VERBOSE": "1"}  # click's auto_envvar_prefix="KOPF": `kopf run --verbose`
COLUMNS = [{"ID": "integer"}, {"SECRET_NOTE": "text"}]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] + f":{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def token_of(operator: RunningOperator) -> str:
    config = yaml.safe_load(Path(operator.env["KUBECONFIG"]).read_text())
    return str(config["users"][0]["user"]["token"])


@pytest.mark.parametrize("mode", ["container", "inprocess"])
def test_password_and_token_never_leak(mode: str, namespace: Namespace, database: Database,
                                       start_operator) -> None:
    password = database.password
    assert f":{password}@" in database.url  # the operator gets it inside DATABASE_URL

    # A table created, an invalid spec the API server admits, and a refused change.
    first = start_operator(mode, extra_env=VERBOSE)
    namespace.apply(resource("kept", {"tableName": "KEPT", "columns": COLUMNS,
                                      "primaryKey": "ID"}))
    namespace.wait_ready("kept")
    namespace.apply(resource("invalid", {"tableName": "INVALID", "columns": [
        {"ID": "integer"}, {"NAME": "varchar(0)"}], "primaryKey": "ID"}))
    assert namespace.wait_ready("invalid", status="False")["reason"] == "InvalidSpec"
    namespace.apply(resource("kept", {"tableName": "KEPT", "columns": [
        {next(iter(COLUMNS[0])): "text"}, *COLUMNS[1:]], "primaryKey": "ID"}))
    assert namespace.wait_ready("kept", status="False")["reason"] == "TypeChanged"
    first.stop()

    # The same password, a port nobody listens on: every reconcile fails to connect.
    unreachable = with_port(database.url, closed_port())
    assert f":{password}@" in unreachable
    second = start_operator(mode, extra_env={**VERBOSE, "DATABASE_URL": unreachable})
    namespace.apply(resource("unreachable", {"tableName": "UNREACHABLE", "columns": COLUMNS,
                                             "primaryKey": "ID"}))
    failed = namespace.wait_ready("unreachable", status="False")
    assert failed["reason"] == "DatabaseUnavailable", failed
    second.stop()

    logs = {"first operator": first.logs(), "second operator": second.logs()}
    # The DEBUG log does print SQL and errors, so a secret in them would be seen here.
    assert "SQL statement: CREATE TABLE" in logs["first operator"], logs["first operator"]
    assert "cannot reach PostgreSQL" in logs["second operator"], logs["second operator"]
    outputs = {
        **logs,
        "resources": namespace.kubectl("get", "databasetables", "-o", "yaml").stdout,
        "events": namespace.kubectl("get", "events", "-o", "yaml").stdout,
        "describe": namespace.kubectl("describe", "databasetables").stdout,
    }
    assert "DatabaseUnavailable" in outputs["resources"]
    assert "TypeChanged" in outputs["events"] and "InvalidSpec" in outputs["events"]

    secrets = {"database password": password, "URL-encoded password": quote(password, safe=""),
               "first token": token_of(first), "second token": token_of(second)}
    for where, text in outputs.items():
        for what, secret in secrets.items():
            assert secret not in text, f"the {what} appears in the {where}"
