"""Several statements in one round trip (an edge: it takes a cursor).

Each round trip is taken in a handler thread, and the Python around it (the wait callback,
decoding) holds the GIL the Kopf event loop needs (issue 10). Statements that would be sent
one after another anyway can travel as one Query message: the server runs them in order, in
the caller's transaction, and the first error stops the rest and is raised, exactly as if
they had been sent one by one. Only the last statement's rows can be fetched.
"""
from __future__ import annotations

import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from psycopg2.extensions import encodings

# SQL text sent as it is (a statement rendered by dbtable/render.py with Identifiers and
# Literals), or a query with its parameters, bound by psycopg2 as cursor.execute would.
Part = Union[str, tuple[str, Union[Mapping[str, Any], Sequence[Any]]]]


def send(cur: Any, *parts: Part, prepare: Sequence[Prepared] = ()) -> None:
    """Run ``parts`` in order in one round trip; the caller fetches the last one's rows.
    ``prepare``: statements ``parts`` EXECUTE; those this session has not prepared yet are
    PREPAREd first, in the same round trip."""
    codec = encodings[cur.connection.encoding]
    done = _PREPARED.setdefault(cur.connection, set())
    needed = [statement for statement in prepare if statement.name not in done]
    texts = [statement.prepare() for statement in needed] + [
        part if isinstance(part, str) else cur.mogrify(*part).decode(codec) for part in parts]
    try:
        cur.execute(";\n".join(texts))  # no parameters: psycopg2 leaves every '%' as it is
    finally:
        # The PREPAREs ran first, and a rollback keeps them: a later statement's error (a lock
        # timeout) leaves them prepared. A lost connection is never used again.
        done.update(statement.name for statement in needed)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
# The statements each session has prepared: PREPARE outlives the transaction it ran in (a
# rollback keeps it), so a statement counts as prepared once its PREPARE was sent first.
_PREPARED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Prepared:
    """A large catalog query that PostgreSQL plans once per session instead of at every call.

    The reconcile's catalog reads are one statement of many subqueries (issue 10): planning it
    cost more than running it (about 3 ms against 1 to 3 ms, EXPLAIN's Planning and Execution
    Time), at every reconcile. ``query`` is written with psycopg2's ``%(name)s`` placeholders;
    ``types`` gives each its SQL type, in the order of the PREPARE's ``$1, $2, ...`` (``name``
    for what a catalog index is looked up by, so the plan can use it)."""

    name: str
    query: str
    types: tuple[tuple[str, str], ...]

    def prepare(self) -> str:
        number = {param: f"${i}" for i, (param, _) in enumerate(self.types, 1)}
        body = _PLACEHOLDER.sub(lambda m: number[m[1]] if m[1] else "%", self.query)
        return f"PREPARE {self.name}({', '.join(t for _, t in self.types)}) AS {body}"

    def execute(self, params: Mapping[str, Any]) -> Part:
        """Run it (in a session that has prepared it: ``preparing``)."""
        return (f"EXECUTE {self.name}({', '.join(f'%({p})s' for p, _ in self.types)})", params)

    def plain(self, params: Mapping[str, Any]) -> Part:
        """The same query, planned at this call (for a one-off, such as the plan command)."""
        return self.query, params
