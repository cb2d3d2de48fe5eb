"""The type changes the planner makes, one row per rule: (the column's type as the catalog
prints it, the type as the spec writes it). Shared by the unit tests (the rules) and the
integration tests (each rule proven on the server)."""
from __future__ import annotations

WIDEN = [
    ("character varying(10)", "varchar(20)"), ("character varying(10)", "varchar"),
    ("character varying(10)", "text"), ("character varying", "text"),
    ("text", "varchar"), ("numeric(10,2)", "numeric(12,2)"), ("numeric(10,2)", "numeric"),
    ("numeric(5,-2)", "numeric(7,-2)"), ("bit varying(5)", "varbit(8)"),
    ("bit varying(5)", "varbit"),
    ("timestamp(3) without time zone", "timestamp(6)"),
    ("timestamp(3) without time zone", "timestamp"),
    ("timestamp without time zone", "timestamp(6)"),
    ("timestamp(3) with time zone", "timestamptz(5)"),
    ("timestamp(3) with time zone", "timestamptz"),
    ("time(2) without time zone", "time(4)"), ("time(2) without time zone", "time"),
    ("time(2) with time zone", "timetz(4)"), ("time(2) with time zone", "timetz"),
    ("interval(2)", "interval(4)"), ("interval(2)", "interval"), ("interval", "interval(6)"),
    ("interval day to second(2)", "interval day to second(4)"),
    ("interval minute to second(1)", "interval minute to second"),
    ("cidr", "inet"),
]
REWRITE = [
    ("smallint", "integer"), ("smallint", "bigint"), ("integer", "bigint"),
    ("real", "double precision"), ("smallint", "numeric"), ("integer", "numeric"),
    ("bigint", "numeric"), ("smallint", "numeric(5,0)"), ("integer", "numeric(12,2)"),
    ("bigint", "numeric(19,0)"), ("numeric(10,2)", "numeric(12,3)"),
    ("numeric(5,-2)", "numeric(7,0)"),
]
