"""Ingestion nodes: the same functions for every retailer; what differs is configuration.

`ingest_sales` is the node: it calls `normalize_sales` (normalize.py: source records ->
canonical records), `split_valid_quarantine` (validate.py: valid rows, quarantine rows with
readable reasons, counts per day) and `build_manifest` (counts plus the extraction statistics:
pages, requests, retries, the source's own total, attempts and consistency) in turn, so a
retailer's normalized frame lives only inside that node (never as a dataset waiting for another
node) and is freed when it returns, before the next retailer is extracted. It returns raw
rows, quarantine rows and the manifest as one value, which `<code>.raw_sales` commits as
one unit.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from retail_pipeline.pipelines.ingestion.normalize import ingestion_time, normalize_sales, release_memory
from retail_pipeline.pipelines.ingestion.validate import row_reasons, split_valid_quarantine

__all__ = ["build_manifest", "ingest_sales", "ingestion_time", "normalize_sales", "release_memory",
           "row_reasons", "split_valid_quarantine"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# the node
# --------------------------------------------------------------------------------------------
def ingest_sales(api_sales: pd.DataFrame, retailer: dict, run_id: str, ingested_at: str) -> dict[str, Any]:
    """One retailer's window: `normalize_sales`, `split_valid_quarantine`, `build_manifest`.

    `retailer` is the retailer's registry entry (`params:retailers.<code>`: its `source` and
    `timezone`); the code comes with the records (`attrs["extraction"]["retailer_code"]`).
    `ingested_at` is the run's ingestion time (a parameter, ISO 8601 UTC): no clock in here.

    One node, so the normalized frame never waits in memory for another node (with one
    namespace per retailer, Kedro would run every retailer's normalization before any split);
    the split consumes it, and it is gone when the node returns.

    Returns:
        {"raw": valid rows, "quarantine": quarantined rows, "manifest": the manifest}: one
        value, saved by `<code>.raw_sales` as one unit, so the window's files and its
        manifest always agree (see `datasets.raw_zone`).
    """
    release_memory()  # what the previous retailer's frames left in Arrow's pool
    normalized, stats = normalize_sales(api_sales, retailer, run_id, ingested_at)
    release_memory()
    valid, quarantined, summary = split_valid_quarantine(normalized, stats)
    return {"raw": valid, "quarantine": quarantined, "manifest": build_manifest(stats, summary, run_id)}


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
