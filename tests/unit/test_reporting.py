"""Warnings follow the Ready condition, and repeats on one object are rate-limited."""
from __future__ import annotations

from typing import Any

from dbtable.model import ActualColumn, ActualTable
from dbtable.plan import Plan
from dbtable.reporting import EventGate, Reporter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def reporter(status: dict[str, Any], gate: EventGate, posted: list[tuple[str, str, str]],
             generation: int = 1, key: str = "uid-1") -> tuple[Reporter, dict[str, Any]]:
    patch: dict[str, Any] = {}
    return Reporter(status, patch, generation, lambda *event: posted.append(event), gate,
                    key), patch


def test_failure_posts_one_warning_when_the_condition_changes() -> None:
    posted: list[tuple[str, str, str]] = []
    gate = EventGate(window=600, clock=Clock())
    report, patch = reporter({}, gate, posted)
    report.failed("LockTimeout", "locked")
    assert posted == [("Warning", "LockTimeout", "locked")]
    [condition] = patch["conditions"]
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False", "LockTimeout", "locked")
    assert patch["observedGeneration"] == 1


def test_retry_with_the_same_condition_posts_nothing() -> None:
    posted: list[tuple[str, str, str]] = []
    gate = EventGate(window=0, clock=Clock())  # no rate limit: only the condition decides
    report, patch = reporter({}, gate, posted)
    report.failed("LockTimeout", "locked")
    retry, _ = reporter({"conditions": patch["conditions"]}, gate, posted)
    retry.failed("LockTimeout", "locked")
    assert posted == [("Warning", "LockTimeout", "locked")]


def test_same_condition_on_a_new_generation_is_news() -> None:
    posted: list[tuple[str, str, str]] = []
    gate = EventGate(window=0, clock=Clock())
    report, patch = reporter({}, gate, posted)
    report.failed("ApplyFailed", "refused")
    again, _ = reporter({"conditions": patch["conditions"]}, gate, posted, generation=2)
    again.failed("ApplyFailed", "refused")
    assert len(posted) == 2


def test_flapping_condition_repeats_are_rate_limited_per_object() -> None:
    posted: list[tuple[str, str, str]] = []
    clock = Clock()
    gate = EventGate(window=600, clock=clock)
    status: dict[str, Any] = {}
    for reason in ["DatabaseUnavailable", "LockTimeout"] * 3:
        report, patch = reporter(status, gate, posted)
        report.failed(reason, reason.lower())
        status = {"conditions": patch["conditions"]}
        clock.now += 30
    assert [event[1] for event in posted] == ["DatabaseUnavailable", "LockTimeout"]
    other, _ = reporter({}, gate, posted, key="uid-2")
    other.failed("LockTimeout", "locktimeout")
    assert len(posted) == 3  # another object is not limited by the first one's Events
    clock.now += 600
    report, _ = reporter({}, gate, posted)
    report.failed("LockTimeout", "locktimeout")
    assert len(posted) == 4  # the window has passed


def test_gate_forgets_the_oldest_keys_beyond_its_size() -> None:
    gate = EventGate(window=600, max_keys=2, clock=Clock())
    assert gate.allow("a") and gate.allow("b") and gate.allow("c")
    assert not gate.allow("c") and not gate.allow("b")
    assert gate.allow("a")  # forgotten


def test_refusals_post_their_own_warnings_once() -> None:
    posted: list[tuple[str, str, str]] = []
    gate = EventGate(window=600, clock=Clock())
    report, _ = reporter({}, gate, posted)
    report.failed("ColumnRemoved", "Refused: a; b",
                  warnings=[("ColumnRemoved", "a"), ("TypeChanged", "b")])
    assert posted == [("Warning", "ColumnRemoved", "a"), ("Warning", "TypeChanged", "b")]


def test_ready_writes_the_applied_table() -> None:
    posted: list[tuple[str, str, str]] = []
    report, patch = reporter({}, EventGate(window=600), posted)
    table = ActualTable(schema="public", name="t",
                        columns=(ActualColumn("id", "integer", not_null=True),
                                 ActualColumn("status", "text", default="'new'::text")),
                        primary_key=("id",), primary_key_constraint="t_pkey", owner=None,
                        comment=None)
    report.ready(table, Plan(operations=(), refusals=()))
    assert patch["conditions"][0]["reason"] == "Reconciled"
    assert (patch["tableName"], patch["columns"], patch["primaryKey"]) == (
        "t", [{"name": "id", "type": "integer", "nullable": False},
              {"name": "status", "type": "text", "nullable": True, "default": "'new'::text"}],
        ["id"])
    assert posted == []


