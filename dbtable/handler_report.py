"""What a handler call tells the user (an edge: Kopf's Events and patches): one Event per
applied change, the status and Warning Events through a Reporter, and a database failure
turned into the Ready condition and Kopf's retry."""
from __future__ import annotations

import logging

import kopf

from dbtable.column_operations import (AddNotNullCheck, DropColumn, DropDefault, DropNotNull,
                                       DropNotNullCheck, RenameColumn, RenameNotNullCheck,
                                       SetDefault, SetNotNull, ValidateNotNullCheck)
from dbtable.failures import MAX_RETRY_DELAY, classify, retry_delay
from dbtable.fk_operations import (AddForeignKey, AddValidForeignKey, DropForeignKey,
                                   MarkForeignKey, RenameForeignKey, ValidateForeignKey)
from dbtable.index_operations import (BuildReplacement, CreateIndex, CreateIndexWithTable,
                                      DropFailedIndex, DropIndex, MarkIndex, PlaceIndex,
                                      RenameIndex)
from dbtable.model import Owner
from dbtable.plan import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey, DropTable,
                          MarkOwned, MarkRetained, Plan, ReclaimTable, RenameTable, Unmark)
from dbtable.reporting import Reporter
from dbtable.type_operations import RecheckColumnType, RewriteColumnType, WidenColumnType
from dbtable.unique_operations import (AddUniqueWithTable, AttachUniqueConstraint,
                                       CreateUniqueIndex, DropUniqueConstraint, DropUniqueIndex,
                                       RenameUniqueConstraint)

# Event reasons for applied operations, as `kubectl describe` shows them.
EVENT_REASONS: dict[type, str] = {
    CreateTable: "TableCreated", RenameTable: "TableRenamed", AddColumn: "ColumnAdded",
    DropPrimaryKey: "PrimaryKeyChanged", AddPrimaryKey: "PrimaryKeyChanged",
    MarkOwned: "TableAdopted", Unmark: "TableRetained", DropTable: "TableDropped",
    ReclaimTable: "TableReclaimed", MarkRetained: "TableSetAside",
    RenameColumn: "ColumnRenamed", DropColumn: "ColumnDropped", SetDefault: "DefaultChanged",
    DropDefault: "DefaultChanged", DropNotNull: "NullabilityChanged",
    AddNotNullCheck: "NullabilityChanging", ValidateNotNullCheck: "NullabilityChanging",
    SetNotNull: "NullabilityChanged", DropNotNullCheck: "NullabilityChanged",
    CreateUniqueIndex: "UniqueChanging", AttachUniqueConstraint: "UniqueChanged",
    DropUniqueConstraint: "UniqueChanged", DropUniqueIndex: "UniqueChanging",
    AddUniqueWithTable: "UniqueChanged", RenameUniqueConstraint: "UniqueRenamed",
    WidenColumnType: "ColumnTypeChanged", RecheckColumnType: "ColumnTypeChanged",
    RewriteColumnType: "ColumnTypeChanged", RenameNotNullCheck: "NullabilityChanging",
    CreateIndex: "IndexCreated", CreateIndexWithTable: "IndexCreated",
    BuildReplacement: "IndexRebuilding", MarkIndex: "IndexMarked", RenameIndex: "IndexRenamed",
    PlaceIndex: "IndexCreated",
    DropIndex: "IndexDropped", DropFailedIndex: "IndexDropped",
    AddForeignKey: "ForeignKeyAdded", AddValidForeignKey: "ForeignKeyAdded",
    MarkForeignKey: "ForeignKeyAdopted", ValidateForeignKey: "ForeignKeyValidated",
    DropForeignKey: "ForeignKeyDropped", RenameForeignKey: "ForeignKeyRenamed",
}


def owner_of(body: kopf.Body) -> Owner:
    return Owner(namespace=body.metadata.namespace or "", name=body.metadata.name or "",
                 uid=body.metadata.uid or "")


def reporter(body: kopf.Body, status: kopf.Status, patch: kopf.Patch,
             memo: kopf.Memo) -> Reporter:
    """The status and Warning Events of this resource, for one handler call."""
    def post(type_: str, reason: str, message: str) -> None:
        kopf.event(body, type=type_, reason=reason, message=message)

    return Reporter(status, patch.status, body.meta.get("generation"), post, memo.events,
                    body.metadata.uid or (body.metadata.namespace, body.metadata.name))


def announce(body: kopf.Body, plan: Plan, logger: logging.Logger) -> None:
    """One info log line and one Event per applied change."""
    creating = any(isinstance(op, CreateTable) for op in plan.operations)
    added = {op.name for op in plan.operations if isinstance(op, AddForeignKey)}
    for op in plan.operations:
        if creating and isinstance(op, MarkOwned):
            continue  # part of creating the table, not news of its own
        if isinstance(op, MarkForeignKey) and op.name in added:
            continue  # part of adding the key

        logger.info("%s.", op.describe().capitalize())
        kopf.info(body, reason=EVENT_REASONS[type(op)], message=op.describe())


def raise_classified(error: Exception, report: Reporter, retry: int, memo: kopf.Memo,
                     logger: logging.Logger, action: str, deleting: bool = False) -> None:
    """Turn a database failure into the Ready condition, one Warning and Kopf's retry.

    Permanent failures are not retried with backoff (the next spec change, drift sweep or
    restart tries again), except while deleting: a permanent failure there would make Kopf
    release the finalizer and leave the table behind unmanaged, so deletion keeps trying at
    the longest backoff, visibly Terminating.
    """
    failure = classify(error, action, memo.database.statement_timeout_ms)
    if failure is None:
        raise error
    report.failed(failure.reason, failure.message)
    if failure.permanent and not deleting:
        logger.error("%s; not retried until the spec changes.", failure.message)
        raise kopf.PermanentError(failure.message) from None
    delay = MAX_RETRY_DELAY if failure.permanent else retry_delay(retry)
    logger.warning("%s; retrying in %ss.", failure.message, delay)
    raise kopf.TemporaryError(failure.message, delay=delay) from None
