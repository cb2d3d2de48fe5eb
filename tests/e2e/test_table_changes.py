"""Issue 9's example through the API server and the running operator: created, then each
change made with kubectl apply (rename, NOT NULL, defaults, unique, a drop, indexes, a foreign
key, a widening), with the Events of each and the catalog after it."""
from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Database, Namespace
from tests.support.k8s import resource, wait_for

NAME = "orders"
COLUMNS = [{"ID": "bigint"}, {"CUST_ID": "bigint"}, {"EMAIL": "varchar(200)"},
           {"STATUS": "text"}, {"CREATED_AT": "timestamptz"}, {"LEGACY_FLAG": "boolean"}]


def spec(**changes: Any) -> dict[str, Any]:
    return {"tableName": "ORDERS", "columns": COLUMNS, "primaryKey": "ID", **changes}


def reasons(namespace: Namespace) -> list[str]:
    return [e["reason"] for e in namespace.events(NAME) if e["type"] == "Normal"]


def settle(namespace: Namespace, reason: str) -> dict[str, Any]:
    """Ready again for the current generation, and the Event of the change posted."""
    namespace.wait_ready(NAME, timeout=90)
    wait_for(lambda: reason in reasons(namespace), timeout=30, message=f"a {reason} Event")
    return namespace.get(NAME)["status"]


