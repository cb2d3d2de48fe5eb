"""spec.indexes through the API server and the running operator: kubectl apply adds an index,
changes it and removes it, with the Events and status.indexes of each step; a hand-made index
is reported and outlives them all."""
from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Database, Namespace
from tests.support.k8s import resource, wait_for

NAME = "indexed"
COLUMNS = [{"ID": "bigint"}, {"EMAIL": "text"}, {"STATUS": "text"}, {"CREATED_AT": "timestamptz"}]


def spec(*indexes: dict[str, Any]) -> dict[str, Any]:
    return {"tableName": "INDEXED", "columns": COLUMNS, "primaryKey": "ID",
            "indexes": list(indexes)}


def events(namespace: Namespace) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in namespace.events(NAME) if e["type"] == "Normal"]


def settle(namespace: Namespace, reason: str, text: str) -> list[dict[str, Any]]:
    """Ready for the current generation, an Event ``reason`` mentioning ``text`` posted; the
    status's indexes."""
    namespace.wait_ready(NAME, timeout=90)
    wait_for(lambda: any(r == reason and text in m for r, m in events(namespace)), timeout=30,
             message=f"a {reason} Event about {text}")
    return namespace.get(NAME)["status"]["indexes"]


def definitions(database: Database) -> dict[str, str]:
    rows = database.execute("SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                            "JOIN pg_class i ON i.oid = x.indexrelid "
                            "WHERE x.indrelid = 'public.indexed'::regclass")
    return {name: definition.split(" USING ")[1] for name, definition in rows}


def test_an_index_added_changed_and_removed_with_kubectl_apply(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container")
    namespace.apply(resource(NAME, spec()))
    namespace.wait_ready(NAME, timeout=90)
    database.execute("INSERT INTO public.indexed (id, email, status, created_at) "
                     "SELECT g, 'u' || g, 'new', now() FROM generate_series(1, 500) g; "
                     "CREATE INDEX by_hand ON public.indexed (created_at)")

    # Added: built concurrently under a temporary name, then given its name.
    named = {"name": "BY_EMAIL", "columns": ["EMAIL"]}
    namespace.apply(resource(NAME, spec(named, {"columns": ["CREATED_AT", "STATUS"]})))
    status = settle(namespace, "IndexCreated", "index by_email of indexed is in place")
    assert {(i["name"], tuple(i["columns"]), i["managed"], i["valid"]) for i in status
            if not i["name"].startswith("dbt_ix_")} == {
        ("by_email", ("email",), True, True), ("by_hand", ("created_at",), False, True)}
    (generated,) = [i for i in status if i["name"].startswith("dbt_ix_created_at_status_")]
    assert generated["columns"] == ["created_at", "status"] and generated["managed"]
    assert definitions(database)["by_email"] == "btree (email)"

    # Changed: a unique index with two columns, built before the old one goes.
    changed = {**named, "columns": ["EMAIL", "STATUS"], "unique": True}
    namespace.apply(resource(NAME, spec(changed, {"columns": ["CREATED_AT", "STATUS"]})))
    status = settle(namespace, "IndexRebuilding", "rebuilding index by_email")
    wait_for(lambda: definitions(database).get("by_email") == "btree (email, status)",
             timeout=30, message="by_email rebuilt")
    assert next(i for i in status if i["name"] == "by_email")["unique"] is True
    assert any(r == "IndexDropped" and "by_email" in m for r, m in events(namespace))

    # Refused: a unique index over repeating values, with the count; nothing changes.
    before = definitions(database)
    namespace.apply(resource(NAME, spec(changed, {"columns": ["STATUS"], "unique": True})))
    ready = namespace.wait_ready(NAME, status="False", timeout=90)
    assert ready["reason"] == "DuplicatesPresent" and "499 row(s)" in ready["message"]
    assert definitions(database) == before

    # Removed: only the operator's own are dropped; the hand-made one stays.
    namespace.apply(resource(NAME, spec()))
    status = settle(namespace, "IndexDropped", generated["name"])
    wait_for(lambda: set(definitions(database)) == {"indexed_pkey", "by_hand"}, timeout=30,
             message="only the primary key's and the hand-made index left")
    assert [(i["name"], i["managed"]) for i in status] == [("by_hand", False)]


def test_kubectl_explain_describes_indexes(namespace: Namespace) -> None:
    def explain(field: str) -> str:
        return " ".join(namespace.kubectl("explain", f"databasetable.spec.{field}").stdout.split())

    assert "CREATE INDEX CONCURRENTLY" in explain("indexes")
    assert "indexes made by hand are shown in status.indexes and left alone" in explain("indexes")
    assert "must not start with dbt_" in explain("indexes.name")
    assert "btree (the default), hash (one column), gin, gist or brin" in explain("indexes.method")
    assert "refused while rows repeat" in explain("indexes.unique")
