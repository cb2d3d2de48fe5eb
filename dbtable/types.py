"""The column types a DatabaseTable may ask for, parsed by a strict grammar.

A column's type arrives as free text from a user's YAML (``USER_NAME: varchar(50)``) and
ends up in DDL, so it is the one place where user text would otherwise meet SQL. This
module accepts exactly a PostgreSQL type name with optional modifiers and array brackets,
and refuses everything else (constraints, defaults, collations, comments, quotes, ...).
The user's text is never copied into SQL: ``ColumnType.sql()`` is rebuilt from the parsed
structure, with keywords from this module's own tables, modifiers as ``int`` and
user-defined type names through ``sql.Identifier``.

``ColumnType.canonical`` is what PostgreSQL's ``format_type(atttypid, atttypmod)`` prints
for a column of a built-in type (the integration tests hold the server to that). What a
user-defined name means (``_int4`` is ``integer[]``; ``mood`` is whichever ``mood`` the
search_path finds first) only the server knows: at reconcile time dbtable/resolve.py asks it,
passing ``ColumnType.lookup`` as a query parameter, and the planner compares type oids. The
grammar stays the gate that decides what text may reach SQL at all.

The module is pure: no database access, no I/O.
"""

from __future__ import annotations

# Split by concern; every public name stays importable from here.
from dbtable.column_type import ColumnType  # noqa: F401  (the value, its DDL and catalog form)
from dbtable.type_admission import ADMISSION_PATTERN  # noqa: F401  (the CRD's pattern)
from dbtable.type_grammar import parse_type  # noqa: F401  (the grammar)
from dbtable.type_words import (MAX_ARRAY_BOUND, MAX_ARRAY_DIMENSIONS,  # noqa: F401
                                MAX_BIT_LENGTH, MAX_CHAR_LENGTH, MAX_FLOAT4_BITS,
                                MAX_FLOAT_BITS, MAX_NUMBER_DIGITS, MAX_NUMERIC_PRECISION,
                                MAX_NUMERIC_SCALE, MAX_TIME_PRECISION, MAX_TYPE_LENGTH,
                                MAX_USER_TYPE_MODIFIERS, TypeSyntaxError)
