"""Which failures are retried on a timer and which wait for a change, class by class."""
from __future__ import annotations

import psycopg2
import psycopg2.errors as pgerrors
import pytest

from dbtable.catalog import AmbiguousOwnership
from dbtable.database import ServerSilent
from dbtable.pool import PoolTimeout
from dbtable.failures import Failure, classify, retry_delay

ACTION = "apply the spec"


def failure_of(error: BaseException) -> Failure:
    failure = classify(error, ACTION, statement_timeout_ms=60000)
    assert failure is not None
    return failure


# Only a change can help: the spec (a name, a type, a key), the database's definitions or
# grants, or the operator's settings. Retrying the same statement fails the same way.
PERMANENT = [
    pytest.param(pgerrors.DuplicateColumn('column name "xmin" conflicts with a system column'),
                 id="42701 column named xmin"),
    pytest.param(pgerrors.UndefinedObject('type "nosuchtype" does not exist'),
                 id="42704 unknown type"),
    pytest.param(pgerrors.UndefinedObject("data type point has no default operator class for "
                                          'access method "btree"'),
                 id="42704 key on point"),
    pytest.param(pgerrors.InsufficientPrivilege("permission denied for schema public"),
                 id="42501 privileges"),
    pytest.param(pgerrors.SyntaxError("syntax error"), id="42601 syntax"),
    pytest.param(pgerrors.DuplicateObject('relation "t_pkey" already exists'),
                 id="42710 constraint name taken"),
    pytest.param(pgerrors.InvalidParameterValue("length for type varchar must be at least 1"),
                 id="22023 bad modifier"),
    pytest.param(pgerrors.TooManyColumns("tables can have at most 1600 columns"),
                 id="54011 too many columns"),
    pytest.param(pgerrors.FeatureNotSupported("not supported"), id="0A000"),
    pytest.param(pgerrors.InvalidSchemaName('schema "nope" does not exist'),
                 id="3F000 schema missing"),
]

# The same statement may succeed later with nothing changed, or after a fix of the data.
TEMPORARY = [
    pytest.param(pgerrors.LockNotAvailable("canceling statement due to lock timeout"),
                 "LockTimeout", id="55P03 lock_timeout"),
    pytest.param(pgerrors.AdminShutdown("terminating connection due to administrator command"),
                 "DatabaseUnavailable", id="57P01 shutdown"),
    pytest.param(pgerrors.CannotConnectNow("the database system is starting up"),
                 "DatabaseUnavailable", id="57P03 starting"),
    pytest.param(pgerrors.ConnectionFailure("connection failure"), "DatabaseUnavailable",
                 id="08006"),
    pytest.param(psycopg2.OperationalError("server closed the connection unexpectedly"),
                 "DatabaseUnavailable", id="no SQLSTATE: connection lost"),
    pytest.param(psycopg2.InterfaceError("connection already closed"), "DatabaseUnavailable",
                 id="InterfaceError"),
    pytest.param(ServerSilent("the server did not answer within 70 s"), "DatabaseUnavailable",
                 id="server silent"),
    pytest.param(PoolTimeout("all 4 database connections stayed busy for 70 s"),
                 "DatabaseUnavailable", id="pool busy"),
    pytest.param(pgerrors.UniqueViolation('could not create unique index "t_pkey"'),
                 "ApplyFailed", id="23505 duplicates under a new key"),
    pytest.param(pgerrors.NotNullViolation('column "id" contains null values'), "ApplyFailed",
                 id="23502 NULLs under a new key"),
    pytest.param(pgerrors.DeadlockDetected("deadlock detected"), "ApplyFailed", id="40P01"),
    pytest.param(pgerrors.SerializationFailure("could not serialize"), "ApplyFailed",
                 id="40001"),
    pytest.param(pgerrors.DiskFull("could not extend file"), "ApplyFailed", id="53100"),
    pytest.param(pgerrors.TooManyConnections("too many clients"), "ApplyFailed", id="53300"),
    pytest.param(pgerrors.ReadOnlySqlTransaction("read-only transaction"), "ApplyFailed",
                 id="25006 standby after failover"),
    pytest.param(pgerrors.DependentObjectsStillExist("view v depends on table t"),
                 "ApplyFailed", id="2BP01 a view blocks DROP TABLE"),
    pytest.param(pgerrors.UndefinedTable('relation "t" does not exist'), "ApplyFailed",
                 id="42P01 dropped concurrently"),
    pytest.param(pgerrors.DuplicateTable('relation "t" already exists'), "ApplyFailed",
                 id="42P07 created concurrently"),
    pytest.param(pgerrors.QueryCanceled("canceling statement due to user request"),
                 "ApplyFailed", id="57014 cancelled by an admin"),
    pytest.param(pgerrors.InternalError("cache lookup failed"), "ApplyFailed", id="XX000"),
]


@pytest.mark.parametrize("error", PERMANENT)
def test_errors_only_a_change_can_fix_are_permanent(error: psycopg2.Error) -> None:
    failure = failure_of(error)
    assert failure.permanent
    assert failure.reason == "ApplyFailed"
    assert str(error) in failure.message
    assert "until the spec or the database changes" in failure.message


@pytest.mark.parametrize(("error", "reason"), TEMPORARY)
def test_errors_that_may_pass_by_themselves_are_temporary(error: BaseException,
                                                          reason: str) -> None:
    failure = failure_of(error)
    assert not failure.permanent
    assert failure.reason == reason


def test_statement_timeout_is_permanent_and_says_what_to_raise() -> None:
    failure = failure_of(pgerrors.QueryCanceled("canceling statement due to statement timeout"))
    assert failure.permanent
    assert failure.reason == "StatementTimeout"
    assert "statement_timeout (60 s)" in failure.message
    assert "DBT_STATEMENT_TIMEOUT_MS" in failure.message


def test_ambiguous_ownership_is_a_permanent_conflict() -> None:
    failure = failure_of(AmbiguousOwnership("tables a, b all carry the ownership marker"))
    assert failure.permanent and failure.reason == "Conflict"
    assert failure.message == f"could not {ACTION}: tables a, b all carry the ownership marker"


def test_other_exceptions_are_not_classified() -> None:
    assert classify(KeyError("bug"), ACTION, statement_timeout_ms=1000) is None


def test_messages_carry_no_retry_delay() -> None:
    """A message that changes with each retry makes each retry a new Event."""
    for param in PERMANENT + TEMPORARY:
        assert "retrying" not in failure_of(param.values[0]).message


def test_postgres_message_without_detail_is_quoted() -> None:
    failure = failure_of(pgerrors.InsufficientPrivilege("permission denied\nDETAIL: more"))
    assert failure.message.endswith("permission denied (SQLSTATE 42501); it will fail the same "
                                    "way until the spec or the database changes")


def test_retry_delay_doubles_from_5s_to_300s() -> None:
    assert [retry_delay(r) for r in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert retry_delay(10_000) == 300
