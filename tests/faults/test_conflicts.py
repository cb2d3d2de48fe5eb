"""Two claims on one table name: the first owner keeps it, the second is refused and its
deletion drops nothing; a table made by hand is never altered or dropped."""
from __future__ import annotations

from dbtable.model import ActualTable
from tests.faults.conftest import Database, Namespace, wait_condition, warnings
from tests.support.k8s import resource, wait_for

COLUMNS = [{"ID": "integer"}, {"NAME": "text"}]


def assert_unchanged(database: Database, before: ActualTable) -> None:
    after = database.table(before.name)
    assert after == before


def delete(namespace: Namespace, name: str) -> None:
    namespace.kubectl("delete", "databasetable", name, "--wait=false")
    wait_for(lambda: namespace.get(name) is None, timeout=30, message=f"{name} gone")


def test_second_resource_for_a_table_is_refused_and_its_deletion_drops_nothing(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container")
    namespace.apply(resource("first", {"tableName": "SHARED", "columns": COLUMNS,
                                       "primaryKey": "ID"}))
    namespace.wait_ready("first")
    database.execute("INSERT INTO public.shared VALUES (1, 'ada')")
    before = database.table("shared")

    # Another spec for the same table, which would change it if it were accepted.
    namespace.apply(resource("second", {"tableName": "shared",
                                        "columns": COLUMNS + [{"EMAIL": "text"}],
                                        "primaryKey": "NAME"}))
    refused = wait_condition(namespace, "second", "Conflict", timeout=30)
    assert f"table shared belongs to DatabaseTable {namespace.name}/first" in refused["message"]
    assert "Conflict" in dict(warnings(namespace, "second"))
    assert_unchanged(database, before)
    assert namespace.ready("first")["status"] == "True"

    delete(namespace, "second")
    assert_unchanged(database, before)
    assert database.execute("SELECT id, name FROM public.shared") == [(1, "ada")]
    assert namespace.ready("first")["status"] == "True"


def test_table_made_by_hand_is_never_altered_or_dropped(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container")
    database.execute("CREATE TABLE public.handmade (id integer PRIMARY KEY, name text)")
    database.execute("INSERT INTO public.handmade VALUES (1, 'ada')")
    before = database.table("handmade")
    assert before.comment is None

    namespace.apply(resource("claim", {"tableName": "HANDMADE",
                                       "columns": COLUMNS + [{"EMAIL": "text"}],
                                       "primaryKey": "ID"}))
    refused = wait_condition(namespace, "claim", "Conflict", timeout=30)
    assert "table handmade already exists and is not managed by this operator" \
        in refused["message"]
    assert_unchanged(database, before)

    delete(namespace, "claim")
    assert_unchanged(database, before)
    assert database.execute("SELECT id, name FROM public.handmade") == [(1, "ada")]


def test_copied_marker_is_ambiguous_and_nothing_is_altered_or_dropped(
        namespace: Namespace, database: Database, start_operator) -> None:
    start_operator("container")
    namespace.apply(resource("first", {"tableName": "ORIGINAL", "columns": COLUMNS,
                                       "primaryKey": "ID"}))
    namespace.wait_ready("first")
    # Someone copies the table, comment and all: two tables now carry first's marker.
    database.execute("CREATE TABLE public.copy (id integer PRIMARY KEY, name text)")
    database.execute("COMMENT ON TABLE public.copy IS %s",
                     (database.table("original").comment,))
    before = [database.table("original"), database.table("copy")]

    namespace.apply(resource("first", {"tableName": "ORIGINAL",
                                       "columns": COLUMNS + [{"EMAIL": "text"}],
                                       "primaryKey": "ID"}))
    refused = wait_condition(namespace, "first", "Conflict", timeout=60)
    assert "tables copy, original all carry the ownership marker" in refused["message"]
    assert [database.table("original"), database.table("copy")] == before

    # Deleting it drops neither: the finalizer holds and the status says why.
    namespace.kubectl("delete", "databasetable", "first", "--wait=false")
    wait_for(lambda: "could not delete the table" in (namespace.get("first")["status"]
                                                       ["conditions"][0]["message"]),
             timeout=60, message="the deletion refused on the status")
    assert namespace.get("first")["metadata"]["deletionTimestamp"]
    assert [database.table("original"), database.table("copy")] == before
    namespace.kubectl("patch", "databasetable", "first", "--type=merge",
                      "-p", '{"metadata": {"finalizers": null}}')


def test_names_done_in_steps_converge_within_seconds_once_free(
        namespace: Namespace, database: Database, start_operator) -> None:
    # (A direct swap converges by itself: tests/faults/test_drift_races.py.)
    start_operator("container")

    def spec(table: str) -> dict:
        return {"tableName": table, "columns": COLUMNS, "primaryKey": "ID"}

    namespace.apply(resource("first", spec("a")))
    namespace.apply(resource("second", spec("b")))
    namespace.wait_ready("first")
    namespace.wait_ready("second")
    database.execute("INSERT INTO public.a VALUES (1, 'ada')")

    # first wants b while second still holds it: refused, nothing moves.
    namespace.apply(resource("first", spec("b")))
    refused = wait_condition(namespace, "first", "Conflict", timeout=60)
    assert f"belongs to DatabaseTable {namespace.name}/second" in refused["message"]
    assert database.execute("SELECT id FROM public.a") == [(1,)]

    # second moves to a free name; first then takes b within seconds, rows and all.
    namespace.apply(resource("second", spec("c")))
    namespace.wait_ready("second")
    namespace.wait_ready("first", timeout=30)
    assert database.execute("SELECT id, name FROM public.b") == [(1, "ada")]
    namespace.apply(resource("second", spec("a")))
    namespace.wait_ready("second")
    assert database.table("a").owner.name == "second"
