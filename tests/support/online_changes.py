"""The rows of issue 9's "How changes are applied" as one sequence of specs on one table.

Each ``Change`` is the spec after it (built on the one before), what the catalog shows once it is
applied, and the same change done the naive way (plain SQL: a blocking ALTER TABLE, CREATE INDEX
without CONCURRENTLY, a foreign key validated under its lock). The online proof test applies
the specs under live traffic; bench/bench_online.py prints both ways side by side.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg2 import sql

Catalog = dict[str, Any]

TABLE = "orders"
BASE_COLUMNS: tuple[dict[str, str], ...] = (
    {"ID": "bigint"}, {"CUST_ID": "bigint"}, {"EMAIL": "varchar(200)"}, {"STATUS": "text"},
    {"LEGACY_FLAG": "boolean"}, {"CREATED_AT": "timestamptz"})
BASE_SPEC: dict[str, Any] = {"tableName": "ORDERS", "primaryKey": "ID",
                             "columns": list(BASE_COLUMNS)}


@dataclass(frozen=True)
class Change:
    """One row of the issue's table: the spec after it, and what the catalog shows then."""

    label: str
    spec: dict[str, Any]
    applied: Callable[[Catalog], bool]
    naive: tuple[str, ...]  # the same change as plain SQL ({t}: the table, {s}: its schema)
    # Its first step takes an ACCESS EXCLUSIVE lock, so a report reading the table makes it wait.
    exclusive: bool = True
    # Rewrites the table under ACCESS EXCLUSIVE (allowed by allowTableRewrite): it blocks every
    # client for as long as it takes, by design, so it is measured, never held to the bound.
    rewrites: bool = False


def changes() -> list[Change]:
    """The changes in order, each spec built on the one before."""
    columns = [*BASE_COLUMNS, {"PRIORITY": "integer"}]
    options: dict[str, Any] = {"PRIORITY": {"default": "0"}}
    extra: dict[str, Any] = {}
    out: list[Change] = []

    def step(label: str, applied: Callable[[Catalog], bool], *naive: str,
             exclusive: bool = True, rewrites: bool = False) -> None:
        spec = {**BASE_SPEC, "columns": list(columns),
                "columnOptions": {k: dict(v) for k, v in options.items()}, **extra}
        out.append(Change(label, spec, applied, naive, exclusive, rewrites))

    step("add a column with a constant default",
         lambda c: c["columns"]["priority"] == ("integer", False, "0"),
         "ALTER TABLE {t} ADD COLUMN priority integer DEFAULT 0")
    options["STATUS"] = {"nullable": False}
    step("set NOT NULL", lambda c: c["columns"]["status"][1] is True,
         "ALTER TABLE {t} ALTER COLUMN status SET NOT NULL")
    options["STATUS"] = {"nullable": True}
    step("drop NOT NULL", lambda c: c["columns"]["status"][1] is False,
         "ALTER TABLE {t} ALTER COLUMN status DROP NOT NULL")
    options["STATUS"] = {"nullable": True, "default": "'new'"}
    step("set a default", lambda c: c["columns"]["status"][2] == "'new'::text",
         "ALTER TABLE {t} ALTER COLUMN status SET DEFAULT 'new'")
    options["PRIORITY"] = {"default": "null"}
    step("drop a default", lambda c: c["columns"]["priority"][2] is None,
         "ALTER TABLE {t} ALTER COLUMN priority DROP DEFAULT")
    options["EMAIL"] = {"unique": True}
    # Its exclusive step (attaching the index) comes after the build, when a report may be over.
    step("add unique", lambda c: "UNIQUE (email)" in c["constraints"].values(),
         "ALTER TABLE {t} ADD CONSTRAINT naive_email_key UNIQUE (email)", exclusive=False)
    extra["indexes"] = [{"columns": ["CREATED_AT", "STATUS"]},
                        {"name": "ORDERS_EMAIL_LOWER", "columns": ["EMAIL"], "method": "btree"}]
    step("add an index", lambda c: _has_index(c, "(created_at, status)")
         and _has_index(c, "(email)", "orders_email_lower"),
         "CREATE INDEX naive_ix ON {t} (created_at, status)",
         "CREATE INDEX naive_email ON {t} (email)", exclusive=False)
    extra["indexes"] = extra["indexes"][1:]
    step("drop an index", lambda c: not _has_index(c, "(created_at, status)")
         and _has_index(c, "(email)", "orders_email_lower"),
         "DROP INDEX {s}.naive_ix", exclusive=False)
    extra["foreignKeys"] = [{"columns": ["CUST_ID"], "references": {"table": "CUSTOMERS",
                                                                     "columns": ["ID"]},
                             "onDelete": "Cascade"}]
    # Its brief lock (SHARE ROW EXCLUSIVE) lets a report's ACCESS SHARE be.
    step("add a foreign key", lambda c: _has_foreign_key(c, "cust_id"),
         "ALTER TABLE {t} ADD CONSTRAINT naive_fk FOREIGN KEY (cust_id) "
         "REFERENCES {s}.customers (id) ON DELETE CASCADE", exclusive=False)
    columns[1] = {"CUSTOMER_ID": "bigint"}
    options["CUSTOMER_ID"] = {"previousNames": ["CUST_ID"]}
    extra["foreignKeys"] = [{**extra["foreignKeys"][0], "columns": ["CUSTOMER_ID"]}]
    step("rename a column",
         lambda c: "customer_id" in c["columns"] and "cust_id" not in c["columns"]
         and _has_foreign_key(c, "customer_id"),
         "ALTER TABLE {t} RENAME COLUMN cust_id TO customer_id")
    columns[2] = {"EMAIL": "varchar(320)"}
    step("widen a type without a rewrite",
         lambda c: c["columns"]["email"][0] == "character varying(320)",
         "ALTER TABLE {t} ALTER COLUMN email TYPE varchar(320)")
    del columns[4]  # LEGACY_FLAG
    extra["dropColumns"] = ["LEGACY_FLAG"]
    step("drop a column", lambda c: "legacy_flag" not in c["columns"],
         "ALTER TABLE {t} DROP COLUMN legacy_flag")
    columns[-1] = {"PRIORITY": "bigint"}
    extra["allowTableRewrite"] = True
    step("rewrite a type (allowTableRewrite)",
         lambda c: c["columns"]["priority"][0] == "bigint",
         "ALTER TABLE {t} ALTER COLUMN priority TYPE bigint", rewrites=True)
    return out


