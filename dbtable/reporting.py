"""The Ready condition, the applied state and Warning Events of one resource (no Kopf here).

Warnings follow the condition, not the attempts: a failure that is retried (a lock held for
40 s, an outage) posts one Warning when the Ready condition changes to it, not one per retry.
On top of that, ``EventGate`` drops repeats of the same warning on the same object within a
window, so a condition that flaps (DatabaseUnavailable, LockTimeout, DatabaseUnavailable, ...)
during an outage with 1,000 resources does not flood the API server with Events.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from typing import Any

from dbtable.conditions import set_condition
from dbtable.index_model import ActualIndex
from dbtable.fk_model import ActualForeignKey
from dbtable.model import ActualColumn, ActualTable
from dbtable.plan import Operation, Plan

# (type "Normal" | "Warning", reason, message): posts one Event about this resource.
PostEvent = Callable[[str, str, str], None]


class EventGate:
    """Lets a given (object, reason, message) through at most once per ``window`` seconds.

    Thread-safe (handlers run in a thread pool) and bounded: the oldest keys are forgotten
    first, so memory does not grow with the number of objects ever seen.
    """

    def __init__(self, window: float, max_keys: int = 20000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window, self._max_keys, self._clock = window, max_keys, clock
        self._last: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: Hashable) -> bool:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.window:
                return False
            self._last[key] = now
            self._last.move_to_end(key)
            while len(self._last) > self._max_keys:
                self._last.popitem(last=False)
            return True


class Reporter:
    """Writes the Ready condition and the applied state into a status patch, and posts the
    Warnings that go with a change of the condition."""

    def __init__(self, status: Mapping[str, Any], patch_status: MutableMapping[str, Any],
                 generation: int | None, post: PostEvent, gate: EventGate,
                 object_key: Hashable) -> None:
        self.status, self.patch_status, self.generation = status, patch_status, generation
        self._post, self._gate, self._key = post, gate, object_key

    def _ready(self) -> Mapping[str, Any] | None:
        return next((c for c in self.status.get("conditions") or () if c.get("type") == "Ready"),
                    None)

    def current_message(self) -> str | None:
        ready = self._ready()
        return ready.get("message") if ready else None

    def is_current(self, status: str, reason: str, message: str) -> bool:
        """The Ready condition already says exactly this about the current generation."""
        ready = self._ready()
        return bool(ready) and (ready.get("status"), ready.get("reason"), ready.get("message"),
                                ready.get("observedGeneration")) == (status, reason, message,
                                                                     self.generation)

    def _condition(self, status: str, reason: str, message: str) -> None:
        self.patch_status["conditions"] = set_condition(
            self.status.get("conditions"), type="Ready", status=status, reason=reason,
            message=message, generation=self.generation)
        self.patch_status["observedGeneration"] = self.generation

    def failed(self, reason: str, message: str,
               warnings: list[tuple[str, str]] | None = None) -> None:
        """Ready False; post ``warnings`` (default: one with the condition's own reason and
        message) only if the condition changes with this, each subject to the gate."""
        changed = not self.is_current("False", reason, message)
        self._condition("False", reason, message)
        if changed:
            for event_reason, event_message in warnings or [(reason, message)]:
                self.warn(event_reason, event_message)

    def warn(self, reason: str, message: str) -> None:
        """A Warning Event, unless the same one was posted on this object within the window."""
        if self._gate.allow((self._key, reason, message)):
            self._post("Warning", reason, message)

    def ready(self, table: ActualTable | None, plan: Plan) -> None:
        if not plan.operations and self._describes(table):
            # A resume or a re-check that changed nothing: an empty patch makes Kopf send no
            # PATCH, and a restart with 1,000 resources in place writes nothing at all.
            return
        changes = "; ".join(op.describe() for op in plan.operations) or "no changes needed"
        self._condition("True", "Reconciled", f"Table is up to date ({changes})")
        self._applied(table)

    def reconciling(self, table: ActualTable | None, applied: Plan, step: Operation) -> None:
        """Ready False while a change goes on in steps; the message names the next step."""
        done = "; ".join(op.describe() for op in applied.operations) or "nothing yet"
        self._condition("False", "Reconciling",
                        f"Applying the spec in steps; in progress: {step_name(step)}; "
                        f"applied so far: {done}")
        self._applied(table)

    def _describes(self, table: ActualTable | None) -> bool:
        """The status already says Ready for the current generation, about exactly ``table``."""
        ready = self._ready() or {}
        if (ready.get("status"), ready.get("reason"), ready.get("observedGeneration"),
                self.status.get("observedGeneration")) != ("True", "Reconciled",
                                                           self.generation, self.generation):
            return False
        fields: dict[str, Any] = {}
        self._applied(table, into=fields)
        return all(self.status.get(key) == value for key, value in fields.items())

    def _applied(self, table: ActualTable | None,
                 into: MutableMapping[str, Any] | None = None) -> None:
        target = self.patch_status if into is None else into
        if table is not None:
            target["tableName"] = table.name
            target["columns"] = [_column_status(c) for c in table.columns]
            target["primaryKey"] = list(table.primary_key)
            target["uniqueConstraints"] = [
                {"name": name, "columns": list(columns)} for name, columns in table.uniques]
            target["indexes"] = [index_status(i) for i in table.indexes]
            target["foreignKeys"] = [foreign_key_status(fk) for fk in table.foreign_keys]


def step_name(op: Operation) -> str:
    """``ValidateNotNullCheck on orders.status (SHARE UPDATE EXCLUSIVE lock)``;
    ``ValidateForeignKey dbt_fk_... on orders (...)`` for a step on a named constraint."""
    column = getattr(op, "column", None)
    where = op.table + (f".{column}" if isinstance(column, str) else "")
    index = getattr(op, "name", None) if column is None else None
    what = f"{type(op).__name__} {index}" if isinstance(index, str) else type(op).__name__
    return f"{what} on {where} ({op.lock} lock)"


def index_status(index: ActualIndex) -> dict[str, Any]:
    """One index as the catalog has it; ``managed``: the operator's own (it may drop it)."""
    return {"name": index.name, "columns": list(index.columns), "method": index.method,
            "unique": index.unique, "valid": index.valid, "managed": index.managed}


def foreign_key_status(fk: ActualForeignKey) -> dict[str, Any]:
    """One key as the catalog has it; ``managed`` false: made by hand, never dropped."""
    references = {"schema": fk.ref_schema, "table": fk.ref_table,
                  "columns": list(fk.ref_columns)}
    return {"name": fk.name, "columns": list(fk.columns), "references": references,
            "onDelete": fk.on_delete.value, "onUpdate": fk.on_update.value,
            "validated": fk.validated, "managed": fk.managed}


def _column_status(column: ActualColumn) -> dict[str, Any]:
    status: dict[str, Any] = {"name": column.name, "type": column.type,
                              "nullable": not column.not_null}
    if column.default is not None:
        status["default"] = column.default
    return status
