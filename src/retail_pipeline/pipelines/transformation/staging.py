"""Staging's row checks: canonical rows -> (loadable rows, quarantine rows with their reasons).

Every check is row by row, so a chunk is staged as the whole window would be (streaming.py).
The model's checks run first as whole-array passes (`schemas.precheck.judged_rows`); pandera's
lazy validation, which builds the readable reasons, runs only on the rows those passes did not clear.
Texts that repeat (sale dates) are parsed once per distinct value. The sale's surrogate key
(`sale_id`) is computed here once: the chunks' version tracking and the facts both use it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from retail_pipeline.run_window import parse_run_date, window_dates
from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS as _CANONICAL
from retail_pipeline.schemas.precheck import judged_rows
from retail_pipeline.schemas.reasons import failure_cases, translate
from retail_pipeline.schemas.warehouse import StagedSaleModel

from .keys import surrogate_key
from .retailers import local_days

CANONICAL_COLUMNS = list(_CANONICAL)
_TEXT = ["retailer_code", "transaction_id", "product_sku", "product_name", "category",
         "customer_id", "store_id", "transaction_ts", "sale_date", "ingested_at"]
_IDS = ["product_sku", "customer_id", "store_id"]  # source ids: trimmed so " A1" and "A1" are one member
_NUMBERS = ["quantity", "unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost"]
_MONEY = ["unit_price", "total_amount", "discount_percentage", "tax_amount", "shipping_cost"]
UNKNOWN_CUSTOMER = "(unknown)"
NO_SALE_ID = -1  # the sale_id of a row without a transaction id (keys are >= 0)
_STAGED_SCHEMA = StagedSaleModel.to_schema()


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
    empty = (out == "").to_numpy(dtype=bool, na_value=False)
    return out.mask(empty) if empty.any() else out  # masking copies every text: only when needed


def _reasons_from_pandera(err: pa.errors.SchemaErrors, df: pd.DataFrame) -> pd.Series:
    """Readable reasons per row (schemas.reasons, the ingestion's wording), '; '-joined."""
    cases = failure_cases(err, "canonical rows do not have the shape the warehouse expects")
    texts: dict[Any, set[str]] = {}
    for label, _, _, text in translate(cases, df):
        texts.setdefault(label, set()).add(text)
    reasons = pd.Series({label: "; ".join(sorted(found)) for label, found in texts.items()}, dtype="object")
    return reasons.reindex(df.index)


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    """Canonical text ('' as missing, source ids trimmed) and numbers (float64), in place."""
    for col in _TEXT:
        df[col] = _text(df[col], strip=col in _IDS)
    for col in _NUMBERS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df


def sale_keys(df: pd.DataFrame) -> np.ndarray:
    """Each row's sale_id (keys.surrogate_key of retailer_code and transaction_id), NO_SALE_ID
    for a row without a transaction id."""
    keys = surrogate_key(df["retailer_code"].fillna(""), df["transaction_id"].fillna(""), repeated=False)
    return np.where(df["transaction_id"].notna().to_numpy(), keys, NO_SALE_ID)


def latest_versions(df: pd.DataFrame) -> pd.DataFrame:
    """The latest version of each transaction (by ingested_at; a corrected row, or a row moved to
    another day); rows without a transaction id are all kept (quarantined later)."""
    key = ["retailer_code", "transaction_id"]
    sale_key = pd.Series(df["sale_id"].to_numpy() if "sale_id" in df.columns else sale_keys(df))
    maybe_dup = sale_key.duplicated(keep=False).to_numpy() & df["transaction_id"].notna().to_numpy()
    if maybe_dup.any() and df[maybe_dup].duplicated(key, keep=False).any():
        order = df["ingested_at"].fillna("")
        df = df.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order")
        df = df[~df.duplicated(key, keep="last") | df["transaction_id"].isna()]
        df = df.sort_index().reset_index(drop=True)
    return df


def _dates(texts: pd.Series) -> pd.Series:
    """YYYY-MM-DD texts as dates (NaT where not one), each distinct text parsed once."""
    codes, uniques = pd.factorize(texts)
    parsed = pd.to_datetime(pd.Series(uniques, dtype=texts.dtype), format="%Y-%m-%d", errors="coerce")
    values = np.append(parsed.to_numpy(), np.array(["NaT"], dtype=parsed.dtype))  # code -1: missing
    return pd.Series(values[codes], index=texts.index)


def stage_rows(df: pd.DataFrame, retailers: dict[str, Any], run_date: str,
               lookback_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalized rows, one version per transaction -> (loadable rows, quarantined rows): the
    checks of `stage_sales`, row by row (so a chunk is staged as the whole would be)."""
    start, end = window_of(run_date, lookback_days)
    df = df.reset_index(drop=True)
    if "sale_id" not in df.columns:
        df["sale_id"] = sale_keys(df)
    df["store_external_id"] = df["store_id"]
    df["customer_external_id"] = df["customer_id"].fillna(UNKNOWN_CUSTOMER)

    reasons = pd.Series(pd.NA, index=df.index, dtype="object")
    doubtful = judged_rows(df, _STAGED_SCHEMA)
    if len(doubtful):
        suspects = df.iloc[doubtful]
        try:
            StagedSaleModel.validate(suspects, lazy=True)
        except pa.errors.SchemaErrors as err:
            reasons = _reasons_from_pandera(err, suspects).reindex(df.index)

    def add(mask: pd.Series, reason: str) -> None:
        nonlocal reasons
        if mask.any():
            reasons = reasons.mask(mask & reasons.isna(), reason).mask(
                mask & reasons.notna() & (reasons != reason), reasons + "; " + reason)

    known = df["retailer_code"].isin(pd.Series(list(retailers), dtype="str"))
    add(df["retailer_code"].notna() & ~known, "retailer_code not in conf/base/retailers.yml")
    ts = pd.to_datetime(df["transaction_ts"], utc=True, format="ISO8601", errors="coerce")
    add(ts.isna(), "transaction_ts missing or not ISO 8601")
    day = _dates(df["sale_date"])
    add(day.isna(), "sale_date missing or not YYYY-MM-DD")
    ts_day = local_days(ts, df["retailer_code"].where(known), retailers)
    add(day.notna() & ts_day.notna() & (ts_day != day),
        "sale_date is not the date of transaction_ts in the retailer's time zone")
    add(day.notna() & ((day < pd.Timestamp(start)) | (day > pd.Timestamp(end))),
        f"sale_date outside the run window {start}..{end}")

    bad = reasons.notna()
    quarantine = _quarantine_rows(df[bad], reasons[bad], start, end, run_date)
    good = ~bad.to_numpy()
    staged = df if good.all() else df[good]
    staged["quantity"] = staged["quantity"].astype("int64")
    good_day = day[good]
    staged["date_id"] = (good_day.dt.year * 10000 + good_day.dt.month * 100 + good_day.dt.day).astype("int64").to_numpy()
    staged["ts_order"] = ts[good].astype("int64").to_numpy()
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
