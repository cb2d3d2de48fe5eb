"""The drift sweep's index as Kopf keeps it: one store for every resource (issue 10's memory
at 10,000), and the sweep reading back exactly the subjects the handler made."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import kopf
from kopf._core.engines.indexing import OperatorIndexer  # the store Kopf files results in

from database_table_operator import tables
from dbtable.drift import Subject, subject_from
from tests.support.seed import seed_spec


def raw(n: int) -> dict[str, Any]:
    return json.loads(json.dumps({  # as the watch delivers it
        "metadata": {"namespace": "ns", "name": f"t{n}", "uid": f"uid-{n}", "generation": 1},
        "spec": {**seed_spec(), "tableName": f"T{n}"}}))


def indexed(count: int) -> OperatorIndexer:
    indexer = OperatorIndexer()
    for n in range(count):
        body = kopf.Body(raw(n))
        result = asyncio.run(tables(body=body, memo=kopf.Memo(), logger=logging.getLogger()))
        indexer.replace(("ns", f"t{n}", f"uid-{n}"), result)
    return indexer


def test_every_resource_is_filed_under_one_key() -> None:
    index = indexed(3).index
    assert list(index) == [None]  # not a store (and a key) per resource
    assert len(index[None]) == 3


def test_the_sweep_reads_back_the_subjects_the_watch_gave() -> None:
    index = indexed(3).index
    subjects = [s for key in list(index) for s in index.get(key, ())]  # as sweep_once reads
    assert all(isinstance(s, Subject) for s in subjects)
    assert sorted((s.uid, json.dumps(s.spec)) for s in subjects) == sorted(
        (f"uid-{n}", json.dumps(raw(n)["spec"])) for n in range(3))
    assert subjects[0] == subject_from(raw(0), pending=True)  # no progress storage: pending
