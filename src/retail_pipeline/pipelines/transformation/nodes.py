"""Nodes of the `transformation` pipeline: canonical rows -> star-schema frames.

Pure functions of DataFrames and parameters; the only I/O is the catalog's
`<code>.warehouse_star_schema` datasets (`PostgresStarSchemaDataset`) that save what
`build_star_schema` returns, atomically. Both nodes run once per retailer, in its namespace
(its rows are keyed by retailer_code, so staging or loading one retailer needs no other's):
`stage_sales`, then `build_retailer_star_schema`, the retailer's own load. `build_star_schema`
also takes several retailers' parts at once (one load of all of them: tools, benchmarks).

Surrogate keys are computed, not looked up: a deterministic 63-bit hash of
(retailer_code, natural key) (`keys.surrogate_key`); products go as product-days, facts carry the
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
import pandera.pandas as pa

from retail_pipeline.run_window import parse_run_date, window_dates
from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS as _CANONICAL
from retail_pipeline.schemas.reasons import failure_cases, translate
from retail_pipeline.schemas.warehouse import StagedSaleModel
from retail_pipeline.warehouse.exactly_once import DEFAULT_MAX_SHARE, parse_accepted

from .keys import surrogate_key
from .retailers import checked_registry, dim_retailer_frame, local_days

logger = logging.getLogger(__name__)

CANONICAL_COLUMNS = list(_CANONICAL)
_TEXT = ["retailer_code", "transaction_id", "product_sku", "product_name", "category",
         "customer_id", "store_id", "transaction_ts", "sale_date", "ingested_at"]
_IDS = ["product_sku", "customer_id", "store_id"]  # source ids: trimmed so " A1" and "A1" are one member
_NUMBERS = ["quantity", "unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost"]
_MONEY = ["unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost"]
UNKNOWN_CUSTOMER = "(unknown)"

# What build_star_schema reads of the staged rows: only these are concatenated (not the
# source records, which the facts do not keep).
_BUILD_COLUMNS = ["retailer_code", "transaction_id", "product_sku", "product_name", "category",
                  "customer_external_id", "store_external_id", "transaction_ts", "sale_date", "date_id",
                  "ts_order", "quantity", *_MONEY]
FACT_COLUMNS = [
    "sale_id", "date_id", "product_id", "customer_id", "store_id", "retailer_id", "transaction_id",
    "quantity", "unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost",
    "transaction_ts",
]


def window_of(run_date: Any, lookback_days: Any) -> tuple[date, date]:
    end = parse_run_date(run_date)
    return end - timedelta(days=int(lookback_days)), end


def _canonical(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None or len(frame.columns) == 0:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in CANONICAL_COLUMNS})
    return frame.reindex(columns=CANONICAL_COLUMNS)


def _text(series: pd.Series, strip: bool = False) -> pd.Series:
    """Text with '' as missing; trimmed when `strip`."""
    out = series.astype("str")
    if strip:
        out = out.str.strip()
    return out.mask(out.isna() | (out == ""))


def _reasons_from_pandera(err: pa.errors.SchemaErrors, df: pd.DataFrame) -> pd.Series:
    """Readable reasons per row (schemas.reasons, the ingestion's wording), '; '-joined."""
    cases = failure_cases(err, "canonical rows do not have the shape the warehouse expects")
    texts: dict[Any, set[str]] = {}
    for label, _, _, text in translate(cases, df):
        texts.setdefault(label, set()).add(text)
    reasons = pd.Series({label: "; ".join(sorted(found)) for label, found in texts.items()}, dtype="object")
    return reasons.reindex(df.index)


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


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    """Canonical text ('' as missing, source ids trimmed) and numbers (float64), in place."""
    for col in _TEXT:
        df[col] = _text(df[col], strip=col in _IDS)
    for col in _NUMBERS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df


def latest_versions(df: pd.DataFrame) -> pd.DataFrame:
    """The latest version of each transaction (by ingested_at; a corrected row, or a row moved to
    another day); rows without a transaction id are all kept (quarantined later)."""
    key = ["retailer_code", "transaction_id"]
    sale_key = pd.Series(surrogate_key(df["retailer_code"].fillna(""), df["transaction_id"].fillna(""), repeated=False))
    maybe_dup = sale_key.duplicated(keep=False).to_numpy() & df["transaction_id"].notna().to_numpy()
    if maybe_dup.any() and df[maybe_dup].duplicated(key, keep=False).any():
        order = df["ingested_at"].fillna("")
        df = df.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order")
        df = df[~df.duplicated(key, keep="last") | df["transaction_id"].isna()]
        df = df.sort_index().reset_index(drop=True)
    return df


def stage_rows(df: pd.DataFrame, retailers: dict[str, Any], run_date: str,
               lookback_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalized rows, one version per transaction -> (loadable rows, quarantined rows): the
    checks of `stage_sales`, row by row (so a chunk is staged as the whole would be)."""
    start, end = window_of(run_date, lookback_days)
    df = df.reset_index(drop=True)
    df["store_external_id"] = df["store_id"]
    df["customer_external_id"] = df["customer_id"].fillna(UNKNOWN_CUSTOMER)

    reasons = pd.Series(pd.NA, index=df.index, dtype="object")
    try:
        StagedSaleModel.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        reasons = _reasons_from_pandera(err, df)

    def add(mask: pd.Series, reason: str) -> None:
        nonlocal reasons
        if mask.any():
            reasons = reasons.mask(mask & reasons.isna(), reason).mask(
                mask & reasons.notna() & (reasons != reason), reasons + "; " + reason)

    known = df["retailer_code"].isin(pd.Series(list(retailers), dtype="str"))
    add(df["retailer_code"].notna() & ~known, "retailer_code not in conf/base/retailers.yml")
    ts = pd.to_datetime(df["transaction_ts"], utc=True, format="ISO8601", errors="coerce")
    add(ts.isna(), "transaction_ts missing or not ISO 8601")
    day = pd.to_datetime(df["sale_date"], format="%Y-%m-%d", errors="coerce")
    add(day.isna(), "sale_date missing or not YYYY-MM-DD")
    ts_day = local_days(ts, df["retailer_code"].where(known), retailers)
    add(day.notna() & ts_day.notna() & (ts_day != day),
        "sale_date is not the date of transaction_ts in the retailer's time zone")
    add(day.notna() & ((day < pd.Timestamp(start)) | (day > pd.Timestamp(end))),
        f"sale_date outside the run window {start}..{end}")

    bad = reasons.notna()
    quarantine = _quarantine_rows(df[bad], reasons[bad], start, end, run_date)
    staged = df[~bad].copy()
    staged["quantity"] = staged["quantity"].astype("int64")
    good_day = day[~bad]
    staged["date_id"] = (good_day.dt.year * 10000 + good_day.dt.month * 100 + good_day.dt.day).astype("int64")
    staged["ts_order"] = ts[~bad].astype("int64").to_numpy()
    for col in _MONEY:
        staged[col] = staged[col].round(2)
    return staged.reset_index(drop=True), quarantine


def _quarantine_rows(bad: pd.DataFrame, reasons: pd.Series, start: date, end: date, run_date: str) -> pd.DataFrame:
    if bad.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in
                             ("retailer_code", "transaction_id", "sale_date", "reason", "record")})
    records = bad[CANONICAL_COLUMNS].to_json(orient="records", lines=True, force_ascii=False).splitlines()
    in_window = bad["sale_date"].isin([d.isoformat() for d in window_dates(start, end)])
    return pd.DataFrame({
        "retailer_code": bad["retailer_code"].fillna("(unknown)").astype("str").to_numpy(),
        "transaction_id": bad["transaction_id"].astype("str").to_numpy(),
        "sale_date": bad["sale_date"].where(in_window, parse_run_date(run_date).isoformat()).astype("str").to_numpy(),
        "reason": reasons.astype("str").to_numpy(),
        "record": pd.Series(records, dtype="str").to_numpy(),
    })


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
    retailer_id = code.map(ids).astype("int64")
    product_id = surrogate_key(code, staged["product_sku"])
    customer_id = surrogate_key(code, staged["customer_external_id"])
    store_id = surrogate_key(code, staged["store_external_id"])

    keyed = pd.DataFrame({
        "retailer_id": retailer_id, "product_id": product_id, "customer_id": customer_id,
        "store_id": store_id, "product_sku": staged["product_sku"], "product_name": staged["product_name"],
        "category": staged["category"], "transaction_ts": staged["transaction_ts"],
        "customer_external_id": staged["customer_external_id"],
        "store_external_id": staged["store_external_id"],
    })
    latest_first = np.argsort(staged["ts_order"].to_numpy(), kind="stable")[::-1]
    dim_product = (
        keyed.assign(date_id=staged["date_id"].astype("int64")).iloc[latest_first]
        .drop_duplicates(["product_id", "date_id"], keep="first")
        .rename(columns={"product_id": "product_key", "transaction_ts": "observed_at"})
        [["retailer_id", "product_sku", "date_id", "product_key", "product_name", "category", "observed_at"]]
        .reset_index(drop=True)
    )
    dim_customer = keyed.drop_duplicates("customer_id")[["customer_id", "retailer_id", "customer_external_id"]].reset_index(drop=True)
    dim_store = keyed.drop_duplicates("store_id")[["store_id", "retailer_id", "store_external_id"]].reset_index(drop=True)

    facts = pd.DataFrame({
        "sale_id": surrogate_key(code, staged["transaction_id"], repeated=False),
        "date_id": staged["date_id"].astype("int64"),
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


def _fact_loss(warehouse: dict[str, Any], accept_fact_loss: Any) -> dict[str, Any]:
    """How much of a retailer-day's facts the load may remove, and the days an operator accepted."""
    accepted = parse_accepted(accept_fact_loss)
    return {"max_share": float(warehouse.get("max_fact_loss_share", DEFAULT_MAX_SHARE)),
            "accept": True if accepted is True else sorted(f"{code}:{day}" for code, day in accepted)}


def _audit(staged: pd.DataFrame, quarantine: pd.DataFrame, codes: list[str], start: date, end: date) -> pd.DataFrame:
    """One row per retailer and window day: rows and amount loaded, rows quarantined."""
    days = [d.isoformat() for d in window_dates(start, end)]
    grid = pd.MultiIndex.from_product([codes, days], names=["retailer_code", "sale_date"])
    loaded = staged.groupby(["retailer_code", "sale_date"]).agg(
        rows_loaded=("total_amount", "size"), total_amount_loaded=("total_amount", "sum"))
    quarantined = quarantine.groupby(["retailer_code", "sale_date"]).size().rename("rows_quarantined")
    extra = quarantined.index.difference(grid)  # e.g. an unknown retailer code
    audit = loaded.join(quarantined, how="outer").reindex(grid.append(extra)).reset_index()
    audit["rows_loaded"] = audit["rows_loaded"].fillna(0).astype("int64")
    audit["rows_quarantined"] = audit["rows_quarantined"].fillna(0).astype("int64")
    audit["total_amount_loaded"] = audit["total_amount_loaded"].fillna(0.0).round(2).astype("float64")
    audit["retailer_code"] = audit["retailer_code"].astype("str")
    audit["sale_date"] = audit["sale_date"].astype("str")
    return audit[["retailer_code", "sale_date", "rows_loaded", "total_amount_loaded", "rows_quarantined"]]
