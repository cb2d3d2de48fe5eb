"""The drift sweep's pure comparison: which resources need their handler, and which do not."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from dbtable.compact_spec import encode_spec
from dbtable.drift import (CatalogSnapshot, ReadyCondition, Subject, find_drift, judge,
                           refusal_message, subject_from, wanted_names, _Lookup)
from dbtable.model import ActualColumn, ActualTable, Owner
from dbtable.plan import Plan, Refusal, RefusalReason
from dbtable.spec import parse_spec

SPEC = {"tableName": "USERS", "columns": [{"ID": "integer"}, {"NAME": "text"}],
        "primaryKey": "ID"}
OWNER = Owner("ns", "users", "uid-1")
READY = ReadyCondition("True", "Reconciled", "Table is up to date (no changes needed)", 1)


def subject(spec: dict[str, Any] = SPEC, ready: ReadyCondition | None = READY,
            **changes: Any) -> Subject:
    fields: dict[str, Any] = dict(namespace="ns", name="users", uid="uid-1", generation=1,
                                  spec=spec, observed_generation=1, ready=ready)
    fields.update(changes)
    return Subject.of(**fields)


def table(name: str = "users", columns: tuple[tuple[str, str], ...] = (
        ("id", "integer"), ("name", "text")), key: tuple[str, ...] = ("id",),
        owner: Owner | None = OWNER) -> ActualTable:
    return ActualTable("public", name, tuple(ActualColumn(n, t) for n, t in columns), key,
                       f"{name}_pkey" if key else None, owner)


def found(*subjects: Subject, tables: tuple[ActualTable, ...] = (table(),),
          blockers: dict[str, str] | None = None) -> list[str]:
    catalog = CatalogSnapshot(tables, blockers or {})
    return [f.why for f in find_drift(subjects, catalog)]


def test_matching_table_with_ready_status_needs_nothing() -> None:
    assert found(subject()) == []


def test_dropped_table_is_found_and_would_be_recreated() -> None:
    [why] = found(subject(), tables=())
    assert "created table users" in why


def test_dropped_column_is_found() -> None:
    [why] = found(subject(), tables=(table(columns=(("id", "integer"),)),))
    assert why == "would apply: added column name text to users"


def test_extra_column_is_found_once_then_left_alone_while_the_status_says_so() -> None:
    drifted = (table(columns=(("id", "integer"), ("name", "text"), ("notes", "text"))),)
    [why] = found(subject(), tables=drifted)
    assert "column notes (text) exists in table users" in why
    plan = _plan_for(subject(), drifted)
    reported = ReadyCondition("False", "ColumnRemoved", refusal_message(plan), 1)
    assert found(subject(ready=reported), tables=drifted) == []


def test_changed_key_is_reported_not_replaced() -> None:
    [why] = found(subject(), tables=(table(key=("name",)),))
    assert why.startswith("refused for a new reason: Refused, nothing was applied: "
                          "spec.primaryKey: the primary key of table users is (name)")


def test_status_that_says_refused_is_cleared_once_the_table_matches_again() -> None:
    reported = ReadyCondition("False", "ColumnRemoved", "Refused, nothing was applied: ...", 1)
    assert found(subject(ready=reported)) == ["in sync again (was ColumnRemoved)"]


def test_resources_whose_handlers_are_not_done_are_not_judged() -> None:
    gone = ()
    assert found(subject(generation=2), tables=gone) == []  # a spec change not handled yet
    fresh = ReadyCondition("True", "Reconciled", "", 2)
    assert found(subject(generation=2, ready=fresh), tables=gone) == []  # status not caught up
    assert found(subject(pending=True), tables=gone) == []  # a retry pending
    assert found(subject(deleting=True), tables=gone) == []  # being deleted
    assert found(subject(ready=None), tables=gone) == []  # never handled
    stale = ReadyCondition("True", "Reconciled", "", 0)
    assert found(subject(ready=stale), tables=gone) == []  # condition of an older generation
    for reason in ("LockTimeout", "DatabaseUnavailable"):
        waiting = ReadyCondition("False", reason, "...", 1)
        assert found(subject(ready=waiting), tables=gone) == [], reason
        # ...unless it is the drift handler's own retry (no reconcile record pending).
        assert subject(ready=waiting).settled(own_retry=True)
        assert not subject(ready=waiting, pending=True).settled(own_retry=True)


def test_invalid_spec_is_skipped() -> None:
    invalid = ReadyCondition("False", "Conflict", "...", 1)
    assert found(subject(spec={"tableName": "x"}, ready=invalid), tables=()) == []


def test_conflict_loser_is_found_once_its_name_is_free() -> None:
    other = Owner("ns", "first", "uid-0")
    refused = ReadyCondition("False", "Conflict", "Refused, nothing was applied: ...", 1)
    loser = subject(ready=refused)
    assert found(loser, tables=(table(owner=other),)) != []  # message differs: re-judged
    plan = _plan_for(loser, (table(owner=other),))
    same = ReadyCondition("False", "Conflict", refusal_message(plan), 1)
    assert found(subject(ready=same), tables=(table(owner=other),)) == []
    [why] = found(subject(ready=same), tables=())
    assert "created table users" in why


def test_conflict_loser_is_planned_in_full_not_as_a_repair() -> None:
    refused = ReadyCondition("False", "Conflict", "x", 1)
    mine = table(name="old", key=("name",))
    # Its own table under the old name, key changed in the same spec edit: a plain reconcile.
    [why] = found(subject(ready=refused), tables=(mine,))
    assert "renamed table old to users" in why and "set primary key (id)" in why


def test_permanent_failure_is_retried_as_a_reconcile_once_per_sweep() -> None:
    # A key change that ran into statement_timeout: the sweep retries the spec's key change,
    # and does not call it drift.
    timed_out = ReadyCondition("False", "StatementTimeout", "could not ...", 1)
    [why] = found(subject(ready=timed_out), tables=(table(key=("name",)),))
    assert "dropped primary key (name) of users; set primary key (id) on users" in why


def test_two_tables_with_one_marker_are_handed_to_the_handler_once() -> None:
    both = (table(), table(name="copy"))
    assert found(subject(), tables=both) == ["two tables carry its ownership marker"]
    reported = ReadyCondition("False", "Conflict", "tables copy, users all carry ...", 1)
    assert found(subject(ready=reported), tables=both) == []


def test_name_held_by_an_index_is_a_conflict_for_a_missing_table() -> None:
    [why] = found(subject(), tables=(), blockers={"users": "an index users"})
    assert "the name users is taken by an index users" in why


def test_subject_from_body_reads_generation_status_and_deletion() -> None:
    body = {"metadata": {"namespace": "ns", "name": "users", "uid": "uid-1", "generation": 3,
                         "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "spec": SPEC,
            "status": {"observedGeneration": 3, "conditions": [
                {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "m",
                 "observedGeneration": 3}]}}
    found_subject = subject_from(body, pending=False)
    # A Ready message that is True is not kept: the sweep compares only refusals' messages.
    assert found_subject == Subject.of("ns", "users", "uid-1", 3, SPEC, deleting=True,
                                       observed_generation=3,
                                       ready=ReadyCondition("True", "Reconciled", "", 3))
    assert not found_subject.settled()
    body["metadata"].pop("deletionTimestamp")
    assert subject_from(body, pending=False).settled()
    assert not subject_from(body, pending=True).settled()


def test_subject_spec_is_a_copy_detached_from_the_body() -> None:
    spec = {"tableName": "USERS", "columns": [{"ID": "integer"}], "primaryKey": "ID"}
    copied = subject_from({"metadata": {}, "spec": spec}, pending=False)
    spec["columns"].append({"NAME": "text"})
    assert copied.spec["columns"] == [{"ID": "integer"}]


def test_wanted_names_are_the_folded_table_names() -> None:
    assert wanted_names([subject(), subject(spec={**SPEC, "tableName": "Other"}),
                         subject(spec={"tableName": 5})]) == {"users", "other"}


def test_refusal_message_lists_every_refusal() -> None:
    plan = Plan(refusals=(Refusal(RefusalReason.CONFLICT, "spec.a", "one"),
                          Refusal(RefusalReason.DRIFTED, "spec.b", "two")))
    assert refusal_message(plan) == "Refused, nothing was applied: spec.a: one; spec.b: two"


def _plan_for(s: Subject, tables: tuple[ActualTable, ...]) -> Plan:
    from dbtable.drift import expected_plan

    plan = expected_plan(s, parse_spec(s.spec), _Lookup(CatalogSnapshot(tables)))
    assert isinstance(plan, Plan)
    return plan


def test_judge_is_what_find_drift_uses() -> None:
    assert judge(subject(), parse_spec(SPEC), _Lookup(CatalogSnapshot((table(),)))) is None


def test_two_resources_wanting_each_others_names_one_steps_aside() -> None:
    left, right = Owner("ns", "left", "uid-l"), Owner("ns", "right", "uid-r")

    def refused(owner: Owner, wants: str) -> Subject:
        return Subject.of("ns", owner.name, owner.uid, 2, {**SPEC, "tableName": wants},
                          observed_generation=2,
                       ready=ReadyCondition("False", "Conflict", "unchanged", 2))

    tables = (table("east", owner=left), table("west", owner=right))
    subjects = [refused(left, "west"), refused(right, "east")]
    catalog = CatalogSnapshot(tables)
    # Their statuses already say what a plan would say: only the swap is news.
    same = {s.name: refusal_message(_plan_for(s, tables)) for s in subjects}
    subjects = [replace(s, ready=ReadyCondition("False", "Conflict", same[s.name], 2))
                for s in subjects]
    [finding] = find_drift(subjects, catalog)
    assert (finding.subject.name, finding.park) == ("left", True)
    assert finding.why == "swapping names with ns/right"
    # No cycle (right wants a free name): nobody steps aside, right just converges.
    one_way = [subjects[0], replace(subjects[1], spec_json=encode_spec({**SPEC,
                                                                         "tableName": "north"}))]
    assert [f.park for f in find_drift(one_way, catalog)] == [False]


def test_plan_park_moves_only_its_own_table_away_from_a_name_another_resource_holds() -> None:
    from dbtable.plan import RenameTable, parking_name, plan_park

    me, other = Owner("ns", "left", "uid-l"), Owner("ns", "right", "uid-r")
    wants_west = parse_spec({**SPEC, "tableName": "west"})
    mine, theirs = table("east", owner=me), table("west", owner=other)
    parking = parking_name("west", me)
    assert parking.startswith("west_swapping_") and len(parking.encode()) <= 63
    assert plan_park(wants_west, me, mine, theirs, False) == Plan(
        operations=(RenameTable("east", parking),))
    assert plan_park(wants_west, me, mine, None, False) == Plan()  # the name is free
    assert plan_park(wants_west, me, mine, table("west", owner=None), False) == Plan()
    assert plan_park(wants_west, me, mine, theirs, True) == Plan()  # parking name taken
    assert plan_park(wants_west, me, None, theirs, False) == Plan()  # nothing of its own
    assert plan_park(wants_west, me, table(parking, owner=me), theirs, False) == Plan()
    assert len(parking_name("x" * 63, me).encode()) == 63
