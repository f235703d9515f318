"""Nodes of the `transformation` pipeline: canonical rows -> star-schema frames.

Pure functions of DataFrames and parameters; the only I/O is the catalog's
`<code>.warehouse_star_schema` datasets (`PostgresStarSchemaDataset`) that save what
`build_star_schema` returns, atomically. Both nodes run once per retailer, in its namespace
(its rows are keyed by retailer_code, so staging or loading one retailer needs no other's):
`stage_sales`, then `build_retailer_star_schema`, the retailer's own load. `build_star_schema`
also takes several retailers' parts at once (one load of all of them: tools, benchmarks).
The row checks of staging are in staging.py (first pass: checks.py), a window read in chunks is
staged in streaming.py.

Surrogate keys are computed, not looked up: a deterministic 63-bit hash of
(retailer_code, natural key) (`keys.surrogate_key`; the sale's, `sale_id`, comes with the staged
rows); products go as product-days, facts carry the
durable product key (the loader keeps versions: warehouse.product_versions). `date_id` is YYYYMMDD; `retailer_id`,
the display name and the time zone come from the retailer registry (conf/base/retailers.yml,
`params:retailers`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from retail_pipeline.run_window import window_dates
from retail_pipeline.schemas.reasons import failure_cases, translate  # noqa: F401 (the translator staging uses)
from retail_pipeline.warehouse.exactly_once import DEFAULT_MAX_SHARE, parse_accepted

from .keys import surrogate_key
from .retailers import checked_registry, dim_retailer_frame
from .staging import _MONEY, _canonical, latest_versions, normalize, stage_rows, window_of

logger = logging.getLogger(__name__)

# What build_star_schema reads of the staged rows: only these are concatenated (not the
# source records, which the facts do not keep).
_BUILD_COLUMNS = ["retailer_code", "transaction_id", "product_sku", "product_name", "category",
                  "customer_external_id", "store_external_id", "transaction_ts", "sale_date", "date_id",
                  "ts_order", "quantity", "sale_id", *_MONEY]
FACT_COLUMNS = [
    "sale_id", "date_id", "product_id", "customer_id", "store_id", "retailer_id", "transaction_id",
    "quantity", "unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost",
    "transaction_ts",
]


def stage_sales(
    retailers: dict[str, Any], run_date: str, lookback_days: int, run_id: str, *raw_sales: Any
) -> tuple[Any, Any]:
    """Canonical rows for the window -> (loadable rows, quarantined rows).

    The pipeline passes one retailer's rows (a node per retailer namespace): rows are keyed by
    (retailer_code, transaction_id), so staging retailers apart or together gives the same rows.
    Frames give frames; the raw zone read in chunks (`RawChunks`, `<code>.raw_sales@chunks`)
    gives a lazy `StagedChunks` (and its quarantine side), staged chunk by chunk when the load
    iterates it (streaming.py).

    Keeps the latest version of a transaction (by `ingested_at`) so a corrected row replaces
    the old one; checks each row against `StagedSaleModel`, the retailer registry
    (`retailers`: a known code; `sale_date` is the date of `transaction_ts` in the retailer's
    time zone) and the run window; every row that cannot be loaded becomes a quarantine row with
    its reasons.
    """
    if any(getattr(raw, "chunked", False) for raw in raw_sales):
        from .streaming import StagedChunks

        staged = StagedChunks(checked_registry(retailers), run_date, lookback_days, raw_sales)
        return staged, staged.quarantine
    frames = [_canonical(f) for f in raw_sales]
    df = normalize(pd.concat(frames, ignore_index=True) if frames else _canonical(None))
    received = len(df)
    df = latest_versions(df)
    if len(df) < received:
        logger.info("%d superseded version(s) of corrected transactions replaced by their latest",
                    received - len(df))
    staged, quarantine = stage_rows(df, checked_registry(retailers), run_date, lookback_days)
    logger.info("transformation: %d rows received, %d loadable, %d quarantined",
                received, len(staged), len(quarantine))
    return staged, quarantine


def _one_frame(parts: pd.DataFrame | Sequence[pd.DataFrame], columns: list[str] | None = None) -> pd.DataFrame:
    """The parts as one frame, only `columns` (selecting copies nothing): concatenated once, or
    returned as is when only one part has rows. Empty parts are left out of the concatenation."""
    parts = [parts] if isinstance(parts, pd.DataFrame) else list(parts)
    if columns is not None:
        parts = [p[columns] for p in parts]
    filled = [p for p in parts if len(p)] or parts[:1]
    return filled[0] if len(filled) == 1 else pd.concat(filled, ignore_index=True)


def build_retailer_star_schema(
    retailer: dict[str, Any], retailers: dict[str, Any], warehouse: dict[str, Any], run_date: str,
    lookback_days: int, run_id: str, accept_fact_loss: Any, staged: pd.DataFrame, quarantine: pd.DataFrame,
) -> dict[str, Any]:
    """The pipeline's form of `build_star_schema`, one per retailer namespace: that retailer's
    staged and quarantined rows -> its own load (`retailers: [code]`), which replaces its window
    days and nothing of another retailer. `retailer` is its registry entry (with `code`)."""
    code = str(retailer["code"])
    registry = checked_registry(retailers)
    if code not in registry:
        raise ValueError(f"retailer {code} is not in the registry (conf/base/retailers.yml)")
    if hasattr(staged, "quarantine"):  # StagedChunks: a lazy load, built chunk by chunk as it is saved
        from .streaming import LoadChunks

        start, end = window_of(run_date, lookback_days)
        mine = {code: registry[code]}
        build = partial(build_star_schema, retailers=mine, warehouse=warehouse, run_date=run_date,
                        lookback_days=lookback_days, run_id=run_id)
        return {"run_id": run_id, "window": {"start": start.isoformat(), "end": end.isoformat()},
                "retailers": [code], "fact_loss": _fact_loss(warehouse, accept_fact_loss),
                "dimensions": {"dim_retailer": dim_retailer_frame(mine)}, "chunks": LoadChunks(staged, build)}
    load = build_star_schema(staged, quarantine, {code: registry[code]}, warehouse, run_date, lookback_days,
                             run_id, accept_fact_loss)
    load["retailers"] = [code]
    return load


def build_star_schema(
    staged: pd.DataFrame | Sequence[pd.DataFrame], quarantine: pd.DataFrame | Sequence[pd.DataFrame],
    retailers: dict[str, Any], warehouse: dict[str, Any], run_date: str, lookback_days: int, run_id: str,
    accept_fact_loss: Any = False,
) -> dict[str, Any]:
    """Loadable rows (a frame, or one per retailer) -> the frames saved in one transaction.

    `dim_retailer` is the retailer registry (`retailers`: code, `retailer_id`, `name`);
    `warehouse` holds the load's settings (`max_fact_loss_share`).

    `fact_loss` tells the loader how much of a retailer-day's facts a load may remove
    (`warehouse.max_fact_loss_share`) and which days an operator accepted (`accept_fact_loss`:
    true, or retailer_code:YYYY-MM-DD items); malformed items fail here, before any load.
    """
    staged, quarantine = _one_frame(staged, _BUILD_COLUMNS), _one_frame(quarantine)
    start, end = window_of(run_date, lookback_days)
    parse_accepted(accept_fact_loss)  # malformed items fail here, before any load
    retailers = checked_registry(retailers)
    dim_retailer = dim_retailer_frame(retailers)
    ids = dict(zip(dim_retailer["retailer_code"], dim_retailer["retailer_id"]))
    code = staged["retailer_code"]
    code_at, codes = pd.factorize(code)  # one retailer per chunk, as a rule: look each code up once
    retailer_id = np.array([ids[c] for c in codes], dtype="int64")[code_at]
    product_id = surrogate_key(code, staged["product_sku"])
    customer_id = surrogate_key(code, staged["customer_external_id"])
    store_id = surrogate_key(code, staged["store_external_id"])
    date_id = staged["date_id"].to_numpy(dtype="int64")

    # Dimension members: the rows where a key first occurs (a product-day: its latest sale),
    # found on the integer keys, then only those rows' texts are taken.
    latest_first = np.argsort(staged["ts_order"].to_numpy(), kind="stable")[::-1]
    pairs = pd.DataFrame({"p": product_id[latest_first], "d": date_id[latest_first]})
    at = latest_first[~pairs.duplicated().to_numpy()]
    dim_product = pd.DataFrame({
        "retailer_id": retailer_id[at], "product_sku": _take(staged["product_sku"], at), "date_id": date_id[at],
        "product_key": product_id[at], "product_name": _take(staged["product_name"], at),
        "category": _take(staged["category"], at), "observed_at": _take(staged["transaction_ts"], at),
    })
    at = _firsts(customer_id)
    dim_customer = pd.DataFrame({"customer_id": customer_id[at], "retailer_id": retailer_id[at],
                                 "customer_external_id": _take(staged["customer_external_id"], at)})
    at = _firsts(store_id)
    dim_store = pd.DataFrame({"store_id": store_id[at], "retailer_id": retailer_id[at],
                              "store_external_id": _take(staged["store_external_id"], at)})

    facts = pd.DataFrame({
        "sale_id": staged["sale_id"].to_numpy(dtype="int64"),
        "date_id": date_id,
        "product_id": product_id, "customer_id": customer_id, "store_id": store_id,
        "retailer_id": retailer_id,
        "transaction_id": staged["transaction_id"],
        "quantity": staged["quantity"].astype("int64"),
        "unit_price": staged["unit_price"], "total_amount": staged["total_amount"],
        "discount_percentage": staged["discount_percentage"], "tax_amount": staged["tax_amount"],
        "shipping_cost": staged["shipping_cost"], "transaction_ts": staged["transaction_ts"],
    })

    audit = _audit(staged, quarantine, list(retailers), start, end)
    return {
        "run_id": run_id,
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "dimensions": {"dim_retailer": dim_retailer, "dim_product": dim_product,
                       "dim_customer": dim_customer, "dim_store": dim_store},
        "facts": facts,
        "quarantine": quarantine,
        "audit": audit,
        "fact_loss": _fact_loss(warehouse, accept_fact_loss),
    }


def _take(column: pd.Series, at: np.ndarray) -> pd.Series:
    return column.take(at).reset_index(drop=True)


def _firsts(keys: np.ndarray) -> np.ndarray:
    """Positions where each key occurs first, in row order."""
    return np.flatnonzero(~pd.Series(keys).duplicated().to_numpy())


def _fact_loss(warehouse: dict[str, Any], accept_fact_loss: Any) -> dict[str, Any]:
    """How much of a retailer-day's facts the load may remove, and the days an operator accepted."""
    accepted = parse_accepted(accept_fact_loss)
    return {"max_share": float(warehouse.get("max_fact_loss_share", DEFAULT_MAX_SHARE)),
            "accept": True if accepted is True else sorted(f"{code}:{day}" for code, day in accepted)}


