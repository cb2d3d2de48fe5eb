"""PostgreSQL for the tests: the local throwaway server, or any server named by an env var.

``DBT_TEST_DATABASE_URL`` may point at an existing server, as a URL of a role that can create
roles and databases (e.g. ``postgresql://postgres:secret@db:5432/postgres``); otherwise the
harness starts its own server (hack/postgres.py).
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql


class ExternalPostgres:
    """The subset of hack.postgres.LocalPostgres the tests use, for a server we did not start."""

    def __init__(self, url: str) -> None:
        self._url = url
        parts = urlsplit(url)
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 5432

    def execute_as_superuser(self, statement: str | sql.Composable, dbname: str = "postgres",
                             params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        conn = psycopg2.connect(self._url, dbname=dbname)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return list(cur.fetchall()) if cur.description is not None else []
        finally:
            conn.close()

    def create_role(self, name: str, password: str, login: bool = True,
                    superuser: bool = False) -> None:
        self.execute_as_superuser(sql.SQL("CREATE ROLE {} WITH {} {} PASSWORD %s").format(
            sql.Identifier(name), sql.SQL("LOGIN" if login else "NOLOGIN"),
            sql.SQL("SUPERUSER" if superuser else "NOSUPERUSER")), params=(password,))

    def create_database(self, name: str, owner: str) -> None:
        self.execute_as_superuser(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(owner)))

    def url(self, user: str, password: str, dbname: str) -> str:
        parts = urlsplit(self._url)
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}"
        return urlunsplit((parts.scheme, netloc, "/" + quote(dbname, safe=""), parts.query, ""))


def create_operator_database(server: Any, prefix: str = "dbt") -> dict[str, str]:
    """A fresh login role (no superuser, no CREATEDB) owning a fresh database.

    This is the least the operator needs: it creates tables in a schema it may CREATE in.
    Returns url, user, password and dbname.
    """
    suffix = secrets.token_hex(4)
    user, dbname, password = f"{prefix}_operator_{suffix}", f"{prefix}_{suffix}", \
        secrets.token_urlsafe(18)
    server.create_role(user, password)
    server.create_database(dbname, owner=user)
    return {"url": server.url(user, password, dbname), "user": user, "password": password,
            "dbname": dbname}