def _has_index(catalog: Catalog, columns: str, name: str = "") -> bool:
    """A valid index on ``columns`` (as pg_get_indexdef prints them), named ``name`` if given."""
    return any(definition.endswith(f"USING btree {columns}") and valid
               and (not name or f" INDEX {name} ON " in definition)
               for definition, valid in catalog["indexes"].values())


def _has_foreign_key(catalog: Catalog, column: str) -> bool:
    """A validated foreign key from ``column`` to customers (id), deleting with its customer."""
    return any(d.startswith(f"FOREIGN KEY ({column}) REFERENCES ")
               and d.endswith("customers(id) ON DELETE CASCADE")
               for d in catalog["constraints"].values())


def create_customers(cur: Any, schema: str, customers: int) -> None:
    """The table the foreign key row references: ids 1..customers (what ``fill`` and the
    clients write into the second column)."""
    table = sql.Identifier(schema, "customers")
    cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (id bigint PRIMARY KEY)").format(table))
    cur.execute(sql.SQL("INSERT INTO {} SELECT generate_series(1, %s) ON CONFLICT DO NOTHING")
                .format(table), (customers,))


def fill(cur: Any, target: sql.Identifier, rows: int, customers: int) -> None:
    """``rows`` rows of the base table in one statement (ids 1..rows, unique emails, every
    status set, the second column in 1..customers)."""
    cur.execute(sql.SQL(
        "INSERT INTO {} SELECT g, g %% %s + 1, 'user' || md5(g::text) || '@example.org', 'new', "
        "g %% 2 = 0, now() - g * interval '1 second' FROM generate_series(1, %s) g")
        .format(target), (customers, rows))
    cur.execute(sql.SQL("ANALYZE {}").format(target))


def read_catalog(conn: Any, schema: str, table: str = TABLE) -> Catalog:
    """Columns (type, NOT NULL, default), constraints and indexes of the table, by name."""
    relation = sql.Identifier(schema, table).as_string(conn)
    with conn, conn.cursor() as cur:
        cur.execute("""
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a LEFT JOIN pg_attrdef d
              ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped""",
                    (relation,))
        columns = {name: (type_, notnull, default) for name, type_, notnull, default in cur}
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass", (relation,))
        constraints = dict(cur.fetchall())
        cur.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid), indisvalid "
                    "FROM pg_index WHERE indrelid = %s::regclass", (relation,))
        indexes = {name: (definition, valid) for name, definition, valid in cur}
    return {"columns": columns, "constraints": constraints, "indexes": indexes}