def test_reconciling_names_the_step_in_progress_and_writes_the_table_so_far() -> None:
    from dbtable.column_operations import AddNotNullCheck, ValidateNotNullCheck

    posted: list[tuple[str, str, str]] = []
    report, patch = reporter({}, EventGate(window=600), posted)
    table = ActualTable(schema="public", name="t", columns=(ActualColumn("id", "integer"),),
                        primary_key=(), primary_key_constraint=None, owner=None)
    report.reconciling(table, Plan(operations=(AddNotNullCheck("t", "id"),)),
                       ValidateNotNullCheck("t", "id"))
    (ready,) = patch["conditions"]
    assert (ready["status"], ready["reason"]) == ("False", "Reconciling")
    assert "in progress: ValidateNotNullCheck on t.id (SHARE UPDATE EXCLUSIVE lock)" \
        in ready["message"]
    assert "added check dbt_nn_id_" in ready["message"]
    assert patch["columns"] == [{"name": "id", "type": "integer", "nullable": True}]
    assert posted == []


def _table(*columns: ActualColumn) -> ActualTable:
    return ActualTable(schema="public", name="t", columns=columns, primary_key=("id",),
                       primary_key_constraint="t_pkey", owner=None, comment=None)


def test_nothing_applied_and_a_status_that_already_says_so_writes_nothing() -> None:
    """A resume (or any reconcile) that finds the table as the status describes it, Ready
    for this generation, leaves the patch empty: Kopf then sends no PATCH at all."""
    posted: list[tuple[str, str, str]] = []
    table = _table(ActualColumn("id", "integer", not_null=True))
    created, first = reporter({}, EventGate(window=600), posted)
    created.ready(table, Plan(operations=(), refusals=()))
    resumed, patch = reporter(dict(first), EventGate(window=600), posted)
    resumed.ready(table, Plan(operations=(), refusals=()))
    assert patch == {}
    assert posted == []


def test_a_status_that_differs_from_the_table_is_rewritten_even_with_nothing_applied() -> None:
    table = _table(ActualColumn("id", "integer", not_null=True))
    created, first = reporter({}, EventGate(window=600), [])
    created.ready(table, Plan(operations=(), refusals=()))
    widened = _table(ActualColumn("id", "integer", not_null=True), ActualColumn("x", "text"))
    for status, table_now in [({**first, "columns": []}, table),  # a field out of date
                              (first, widened),                   # the table moved on
                              ({**first, "observedGeneration": 0}, table)]:
        resumed, patch = reporter(dict(status), EventGate(window=600), [])
        resumed.ready(table_now, Plan(operations=(), refusals=()))
        assert patch["conditions"][0]["reason"] == "Reconciled"
        assert [c["name"] for c in patch["columns"]] == [c.name for c in table_now.columns]
        assert patch["observedGeneration"] == 1


def test_a_new_generation_is_acknowledged_even_when_the_table_already_matches() -> None:
    table = _table(ActualColumn("id", "integer", not_null=True))
    created, first = reporter({}, EventGate(window=600), [])
    created.ready(table, Plan(operations=(), refusals=()))
    update, patch = reporter(dict(first), EventGate(window=600), [], generation=2)
    update.ready(table, Plan(operations=(), refusals=()))
    assert patch["conditions"][0]["observedGeneration"] == 2
    assert patch["observedGeneration"] == 2


def test_status_indexes_are_written_and_a_resume_that_finds_them_writes_nothing() -> None:
    import dataclasses

    from dbtable.index_model import INDEX_MARKER, ActualIndex

    ours = ActualIndex("by_email", ("email",), "btree", True, True, INDEX_MARKER)
    table = dataclasses.replace(_table(ActualColumn("id", "integer", not_null=True),
                                       ActualColumn("email", "text")), indexes=(ours,))
    created, first = reporter({}, EventGate(window=600), [])
    created.ready(table, Plan(operations=(), refusals=()))
    assert first["indexes"] == [{"name": "by_email", "columns": ["email"], "method": "btree",
                                 "unique": True, "valid": True, "managed": True}]
    resumed, patch = reporter(dict(first), EventGate(window=600), [])
    resumed.ready(table, Plan(operations=(), refusals=()))
    assert patch == {}
    # An index made by hand since: the status is rewritten, saying it is not the operator's.
    by_hand = ActualIndex("by_hand", ("lower(email)",), "btree", False, True, expressions=True)
    grown = dataclasses.replace(table, indexes=(by_hand, ours))
    resumed, patch = reporter(dict(first), EventGate(window=600), [])
    resumed.ready(grown, Plan(operations=(), refusals=()))
    assert [(i["name"], i["managed"]) for i in patch["indexes"]] == [("by_hand", False),
                                                                      ("by_email", True)]


def test_reconciling_names_the_index_step_in_progress() -> None:
    from dbtable.index_operations import CreateIndex, PlaceIndex
    from dbtable.reporting import step_name

    assert step_name(CreateIndex("orders", "dbt_ix_build_0123", ("email",))) == \
        "CreateIndex dbt_ix_build_0123 on orders (SHARE UPDATE EXCLUSIVE lock)"
    assert step_name(PlaceIndex("orders", "dbt_ix_build_0123", "by_email")) == \
        "PlaceIndex dbt_ix_build_0123 on orders (SHARE UPDATE EXCLUSIVE lock)"
