"""Ingestion nodes: the same functions for every retailer; what differs is configuration.

`ingest_sales_stream` is the node (named `ingest_sales`), a generator: for each chunk of the retailer's extraction it calls
`normalize_sales` (normalize.py: source records -> canonical records) and `split_chunk`
(validate.py: valid rows, quarantine rows with readable reasons, counts per day) and yields the
two frames, which `<code>.raw_sales` appends to the window's staged files; after the last chunk
it yields the manifest (`build_manifest`: the counts plus the extraction statistics: pages,
requests, retries, the source's own total, attempts and consistency), which commits the
window's files and the manifest as one unit (`ingest_sales`: a whole window at once, for tools
and tests). Between chunks it keeps only the ids met so far
and the counts (window_state.py), so memory is bounded by the chunk, not the day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd

from retail_pipeline.extraction.stream import Attempt, Extracted
from retail_pipeline.pipelines.ingestion.normalize import ingestion_time, normalize_sales, release_memory
from retail_pipeline.pipelines.ingestion.validate import row_reasons, split_chunk, split_valid_quarantine, window_days
from retail_pipeline.pipelines.ingestion.window_state import SeenIds, WindowTally

__all__ = ["build_manifest", "ingest_sales", "ingest_sales_stream", "ingestion_time", "normalize_sales", "release_memory",
           "row_reasons", "split_chunk", "split_valid_quarantine"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# the node
# --------------------------------------------------------------------------------------------
def ingest_sales(api_sales: pd.DataFrame, retailer: dict, run_id: str, ingested_at: str) -> dict[str, Any]:
    """A whole window given as one frame (tools, tests): `normalize_sales`,
    `split_valid_quarantine`, `build_manifest`; returns the unit {"raw", "quarantine",
    "manifest"} that `<code>.raw_sales` commits at once."""
    release_memory()  # what the previous retailer's frames left in Arrow's pool
    normalized, stats = normalize_sales(api_sales, retailer, run_id, ingested_at)
    release_memory()
    valid, quarantined, summary = split_valid_quarantine(normalized, stats)
    return {"raw": valid, "quarantine": quarantined, "manifest": build_manifest(stats, summary, run_id)}


def ingest_sales_stream(api_sales: pd.DataFrame | Iterable[Any], retailer: dict, run_id: str,
                        ingested_at: str) -> Iterator[dict[str, Any]]:
    """The node: one retailer's window, chunk by chunk (normalize, validate, split each chunk).

    `api_sales` is what `<code>.api_sales` loads: a stream of events (`Attempt`, chunk frames,
    `Extracted`; extraction/stream.py), or one whole-window frame (then one unit, as
    `ingest_sales`). `retailer` is the retailer's registry entry (`params:retailers.<code>`:
    its `source` and `timezone`); the code comes with the records
    (`attrs["extraction"]["retailer_code"]`). `ingested_at` is the run's ingestion time (a
    parameter, ISO 8601 UTC): no clock in here.

    Yields what `<code>.raw_sales` saves (datasets/raw_zone.py):
        {"begin": n}: the n-th walk of the window starts (a repeat voids what was staged);
        {"raw": valid rows, "quarantine": quarantined rows}: one chunk, appended;
        {"manifest": the manifest}: the end, committing the window's files with it.
    """
    if isinstance(api_sales, pd.DataFrame):
        yield ingest_sales(api_sales, retailer, run_id, ingested_at)
        return
    seen: SeenIds | None = None
    tally: WindowTally | None = None
    try:
        for event in api_sales:
            if isinstance(event, Attempt):
                if seen is not None:
                    seen.close()
                seen, tally = SeenIds(), None  # a repeat of the walk: start over
                yield {"begin": event.number}
            elif isinstance(event, Extracted):
                stats = {**event.stats, "ingested_at": ingestion_time(ingested_at)}
                tally = tally or WindowTally(window_days(stats))
                summary = tally.summary()
                log.info("%s: %d received, %d valid, %d quarantined %s (ids remembered: %.1f MB)",
                         stats.get("retailer_code"), summary["rows_received"], summary["rows_written"],
                         summary["rows_quarantined"], summary["reasons_by_kind"] or "",
                         (seen.nbytes if seen else 0) / 1e6)
                yield {"manifest": build_manifest(stats, summary, run_id)}
            else:
                normalized, stats = normalize_sales(event, retailer, run_id, ingested_at)
                del event
                if seen is None:
                    seen = SeenIds()
                valid, quarantined, counts = split_chunk(normalized, stats, seen)
                del normalized
                tally = tally or WindowTally(window_days(stats))
                tally.add(counts)
                yield {"raw": valid, "quarantine": quarantined}
                del valid, quarantined
    finally:
        if seen is not None:
            seen.close()


# --------------------------------------------------------------------------------------------
# manifest
# --------------------------------------------------------------------------------------------
# Extraction statistics copied into the manifest when the extraction reports them (orders:
# sources whose records are orders of several lines; rows received are lines).
_EXTRACTION_EXTRAS = ("attempts", "consistency", "orders", "orders_without_lines", "source", "landing")


def build_manifest(extraction_stats: dict, summary: dict, run_id: str) -> dict:
    """The run's manifest for one retailer (docs/contracts.md), for reconciliation."""
    source_total = extraction_stats.get("source_total")
    manifest = {
        "retailer_code": extraction_stats.get("retailer_code"),
        "run_id": str(run_id),
        "run_date": extraction_stats["window_end"],
        "window_start": extraction_stats["window_start"],
        "window_end": extraction_stats["window_end"],
        "pages": int(extraction_stats.get("pages", 0)),
        "requests": int(extraction_stats.get("requests", 0)),
        "retries": int(extraction_stats.get("retries", 0)),
        "source_total": None if source_total is None else int(source_total),
        "source_total_matches": None if source_total is None else int(source_total) == summary["rows_received"],
        "rows_received": summary["rows_received"],
        "rows_written": summary["rows_written"],
        "rows_quarantined": summary["rows_quarantined"],
        "reasons_by_kind": summary["reasons_by_kind"],
        "days": summary["days"],
        "ingested_at": extraction_stats.get("ingested_at"),
        "extraction_seconds": extraction_stats.get("elapsed_s"),
        "source_url": extraction_stats.get("url"),
    }
    manifest.update({key: extraction_stats[key] for key in _EXTRACTION_EXTRAS if key in extraction_stats})
    if manifest["source_total_matches"] is False:
        log.warning("%s: the API reported total=%s but served %d rows (rows changed while paging?)",
                    manifest["retailer_code"], source_total, summary["rows_received"])
    return manifest
