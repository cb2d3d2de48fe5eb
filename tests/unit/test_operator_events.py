"""Every operation a plan can hold is announced with an Event reason of its own."""
from __future__ import annotations

import typing

from dbtable.handler_report import EVENT_REASONS
from dbtable.operations import Operation


def test_every_operation_has_an_event_reason() -> None:
    operations = set(typing.get_args(Operation))
    assert operations and operations <= set(EVENT_REASONS)
    assert EVENT_REASONS[typing.get_args(Operation)[0]] == "TableCreated"


def test_ownership_changes_have_distinct_reasons() -> None:
    from dbtable.operations import MarkOwned, MarkRetained, ReclaimTable, Unmark

    reasons = [EVENT_REASONS[op] for op in (MarkOwned, ReclaimTable, MarkRetained, Unmark)]
    assert reasons == ["TableAdopted", "TableReclaimed", "TableSetAside", "TableRetained"]
