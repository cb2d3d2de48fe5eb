"""The ownership marker and status conditions."""
from __future__ import annotations

from dbtable.conditions import set_condition
from dbtable.model import Owner
from dbtable.ownership import Marker


def test_marker_round_trips() -> None:
    owner = Owner("default", "website-users", "0b1c")
    assert Owner.from_marker(owner.marker()) == owner


def test_foreign_comments_are_not_markers() -> None:
    for comment in (None, "", "users of the website", "{}", "[1]",
                    '{"managedBy": "someone-else", "namespace": "a", "name": "b", "uid": "c"}',
                    '{"managedBy": "database-table-operator", "namespace": "a", "name": "b"}'):
        assert Owner.from_marker(comment) is None


def test_condition_transition_time_moves_only_when_status_changes() -> None:
    first = set_condition(None, type="Ready", status="False", reason="A", message="m",
                          generation=1, timestamp="t1")
    same = set_condition(first, type="Ready", status="False", reason="B", message="n",
                         generation=2, timestamp="t2")
    flipped = set_condition(same, type="Ready", status="True", reason="C", message="o",
                            generation=3, timestamp="t3")
    assert same[0]["lastTransitionTime"] == "t1" and same[0]["reason"] == "B"
    assert flipped == [{"type": "Ready", "status": "True", "reason": "C", "message": "o",
                        "lastTransitionTime": "t3", "observedGeneration": 3}]


def test_other_conditions_are_kept() -> None:
    other = {"type": "Drifted", "status": "False", "reason": "X", "message": "",
             "lastTransitionTime": "t0"}
    result = set_condition([other], type="Ready", status="True", reason="R", message="",
                           generation=None, timestamp="t1")
    assert [c["type"] for c in result] == ["Drifted", "Ready"]


def test_marker_fragment_names_namespace_and_name_in_every_marker_of_the_resource() -> None:
    owner = Owner("team-a", "orders.v2", "6c1d-ef")
    assert owner.marker_fragment() == '"name": "orders.v2", "namespace": "team-a"'
    for marker in (owner.marker(), Owner("team-a", "orders.v2", "other-uid").marker(),
                   Marker(owner, adopted=True, retained_until="2026-01-01T00:00:00Z").text()):
        assert owner.marker_fragment() in marker