def test_the_issues_example_changed_step_by_step(namespace: Namespace, database: Database,
                                                  start_operator) -> None:
    start_operator("container")
    namespace.apply(resource(NAME, spec()))
    settle(namespace, "TableCreated")
    database.execute("INSERT INTO public.orders (id, cust_id, email, legacy_flag) "
                     "SELECT g, g, 'u' || g || '@example.org', true "
                     "FROM generate_series(1, 100) g")

    # Rename CUST_ID to CUSTOMER_ID, keeping its data.
    renamed = [{"ID": "bigint"}, {"CUSTOMER_ID": "bigint"}, *COLUMNS[2:]]
    options: dict[str, Any] = {"CUSTOMER_ID": {"previousNames": ["CUST_ID"]}}
    namespace.apply(resource(NAME, spec(columns=renamed, columnOptions=options)))
    settle(namespace, "ColumnRenamed")
    assert database.execute("SELECT sum(customer_id) FROM public.orders") == [(5050,)]

    # EMAIL NOT NULL and unique, STATUS a default, in steps (Reconciling in between).
    options = {**options, "EMAIL": {"nullable": False, "unique": True},
               "STATUS": {"default": "'new'"}, "CREATED_AT": {"default": "now()"}}
    namespace.apply(resource(NAME, spec(columns=renamed, columnOptions=options)))
    status = settle(namespace, "UniqueChanged")
    email = next(c for c in status["columns"] if c["name"] == "email")
    assert email["nullable"] is False
    assert next(c for c in status["columns"] if c["name"] == "status")["default"] == \
        "'new'::text"
    assert next(c for c in status["columns"] if c["name"] == "created_at")["default"] == "now()"
    assert [u["columns"] for u in status["uniqueConstraints"]] == [["email"]]
    for reason in ("NullabilityChanging", "NullabilityChanged", "DefaultChanged",
                   "UniqueChanging"):
        assert reason in reasons(namespace), reasons(namespace)

    # Removing LEGACY_FLAG without saying so: kubectl apply itself fails (transition rule).
    kept = renamed[:5]
    refused = namespace.apply(resource(NAME, spec(columns=kept, columnOptions=options)),
                              check=False)
    assert refused.returncode != 0 and "spec.dropColumns" in refused.stderr

    # Named in dropColumns: dropped.
    namespace.apply(resource(NAME, spec(columns=kept, columnOptions=options,
                                        dropColumns=["LEGACY_FLAG"])))
    settle(namespace, "ColumnDropped")
    assert [c.name for c in database.table("orders").columns] == [
        "id", "customer_id", "email", "status", "created_at"]
    dropped = {"columnOptions": options, "dropColumns": ["LEGACY_FLAG"]}

    # The issue's two indexes, built concurrently (the named one under a temporary name first).
    indexes = [{"columns": ["CREATED_AT", "STATUS"]},
               {"name": "ORDERS_EMAIL_LOWER", "columns": ["EMAIL"], "method": "btree"}]
    namespace.apply(resource(NAME, spec(columns=kept, indexes=indexes, **dropped)))
    settle(namespace, "IndexCreated")
    definitions = {d.split(" USING ")[1] for (d,) in database.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'orders'")}
    assert {"btree (created_at, status)", "btree (email)"} <= definitions
    assert database.execute("SELECT indisvalid FROM pg_index "
                            "WHERE indexrelid = 'public.orders_email_lower'::regclass") == [(True,)]

    # A foreign key to CUSTOMERS (another DatabaseTable): NOT VALID, then validated.
    namespace.apply(resource("customers", {"tableName": "CUSTOMERS", "primaryKey": "ID",
                                           "columns": [{"ID": "bigint"}]}))
    namespace.wait_ready("customers", timeout=90)
    database.execute("INSERT INTO public.customers SELECT generate_series(1, 100)")
    keys = [{"columns": ["CUSTOMER_ID"], "references": {"table": "CUSTOMERS", "columns": ["ID"]},
             "onDelete": "Cascade"}]
    namespace.apply(resource(NAME, spec(columns=kept, indexes=indexes, foreignKeys=keys,
                                        **dropped)))
    settle(namespace, "ForeignKeyValidated")
    assert "ForeignKeyAdded" in reasons(namespace)
    assert database.execute("SELECT pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                            "WHERE conrelid = 'public.orders'::regclass AND contype = 'f'") == [
        ("FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE", True)]

    # A widening PostgreSQL makes without rewriting the table.
    widened = [*kept[:2], {"EMAIL": "varchar(320)"}, *kept[3:]]
    namespace.apply(resource(NAME, spec(columns=widened, indexes=indexes, foreignKeys=keys,
                                        **dropped)))
    settle(namespace, "ColumnTypeChanged")
    assert database.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                            "WHERE attrelid = 'public.orders'::regclass "
                            "AND attname = 'email'") == [("character varying(320)",)]

    # NOT NULL on a column holding NULLs: refused, with the count.
    database.execute("UPDATE public.orders SET status = NULL")
    options = {**options, "STATUS": {"default": "'new'", "nullable": False}}
    namespace.apply(resource(NAME, spec(columns=widened, indexes=indexes, foreignKeys=keys,
                                        columnOptions=options, dropColumns=["LEGACY_FLAG"])))
    ready = namespace.wait_ready(NAME, status="False", timeout=90)
    assert ready["reason"] == "NullsPresent" and "NULL in 100 row(s)" in ready["message"]


def test_unique_comes_with_the_new_table_and_follows_a_rename(namespace: Namespace,
                                                              database: Database,
                                                              start_operator) -> None:
    """Issue 9's two unique bugs through the API server: the constraint is made with the
    table (no later reconcile), and renaming the table renames it (an Event), nothing
    rebuilt."""
    from dbtable.unique_operations import unique_name

    start_operator("container")
    body = spec(columns=COLUMNS[:3], columnOptions={"EMAIL": {"unique": True}})
    namespace.apply(resource(NAME, body))
    status = settle(namespace, "TableCreated")
    assert status["uniqueConstraints"] == [{"name": unique_name("orders", "email"),
                                            "columns": ["email"]}]
    (oid,) = database.execute("SELECT conindid::int FROM pg_constraint WHERE contype = 'u' "
                              "AND conrelid = 'public.orders'::regclass")
    namespace.apply(resource(NAME, {**body, "tableName": "PURCHASES"}))
    status = settle(namespace, "UniqueRenamed")
    assert status["uniqueConstraints"] == [{"name": unique_name("purchases", "email"),
                                            "columns": ["email"]}]
    assert database.execute("SELECT conindid::int FROM pg_constraint WHERE contype = 'u' "
                            "AND conrelid = 'public.purchases'::regclass") == [oid]
