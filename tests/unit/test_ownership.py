"""The table comment: the operator's marker beside the users' text, and a DBA's consent."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dbtable.ownership import Marker, Owner, TableComment, retained_name

OWNER = Owner("hr", "payroll", "0b1c-77")


def test_marker_line_is_found_beside_the_users_text() -> None:
    comment = TableComment.parse("HR: do not touch\nsecond line\n" + OWNER.marker())
    assert comment.marker == Marker(OWNER)
    assert comment.user_text == "HR: do not touch\nsecond line"
    assert Owner.from_marker("HR: do not touch\n" + OWNER.marker()) == OWNER


def test_marking_keeps_the_users_text_and_unmarking_gives_it_back() -> None:
    marked = TableComment(user_text="HR: do not touch").with_marker(Marker(OWNER))
    assert marked == "HR: do not touch\n" + OWNER.marker()
    assert TableComment.parse(marked).user_text == "HR: do not touch"
    assert TableComment().with_marker(Marker(OWNER)) == OWNER.marker()


def test_a_marker_written_before_the_users_text_is_still_found() -> None:
    comment = TableComment.parse(OWNER.marker() + "\nadded later by a DBA")
    assert comment.marker == Marker(OWNER) and comment.user_text == "added later by a DBA"


def test_consent_names_the_resource_allowed_to_adopt() -> None:
    assert OWNER.consent() == '{"databaseTableOperator": {"adoptBy": "hr/payroll"}}'
    comment = TableComment.parse("HR: do not touch\n" + OWNER.consent())
    assert comment.adopt_by == "hr/payroll" and comment.marker is None
    assert comment.user_text == "HR: do not touch"
    # Spent by the adoption: the marker replaces it.
    assert comment.with_marker(Marker(OWNER, adopted=True)) == (
        'HR: do not touch\n{"adopted": true, "managedBy": "database-table-operator", '
        '"name": "payroll", "namespace": "hr", "uid": "0b1c-77"}')


def test_consent_pretty_printed_over_several_lines_counts() -> None:
    assert TableComment.parse('{\n  "databaseTableOperator": {"adoptBy": "hr/payroll"}\n}'
                              ).adopt_by == "hr/payroll"


@pytest.mark.parametrize("comment", [
    None, "", "users of the website", "{}", "[1]", '{"databaseTableOperator": "hr/payroll"}',
    '{"databaseTableOperator": {"adoptBy": "payroll"}}',
    '{"databaseTableOperator": {"adoptBy": ["hr/payroll"]}}',
])
def test_other_text_is_no_consent(comment: str | None) -> None:
    assert TableComment.parse(comment).adopt_by is None


def test_adopted_and_retained_round_trip() -> None:
    marker = Marker(OWNER, adopted=True, retained_until="2026-11-27T05:00:00Z")
    assert TableComment.parse("note\n" + marker.text()).marker == marker
    assert Owner.from_marker(marker.text()) == OWNER


def test_owner_with_another_uid_is_the_same_resource() -> None:
    assert OWNER.same_resource(Owner("hr", "payroll", "a-new-uid"))
    assert not OWNER.same_resource(Owner("hr", "payroll-2", OWNER.uid))
    assert not OWNER.same_resource(None)


def test_retained_name_fits_63_bytes_and_differs_per_resource_and_moment() -> None:
    until = datetime(2026, 11, 28, 5, 0, 0, tzinfo=timezone.utc)
    long = "x" * 63
    name = retained_name(long, OWNER, until)
    assert len(name.encode()) <= 63 and name.startswith("x" * 20)
    assert "_retained_20261128050000_" in name
    assert name != retained_name(long, Owner("hr", "payroll", "other-uid"), until)
    assert name != retained_name(long, OWNER, until.replace(second=1))
    assert retained_name("payroll", OWNER, until).startswith("payroll_retained_")


@settings(max_examples=500)
@given(text=st.text(), adopted=st.booleans())
def test_any_users_text_survives_marking_and_release(text: str, adopted: bool) -> None:
    users = TableComment.parse(text)
    assume(users.marker is None and users.adopt_by is None)  # text that is not ours
    assert users.user_text == (text or None)
    marker = Marker(OWNER, adopted=adopted)
    parsed = TableComment.parse(users.with_marker(marker))
    assert parsed == TableComment(user_text=text or None, marker=marker)
