"""The seed's operator as its write-up describes it, for bench_burst to race against.

A create handler only, a new psycopg2 connection per event, Kopf's default settings, no status
and no Events of its own. It runs from a virtualenv of its own holding only the seed's packages
(kopf, kubernetes, psycopg2-binary), so this project's dependency choices do not help it; so it
imports nothing from this repository. bench_burst starts it as the seed's Dockerfile does:
``kopf run --namespace=NS seed_operator.py`` (plus a liveness endpoint to know it is up).

One difference from the seed: it quotes the names and accepts only plain type names instead
of formatting the spec into the statement (the seed's SQL is injectable); that costs the same.
"""
import os
import re

import kopf
import psycopg2
from psycopg2 import sql

# Plain type names with optional integer modifiers: what the benchmark's specs carry.
TYPE = re.compile(r"[a-z][a-z ]*(\(\d+(,\d+)?\))?")


def create_table_statement(spec):
    columns = []
    for column in spec["columns"]:
        (name, type_name), = column.items()
        type_text = str(type_name).lower()
        if not TYPE.fullmatch(type_text):
            raise kopf.PermanentError(f"unsupported column type {type_name!r}")
        columns.append(sql.SQL("{} {}").format(sql.Identifier(name.lower()), sql.SQL(type_text)))
    return sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY ({}))").format(
        sql.Identifier(spec["tableName"].lower()), sql.SQL(", ").join(columns),
        sql.Identifier(spec["primaryKey"].lower()))


@kopf.on.create("kopf.demo", "v1", "databasetables")
def create_handler(spec, name, logger, **_):
    logger.info("Create handler invoked by custom resource %s. Creating database table.", name)
    connection = psycopg2.connect(os.environ["DATABASE_URL"])
    try:
        with connection.cursor() as cursor:
            cursor.execute(create_table_statement(spec))
        connection.commit()
    finally:
        connection.close()
