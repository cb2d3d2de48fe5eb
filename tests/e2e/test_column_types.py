"""Column types through the API server and the running operator: extension types with
modifiers are admitted and created, internal names converge, unknown types are refused."""
from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Database, Namespace
from tests.support.k8s import resource, wait_for


def columns(database: Database, table: str) -> list[tuple[str, str]]:
    found = database.table(table)
    return [(c.name, c.type) for c in found.columns] if found else []


def test_extension_and_internal_type_names_are_admitted_created_and_stay_ready(
        namespace: Namespace, database: Database, pg_server: Any, start_operator) -> None:
    if pg_server.execute_as_superuser("SELECT count(*) FROM pg_available_extensions "
                                      "WHERE name = 'postgis'") != [(1,)]:
        pytest.skip("PostGIS is not installed on this PostgreSQL server (.ci/run installs it)")
    pg_server.execute_as_superuser("CREATE EXTENSION postgis", dbname=database.dbname)
    start_operator("container")
    spec = {"tableName": "PLACES", "primaryKey": "ID", "columns": [
        {"ID": "integer"}, {"LOCATION": "geometry(Point,4326)"}, {"TAGS": "_text"}]}
    namespace.apply(resource("places", spec))
    namespace.wait_ready("places")
    assert columns(database, "places") == [("id", "integer"),
                                           ("location", "geometry(Point,4326)"),
                                           ("tags", "text[]")]
    # A change elsewhere in the spec: the types compare equal (no TypeChanged), the column is added.
    namespace.apply(resource("places", {**spec, "columns": spec["columns"] + [{"NAME": "text"}]}))
    namespace.wait_ready("places")
    assert columns(database, "places")[-1] == ("name", "text")


def test_unknown_type_is_refused_naming_the_column_until_it_exists(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container")
    spec = {"tableName": "FEELINGS", "primaryKey": "ID",
            "columns": [{"ID": "integer"}, {"MOOD": "mood"}]}
    namespace.apply(resource("feelings", spec))
    condition = namespace.wait_ready("feelings", status="False")
    assert condition["reason"] == "InvalidSpec"
    assert "spec.columns.mood: column type mood: type mood does not exist" in condition["message"]
    assert database.table("feelings") is None
    wait_for(lambda: any(e["reason"] == "InvalidSpec" and "spec.columns.mood" in e["message"]
                         for e in namespace.events("feelings")),
             timeout=30, message="an InvalidSpec Warning naming spec.columns.mood")
    # Once the type exists, the next spec change converges.
    database.execute("CREATE TYPE public.mood AS ENUM ('sad', 'happy')")
    namespace.apply(resource("feelings", {**spec, "columns": spec["columns"] + [{"AT": "date"}]}))
    namespace.wait_ready("feelings")
    assert columns(database, "feelings") == [("id", "integer"), ("mood", "mood"), ("at", "date")]
