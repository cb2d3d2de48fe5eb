"""Foreign keys through the API server and the running operator: ORDERS references CUSTOMERS,
created in the wrong order, then changed, its column renamed and the key removed with kubectl
apply, with the Events and the status of each; deleting the referenced table waits for the key
to go."""
from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Database, Namespace
from tests.support.k8s import resource, wait_for

CUSTOMERS = {"tableName": "CUSTOMERS", "primaryKey": "ID",
             "columns": [{"ID": "bigint"}, {"NAME": "text"}]}
ORDERS_COLUMNS = [{"ID": "bigint"}, {"CUSTOMER_ID": "bigint"}, {"NOTE": "text"}]
KEY = {"columns": ["CUSTOMER_ID"], "references": {"table": "CUSTOMERS", "columns": ["ID"]}}


def orders(*keys: dict[str, Any]) -> dict[str, Any]:
    return {"tableName": "ORDERS", "primaryKey": "ID", "columns": ORDERS_COLUMNS,
            "foreignKeys": list(keys)}


def events(namespace: Namespace, name: str, type_: str = "Normal") -> list[str]:
    return [e["reason"] for e in namespace.events(name) if e["type"] == type_]


def wait_event(namespace: Namespace, name: str, reason: str, type_: str = "Normal",
               count: int = 1) -> None:
    wait_for(lambda: events(namespace, name, type_).count(reason) >= count, timeout=60,
             message=f"{count} {type_} {reason} Event(s) on {name}")


def test_orders_references_customers_through_kubectl_apply(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container")
    # ORDERS first: its key waits for CUSTOMERS, and nothing of it is created meanwhile.
    namespace.apply(resource("orders", orders(KEY)))
    waiting = namespace.wait_ready("orders", status="False", timeout=60)
    assert waiting["reason"] == "ReferencedTableMissing", waiting
    assert "spec.foreignKeys[0].references.table" in waiting["message"]
    wait_event(namespace, "orders", "ReferencedTableMissing", "Warning")
    assert database.table("orders") is None

    namespace.apply(resource("customers", CUSTOMERS))
    namespace.wait_ready("customers", timeout=60)
    namespace.wait_ready("orders", timeout=90)  # picked up by the retry, not by a change
    wait_event(namespace, "orders", "ForeignKeyAdded")
    (key,) = namespace.get("orders")["status"]["foreignKeys"]
    assert (key["columns"], key["references"]["table"], key["references"]["columns"],
            key["onDelete"], key["validated"], key["managed"]) == (
        ["customer_id"], "customers", ["id"], "NoAction", True, True)
    assert key["name"].startswith("dbt_fk_customer_id_")

    # Rows, then onDelete Cascade by kubectl apply: replaced under its name, validated.
    database.execute("INSERT INTO public.customers SELECT g, 'c' FROM generate_series(1, 20) g")
    database.execute("INSERT INTO public.orders SELECT g, mod(g, 20) + 1, 'n' "
                     "FROM generate_series(1, 200) g")
    namespace.apply(resource("orders", orders({**KEY, "onDelete": "Cascade"})))
    wait_event(namespace, "orders", "ForeignKeyValidated")
    namespace.wait_ready("orders", timeout=90)
    (key,) = namespace.get("orders")["status"]["foreignKeys"]
    assert (key["onDelete"], key["validated"]) == ("Cascade", True)
    assert "ForeignKeyDropped" in events(namespace, "orders")
    database.execute("DELETE FROM public.customers WHERE id = 1")
    assert database.execute("SELECT count(*) FROM public.orders") == [(190,)]

    # CUSTOMER_ID renamed: the generated name follows, the same constraint renamed in place
    # (its oid kept), never validated again.
    validated = events(namespace, "orders").count("ForeignKeyValidated")
    constraint = ("SELECT oid::int, conname, convalidated FROM pg_constraint "
                  "WHERE contype = 'f' AND conrelid = 'public.orders'::regclass")
    ((oid, _, _),) = database.execute(constraint)
    renamed = {**orders({**KEY, "columns": ["CLIENT_ID"], "onDelete": "Cascade"}),
               "columns": [ORDERS_COLUMNS[0], {"CLIENT_ID": "bigint"}, ORDERS_COLUMNS[2]],
               "columnOptions": {"CLIENT_ID": {"previousNames": ["CUSTOMER_ID"]}}}
    namespace.apply(resource("orders", renamed))
    wait_event(namespace, "orders", "ForeignKeyRenamed")
    wait_for(lambda: namespace.get("orders")["status"]["foreignKeys"][0]["name"]
             .startswith("dbt_fk_client_id_"), timeout=60, message="the renamed key's status")
    (key,) = namespace.get("orders")["status"]["foreignKeys"]
    assert database.execute(constraint) == [(oid, key["name"], True)]
    assert events(namespace, "orders").count("ForeignKeyValidated") == validated

    # Deleting CUSTOMERS while ORDERS references it: refused, never CASCADE; it waits.
    namespace.kubectl("delete", "databasetable", "customers", "--wait=false")
    refused = namespace.wait_ready("customers", status="False", timeout=60)
    assert refused["reason"] == "TableReferenced" and "never uses CASCADE" in refused["message"]
    wait_event(namespace, "customers", "TableReferenced", "Warning")
    assert database.table("customers") is not None
    assert [k.name for k in database.table("orders").foreign_keys] == [key["name"]]

    # The key removed from ORDERS: dropped; then the deletion of CUSTOMERS goes through.
    namespace.apply(resource("orders", {**renamed, "foreignKeys": []}))
    wait_event(namespace, "orders", "ForeignKeyDropped", count=2)
    namespace.wait_ready("orders", timeout=60)
    assert namespace.get("orders")["status"]["foreignKeys"] == []
    wait_for(lambda: namespace.get("customers") is None, timeout=120,
             message="customers deleted once nothing references it")
    assert database.table("customers") is None


def test_kubectl_explain_describes_foreign_keys(namespace: Namespace) -> None:
    def explain(field: str) -> str:
        return " ".join(namespace.kubectl("explain", f"databasetable.{field}").stdout.split())

    assert "ADD CONSTRAINT ... NOT VALID (brief), then VALIDATE CONSTRAINT" in explain(
        "spec.foreignKeys")
    assert "An atomic list: one field manager owns it whole" in explain("spec.foreignKeys")
    assert "dbt_fk_<columns>_<digest>, at most 63 bytes" in explain("spec.foreignKeys.name")
    assert "need not be managed by the operator" in explain("spec.foreignKeys.references")
    assert "SetNull (their columns become NULL; refused on a NOT NULL column)" in explain(
        "spec.foreignKeys.onDelete")
    assert "never drops" in explain("status.foreignKeys.managed")
