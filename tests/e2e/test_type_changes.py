"""Type changes through the API server and the running operator: kubectl apply widens a varchar
in place (an Event), an integer to bigint is refused until the spec says allowTableRewrite,
then made (Events for both)."""
from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Database, Namespace
from tests.support.k8s import resource, wait_for

NAME = "retyped"


def spec(email: str = "varchar(50)", hits: str = "integer", **extra: Any) -> dict[str, Any]:
    return {"tableName": "RETYPED", "primaryKey": "ID", **extra,
            "columns": [{"ID": "integer"}, {"EMAIL": email}, {"HITS": hits}]}


def events(namespace: Namespace, kind: str, reason: str) -> list[str]:
    return [e["message"] for e in namespace.events(NAME)
            if e["type"] == kind and e["reason"] == reason]


def table_file(database: Database) -> int:
    return database.execute("SELECT relfilenode::int FROM pg_class WHERE oid = "
                            "'public.retyped'::regclass")[0][0]


def types(database: Database) -> dict[str, str]:
    return {c.name: c.type for c in database.table("retyped").columns}


def test_widen_then_refuse_then_allow_a_rewrite(namespace: Namespace, database: Database,
                                               start_operator) -> None:
    start_operator("container")
    namespace.apply(resource(NAME, spec()))
    namespace.wait_ready(NAME)
    database.execute("INSERT INTO public.retyped SELECT g, 'u' || g || '@example.org', g "
                     "FROM generate_series(1, 50) g")
    before = table_file(database)

    namespace.apply(resource(NAME, spec(email="varchar(200)")))
    wait_for(lambda: events(namespace, "Normal", "ColumnTypeChanged"), timeout=60,
             message="a ColumnTypeChanged Event")
    namespace.wait_ready(NAME)
    (widened,) = events(namespace, "Normal", "ColumnTypeChanged")
    assert "widened column email of retyped from character varying(50) to " \
           "character varying(200) (no rewrite)" in widened
    assert types(database)["email"] == "character varying(200)"
    assert table_file(database) == before  # not rewritten

    namespace.apply(resource(NAME, spec(email="varchar(200)", hits="bigint")))
    refused = namespace.wait_ready(NAME, status="False")
    assert refused["reason"] == "TableRewriteNotAllowed"
    assert "spec.columns.hits: column hits is integer in table retyped, the spec says " \
           "bigint" in refused["message"]
    assert "spec.allowTableRewrite: true" in refused["message"]
    wait_for(lambda: events(namespace, "Warning", "TableRewriteNotAllowed"), timeout=30,
             message="a TableRewriteNotAllowed Warning")
    assert types(database)["hits"] == "integer" and table_file(database) == before

    namespace.apply(resource(NAME, spec(email="varchar(200)", hits="bigint",
                                        allowTableRewrite=True)))
    wait_for(lambda: len(events(namespace, "Normal", "ColumnTypeChanged")) == 2, timeout=60,
             message="a second ColumnTypeChanged Event")
    namespace.wait_ready(NAME)
    assert any("rewrote the table" in m for m in events(namespace, "Normal",
                                                         "ColumnTypeChanged"))
    assert types(database)["hits"] == "bigint"
    assert table_file(database) != before
    assert database.execute("SELECT count(*), sum(hits) FROM public.retyped") == [(50, 1275)]
    status = namespace.get(NAME)["status"]
    assert {c["name"]: c["type"] for c in status["columns"]}["hits"] == "bigint"
