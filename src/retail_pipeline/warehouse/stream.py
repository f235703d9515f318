"""A load's chunks into the server, streamed: the bulk of a load (steps 1-2 of
PostgresStarSchemaDataset) in bounded memory, whatever the size of the day.

A load is a sequence of chunks, each a dict of frames::

    {"facts": df, "dimensions": {"dim_product": df, "dim_customer": df, "dim_store": df},
     "quarantine": df, "audit": df}

(a load of frames is one chunk; a chunk's facts name only customers and stores among its own
members, or it is refused: fact_sales has no foreign key to them, 021). Each chunk's facts are
COPYed into their (retailer, day) tables as it arrives and summed for the marts
(warehouse.inflight), its dimension members and quarantine rows go to temp tables, its audit is
added up; nothing of a chunk is kept once it is sent. The next chunk is computed (read, staged,
built: the nodes' lazy work) in a thread while the server ingests this one (`prefetch`), so the
Python side and the server overlap on two cores, with at most two chunks waiting. After the last
chunk the members are made one per key and checked, and the day tables are indexed once.
Everything happens in the load's transaction: a failure between chunks rolls it all back, the
old days stay as they were.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

import pandas as pd
from kedro.io.core import DatasetError

from retail_pipeline.warehouse.days import DayTable, copy_facts, create_days, seal_days
from retail_pipeline.warehouse.dimensions import (DIMENSIONS, check_members, copy_members, dedup_members,
                                                  refuse_unlisted_members, stage_members)
from retail_pipeline.warehouse.inflight import MartPartials
from retail_pipeline.warehouse.prefetch import prefetch
from retail_pipeline.warehouse.product_versions import KnownVersions
from retail_pipeline.warehouse.quarantine import copy_quarantine
from retail_pipeline.warehouse.sqlfiles import text

AUDIT_KEYS = ["retailer_code", "sale_date"]
AUDIT_SUMS = ["rows_loaded", "total_amount_loaded", "rows_quarantined"]


@dataclass
class Streamed:
    """What the stream left in the transaction, for the rest of the load."""

    tables: list[DayTable]
    staged_dims: list[str]
    audit: pd.DataFrame
    marts: MartPartials
    quarantine_codes: set[str] = field(default_factory=set)
    facts: int = 0
    chunks: int = 0


def combine_audits(audits: list[pd.DataFrame]) -> pd.DataFrame:
    """The chunks' audit rows added up per retailer and day (order of first appearance)."""
    if len(audits) == 1:
        return audits[0]
    both = pd.concat(audits, ignore_index=True)
    out = both.groupby(AUDIT_KEYS, sort=False, as_index=False)[AUDIT_SUMS].sum()
    out["total_amount_loaded"] = out["total_amount_loaded"].round(2)
    return out[[*AUDIT_KEYS, *AUDIT_SUMS]]


class ReadAgain(Exception):
    """Raised by a load's chunks after the last one: what was streamed must be rolled back and
    the chunks iterated again (a corrected transaction had versions in two chunks; the second
    pass holds them back and resolves them)."""


# The step of the server idle while the client builds the next chunk: timed on its own (not as
# part of the copy after it), but no step of the load's work, so a failure is still reported
# after the last step the server did.
CHUNK_WAIT = "chunk wait"


def stream_chunks(cur, chunks: Iterable[dict[str, Any]], *, days: list[date], run_id: str,
                  retailer_ids: list[int], step: Callable[[str], None], where: str) -> Streamed:
    """Steps 1-2 of a load over its chunks (see the module docstring). Refuses a chunk holding
    facts of a retailer the load does not replace."""
    tables = create_days(cur, days, run_id, retailer_ids)
    cur.execute(text("quarantine_stage"))
    for name in DIMENSIONS:
        stage_members(cur, name)
    versions = KnownVersions.load(cur, retailer_ids)  # facts get the product version of their day
    marts, audits, members = MartPartials(), [], dict.fromkeys(DIMENSIONS, 0)
    out = Streamed(tables, [], pd.DataFrame(), marts)
    scope = set(retailer_ids)
    step("stream setup")
    incoming = prefetch(chunks)
    try:
        for chunk in incoming:
            step(CHUNK_WAIT)
            facts = chunk["facts"]
            strays = sorted(set(pd.unique(facts["retailer_id"]).tolist()) - scope)
            if strays:
                raise DatasetError(f"{where} holds facts of retailer_id(s) {strays}, which it does not replace; "
                                   "nothing was loaded.")
            refuse_unlisted_members(facts, chunk["dimensions"], where)
            for name in DIMENSIONS:
                frame = chunk["dimensions"][name]
                if len(frame):
                    copy_members(cur, name, frame)
                    members[name] += 1
                step(f"{name} copy")
            copy_facts(cur, tables, versions.point(facts), step)
            marts.add(facts)  # by durable product key: mart_daily_flight.sql finds the day's version
            copy_quarantine(cur, chunk["quarantine"])
            out.quarantine_codes |= set(chunk["quarantine"]["retailer_code"])
            audits.append(chunk["audit"])
            out.facts += len(facts)
            out.chunks += 1
            del chunk, facts
    finally:
        incoming.close()  # stops the reading thread now, even on a failure
    out.staged_dims = [name for name, n in members.items() if n]
    for name in out.staged_dims:
        if members[name] > 1:
            dedup_members(cur, name)
        check_members(cur, name, retailer_ids, step)
    seal_days(cur, tables, step)
    out.audit = combine_audits(audits) if audits else pd.DataFrame(columns=[*AUDIT_KEYS, *AUDIT_SUMS])
    return out


def one_chunk(data: dict[str, Any]) -> dict[str, Any]:
    """A load of frames as its one chunk."""
    return {"facts": data["facts"], "dimensions": data["dimensions"], "quarantine": data["quarantine"],
            "audit": data["audit"]}
