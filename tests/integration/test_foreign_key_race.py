"""The race left by design: a row committed between the orphan count and ADD ... NOT VALID.

The key is then in the table NOT VALID (new and changed rows checked, that row not), and
VALIDATE would fail on it. Reproduced without timing: the orphan is inserted, then the very
statements the operator renders for the addition (AddForeignKey, MarkForeignKey) run, as they
would have right after a count of zero. The next reconcile must refuse as OrphansPresent and
say that the key exists but is not validated, and validate it once the row is fixed."""
from __future__ import annotations

from typing import Any

import psycopg2
import pytest

from dbtable.fk_operations import AddForeignKey, MarkForeignKey, ValidateForeignKey
from dbtable.plan import RefusalReason
from dbtable.render import render
from dbtable.reporting import foreign_key_status
from dbtable.spec import parse_spec
from tests.support.foreign_key_tables import FK, ORDERS, converge, customers, keys, orders, run

pytestmark = pytest.mark.integration
__all__ = ["customers", "orders"]  # the fixtures, from tests/support/foreign_key_tables.py


def test_a_row_committed_before_the_not_valid_key_is_reported_as_not_validated(
        conn: Any, settings: Any, orders: None) -> None:
    spec = {**ORDERS, "foreignKeys": [FK]}
    (key,) = parse_spec(spec).foreign_keys
    run(conn, settings, "INSERT INTO {o} VALUES (101, 77, 'committed in the window')")
    with conn, conn.cursor() as cur:  # the operator's own statements, after a count of 0
        for statement in render([AddForeignKey("orders", key),
                                 MarkForeignKey("orders", key.name)], settings.schema):
            cur.execute(statement)
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):  # new rows are checked
        run(conn, settings, "INSERT INTO {o} VALUES (102, 78, 'x')")

    (outcome,) = converge(conn, settings, spec)
    (refusal,) = outcome.plan.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.ORPHANS_PRESENT,
                                               "spec.foreignKeys[0].columns")
    assert f"foreign key {key.name} exists but is not validated (NOT VALID)" in refusal.message
    assert "1 row(s) of table orders" in refusal.message
    assert outcome.statements == ()
    (found,) = keys(conn, settings)
    assert foreign_key_status(found)["validated"] is False and found.managed

    run(conn, settings, "DELETE FROM {o} WHERE id = 101")
    (fixed,) = converge(conn, settings, spec)
    assert [type(op) for op in fixed.applied] == [ValidateForeignKey]
    assert [k.validated for k in keys(conn, settings)] == [True]
