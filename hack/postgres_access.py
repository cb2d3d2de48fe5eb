"""Connecting to the local PostgreSQL server (hack/postgres.py) as its superuser: connection
strings, one-statement administration, and the demo identity the seed's Helm chart creates."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import make_dsn

from hack.postgres_install import SUPERUSER

DEMO_USER = "demouser"
DEMO_PASSWORD = "demopw"
DEMO_DATABASE = "demodb"


class SuperuserAccess:
    """LocalPostgres's connecting half: needs ``host``, ``port`` and the superuser's
    ``_password``."""

    host: str
    port: int
    _password: str

    @property
    def superuser_password(self) -> str:
        return self._password

    @property
    def superuser_dsn(self) -> str:
        return self.dsn(SUPERUSER, self._password, "postgres")

    def dsn(self, user: str, password: str, dbname: str) -> str:
        """A libpq keyword/value connection string; make_dsn does the quoting."""
        return make_dsn(host=self.host, port=self.port, user=user, password=password, dbname=dbname)

    def url(self, user: str, password: str, dbname: str) -> str:
        """A postgresql:// URL, the form DATABASE_URL-style settings expect."""
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@{self.host}:{self.port}/{quote(dbname, safe='')}"
        )

    @contextlib.contextmanager
    def _superuser_cursor(self, dbname: str = "postgres") -> Iterator[Any]:
        connection = psycopg2.connect(self.dsn(SUPERUSER, self._password, dbname))
        try:
            # CREATE DATABASE cannot run inside a transaction block.
            connection.autocommit = True
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def execute_as_superuser(
        self,
        sql_text: str | sql.Composable,
        dbname: str = "postgres",
        params: Sequence[Any] | dict[str, Any] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the superuser in autocommit mode; return its rows, if any."""
        with self._superuser_cursor(dbname) as cursor:
            cursor.execute(sql_text, params)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def create_role(self, name: str, password: str, login: bool = True, superuser: bool = False) -> None:
        statement = sql.SQL("CREATE ROLE {} WITH {} {} PASSWORD %s").format(
            sql.Identifier(name),
            sql.SQL("LOGIN" if login else "NOLOGIN"),
            sql.SQL("SUPERUSER" if superuser else "NOSUPERUSER"),
        )
        self.execute_as_superuser(statement, params=(password,))

    def create_database(self, name: str, owner: str) -> None:
        statement = sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
        self.execute_as_superuser(statement)

    def setup_demo(self) -> dict[str, str]:
        """Create the identity the seed's Bitnami chart creates and return libpq env vars for it.

        The chart is installed with auth.username=demouser, auth.password=demopw and
        auth.database=demodb: a login role owning its database, no superuser rights.
        """
        self.create_role(DEMO_USER, DEMO_PASSWORD)
        self.create_database(DEMO_DATABASE, owner=DEMO_USER)
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": DEMO_USER,
            "PGPASSWORD": DEMO_PASSWORD,
            "PGDATABASE": DEMO_DATABASE,
        }