def _audit(staged: pd.DataFrame, quarantine: pd.DataFrame, codes: list[str], start: date, end: date) -> pd.DataFrame:
    """One row per retailer and window day: rows and amount loaded, rows quarantined."""
    days = [d.isoformat() for d in window_dates(start, end)]
    grid = pd.MultiIndex.from_product([codes, days], names=["retailer_code", "sale_date"])
    code_at, code = pd.factorize(staged["retailer_code"])  # grouped on one integer key: texts compared once
    day_at, day = pd.factorize(staged["sale_date"])
    width = max(len(day), 1)
    sums = staged["total_amount"].groupby(code_at.astype("int64") * width + day_at).agg(["size", "sum"])
    loaded = pd.DataFrame({"rows_loaded": sums["size"].to_numpy(), "total_amount_loaded": sums["sum"].to_numpy()},
                          index=pd.MultiIndex.from_arrays([np.asarray(code, dtype=object)[sums.index // width],
                                                           np.asarray(day, dtype=object)[sums.index % width]],
                                                          names=["retailer_code", "sale_date"]))
    quarantined = quarantine.groupby(["retailer_code", "sale_date"]).size().rename("rows_quarantined")
    extra = quarantined.index.difference(grid)  # e.g. an unknown retailer code
    audit = loaded.join(quarantined, how="outer").reindex(grid.append(extra)).reset_index()
    audit["rows_loaded"] = audit["rows_loaded"].fillna(0).astype("int64")
    audit["rows_quarantined"] = audit["rows_quarantined"].fillna(0).astype("int64")
    audit["total_amount_loaded"] = audit["total_amount_loaded"].fillna(0.0).round(2).astype("float64")
    audit["retailer_code"] = audit["retailer_code"].astype("str")
    audit["sale_date"] = audit["sale_date"].astype("str")
    return audit[["retailer_code", "sale_date", "rows_loaded", "total_amount_loaded", "rows_quarantined"]]
