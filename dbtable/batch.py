"""Several statements in one round trip (an edge: it takes a cursor).

Each round trip is taken in a handler thread, and the Python around it (the wait callback,
decoding) holds the GIL the Kopf event loop needs (issue 10). Statements that would be sent
one after another anyway can travel as one Query message: the server runs them in order, in
the caller's transaction, and the first error stops the rest and is raised, exactly as if
they had been sent one by one. Only the last statement's rows can be fetched.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

from psycopg2.extensions import encodings

# SQL text sent as it is (a statement rendered by dbtable/render.py with Identifiers and
# Literals), or a query with its parameters, bound by psycopg2 as cursor.execute would.
Part = Union[str, tuple[str, Union[Mapping[str, Any], Sequence[Any]]]]


def send(cur: Any, *parts: Part) -> None:
    """Run ``parts`` in order in one round trip; the caller fetches the last one's rows."""
    codec = encodings[cur.connection.encoding]
    texts = [part if isinstance(part, str) else cur.mogrify(*part).decode(codec)
             for part in parts]
    cur.execute(";\n".join(texts))  # no parameters: psycopg2 leaves every '%' as it is
