"""Normalization: one retailer's source records -> canonical records, plus parse issues per row.

`normalize_sales` maps the records as `RetailerApiDataset` served them to the canonical sales
record, using the retailer's registry entry (conf/base/retailers.yml): `source.fields` (a
field, or a list of fields joined with '-' for a composite id), `source.timestamp` with the
entry's `timezone` (timestamps.py), and `source.money` (number, text or integer cents). Values
that cannot be parsed are kept (as nulls) with a readable issue, never dropped; money is never
rounded (more than two decimals, or a fraction of a cent, is an issue), and values too large
to hold are reported as out of range. Everything is vectorised; per-row Python only runs for
rows that failed something (and for cents served as mixed Python values).
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute

from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS, EXTRA_MEASURES, ISO_UTC_PATTERN
from retail_pipeline.schemas.reasons import shown as _shown
from retail_pipeline.schemas.rules import MAX_QUANTITY, MONEY_SCALE, fits_money_scale

from .timestamps import check_timezone, decode, iso_utc_and_local_date, parse_timestamps

log = logging.getLogger(__name__)

TEXT_FIELDS = ("transaction_id", "product_sku", "product_name", "category", "customer_id", "store_id")
# Optional text: an empty string at source means "not given".
BLANK_IS_NULL = ("category", "customer_id", "store_id")
MONEY_FIELDS = ("unit_price", "total_amount", *EXTRA_MEASURES)
MONEY_STYLES = ("number", "text", "cents")
REQUIRED_MAPPING = ("transaction_id", "transaction_ts", "product_sku", "product_name", "quantity",
                    "unit_price", "total_amount")
_DECIMAL_TEXT = r"^[+-]?\d+(\.\d+)?$"
ISSUES = "_issues"  # column of [(canonical column, reason), ...] or None, normalized frame only


class _Issues:
    """Parse problems per row position: [(canonical column, readable reason), ...]."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.by_row: dict[int, list[tuple[str, str]]] = defaultdict(list)

    def add(self, mask: np.ndarray, column: str, make_reason, raw: pd.Series) -> None:
        for pos in np.flatnonzero(mask):
            self.by_row[int(pos)].append((column, make_reason(raw.iloc[pos])))

    def column(self) -> np.ndarray:
        out = np.full(self.n, None, dtype=object)
        for pos, items in self.by_row.items():
            out[pos] = items
        return out


def _field(frame: pd.DataFrame, source: str, canonical: str) -> pd.Series:
    if source not in frame.columns:
        raise KeyError(
            f"source field {source!r} (mapped to {canonical}) is not in the extracted records; "
            f"fields present: {', '.join(map(str, frame.columns))}. Fix the retailer's "
            f"source.fields in conf/base/retailers.yml."
        )
    return frame[source]


def _source_column(frame: pd.DataFrame, fields: dict, canonical: str) -> pd.Series:
    source = fields.get(canonical)
    if not source:
        return pd.Series(np.full(len(frame), None, dtype=object), index=frame.index)
    if isinstance(source, list | tuple):  # a composite id: handled by _transaction_id
        raise ValueError(f"source.fields.{canonical}: only transaction_id may be a list of fields")
    return _field(frame, source, canonical)


def _source_name(fields: dict, canonical: str) -> str:
    mapped = fields.get(canonical)
    return "+".join(mapped) if isinstance(mapped, list | tuple) else (mapped or "-")


def _transaction_id(frame: pd.DataFrame, fields: dict) -> pd.Series:
    """The id as text; a list of fields (an order and its line) is joined with '-', and a
    missing or blank part leaves the id missing (so it is quarantined, not half-made)."""
    mapped = fields["transaction_id"]
    if not isinstance(mapped, list | tuple):
        return _text(_field(frame, mapped, "transaction_id"), blank_is_null=False)
    parts = [_text(_field(frame, name, "transaction_id"), blank_is_null=True) for name in mapped]
    arrays = [pyarrow.array(part.array, type=pyarrow.large_string()) for part in parts]
    separator = pyarrow.scalar("-", type=pyarrow.large_string())
    joined = pyarrow.compute.binary_join_element_wise(*arrays, separator)  # null when a part is null
    return pd.Series(pd.array(joined, dtype="str"), index=frame.index)


def _text(raw: pd.Series, blank_is_null: bool) -> pd.Series:
    if pd.api.types.is_float_dtype(raw.dtype):
        values = raw.dropna()
        if len(values) and (values == np.floor(values)).all():
            raw = raw.astype("Int64")
    text = raw.astype("str").str.strip()
    if blank_is_null:
        text = text.mask(text == "")
    return text


def _money(raw: pd.Series, style: str, column: str, source: str, issues: _Issues) -> pd.Series:
    """Parse money (JSON numbers for style 'number'; plain decimal text for style 'text').

    Never rounds: a value with more than MONEY_SCALE decimals ("12.345", or the JSON number
    12.345) keeps its value and gets a reason, so the row is quarantined; a value too large for
    a float (a 400-digit text) is reported as out of range, not as missing.
    """
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.astype("float64")
    else:
        text = raw.astype("str").str.strip()
        if style == "number":
            # JSON numbers arrive as floats; text here means the source broke its contract.
            numeric = raw.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool),
                              na_action="ignore").fillna(False).astype(bool)
            values = pd.to_numeric(raw.where(numeric), errors="coerce").astype("float64")
        else:
            ok = text.str.match(_DECIMAL_TEXT).fillna(False).astype(bool)
            values = pd.to_numeric(text.where(ok), errors="coerce").astype("float64")
    present = raw.notna().to_numpy()
    bad = present & values.isna().to_numpy()
    if bad.any():
        issues.add(bad, column, lambda v: f"{column}: unparseable money in {source} (got {_shown(v)})", raw)
    finite = np.isfinite(values.to_numpy())
    huge = present & ~bad & ~finite
    if huge.any():
        issues.add(huge, column, lambda v: f"{column}: out of range in {source} (got {_shown(v)})", raw)
    scale = present & finite & ~fits_money_scale(values)
    if scale.any():
        issues.add(scale, column, lambda v: (f"{column} has more than {MONEY_SCALE} decimals in {source} "
                                             f"(got {_shown(v)}): money is quarantined, never rounded"), raw)
    return values.where(finite)


def _cents_value(value: Any) -> float:
    """A served Python number as float (a number too large for a float is infinite)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _cents(raw: pd.Series, style: str, column: str, source: str, issues: _Issues) -> pd.Series:
    """Integer cents (JSON integers, or integral floats such as 1250.0) -> amounts, cents / 100.

    The division is exact to the cent: a whole number of cents below 2**53 is an exact float,
    and the quotient is the float nearest the decimal amount, the same float "12.50" parses to.
    Text ('1250'), booleans and a fraction of a cent (1250.5) get a reason: money is never
    rounded; a number too large for a float is out of range.
    """
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        numeric = np.ones(len(raw), dtype=bool)
        values = raw.astype("float64")
    else:
        numeric = raw.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool),
                          na_action="ignore").fillna(False).astype(bool).to_numpy()
        values = raw.where(numeric).map(_cents_value, na_action="ignore").astype("float64")
    present = raw.notna().to_numpy()
    cents = values.to_numpy()
    text = present & ~numeric
    if text.any():
        issues.add(text, column, lambda v: (f"{column}: unparseable money in {source}, expected integer cents "
                                            f"(got {_shown(v)})"), raw)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(cents)
        fraction = present & finite & (cents != np.floor(cents))
    huge = present & numeric & ~finite & ~np.isnan(cents)
    if huge.any():
        issues.add(huge, column, lambda v: f"{column}: out of range in {source} (got {_shown(v)})", raw)
    if fraction.any():
        issues.add(fraction, column, lambda v: (f"{column}: not a whole number of cents in {source} "
                                                f"(got {_shown(v)}): money is quarantined, never rounded"), raw)
    return pd.Series(np.where(finite, cents / 100, np.nan), index=raw.index)


def _quantity(raw: pd.Series, source: str, issues: _Issues) -> pd.Series:
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = raw.notna().to_numpy() & values.isna().to_numpy()
    if bad.any():
        issues.add(bad, "quantity", lambda v: f"quantity: not a number in {source} (got {_shown(v)})", raw)
    fractional = (values.notna() & (values != np.floor(values))).to_numpy()
    if fractional.any():
        issues.add(fractional, "quantity",
                   lambda v: f"quantity must be a whole number (got {_shown(v)})", raw)
        values = values.mask(fractional)
    # Beyond the bound here, so that a huge count never reaches an int64 cast.
    too_many = (values > MAX_QUANTITY).to_numpy()
    too_few = (values < -MAX_QUANTITY).to_numpy()
    if too_many.any() or too_few.any():
        issues.add(too_many, "quantity", lambda v: f"quantity must be <= {MAX_QUANTITY} (got {_shown(v)})", raw)
        issues.add(too_few, "quantity", lambda v: f"quantity must be > 0 (got {_shown(v)})", raw)
        values = values.mask(too_many | too_few)
    return values


def _constant(value: str, n: int) -> pd.Series:
    """A `str` column holding one value (retailer code, run id, ingestion time)."""
    return decode(np.zeros(n, dtype="int32"), [value])


def release_memory() -> None:
    """Hand memory freed by Arrow back to the OS (its allocator keeps it for reuse otherwise,
    and numpy/Python cannot reuse it): called between retailers and between the steps."""
    pyarrow.default_memory_pool().release_unused()


def ingestion_time(value: Any) -> str:
    """The run's ingestion time as canonical text ('YYYY-MM-DDTHH:MM:SSZ').

    It comes in as a parameter (one value for the whole run), never from the clock inside a
    node: a rerun of the same inputs gives the same rows. An aware datetime is accepted too.
    """
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and re.match(ISO_UTC_PATTERN, value):
        return value
    raise ValueError(f"ingested_at must be an ISO 8601 UTC time such as 2024-01-16T01:00:00Z "
                     f"(the run's `ingested_at` parameter), got {value!r}")


def normalize_sales(api_sales: pd.DataFrame, retailer: dict, run_id: str,
                    ingested_at: Any) -> tuple[pd.DataFrame, dict]:
    """Map one retailer's source records to canonical records (plus parse issues per row).

    Args:
        api_sales: records as served, with `source_page` and `source_record` (see
            RetailerApiDataset); `attrs["extraction"]` carries the extraction statistics,
            among them `retailer_code`, the registry code the records belong to.
        retailer: the retailer's registry entry (conf/base/retailers.yml): `timezone` and
            `source` ({fields, timestamp, money}).
        run_id: lineage id of this run.
        ingested_at: the run's ingestion time, ISO 8601 UTC (see `ingestion_time`).

    Returns:
        The canonical frame (canonical dtypes, plus an `_issues` column for the split) and the
        extraction stats. `source_record` is the extracted column itself, not a copy.
    """
    stats = dict(api_sales.attrs.get("extraction") or {})
    code = stats.get("retailer_code") or retailer.get("code")
    if not code:
        raise ValueError("the extracted records do not say which retailer they are from "
                         "(attrs['extraction']['retailer_code'], set by RetailerApiDataset)")
    if retailer.get("code") not in (None, code):
        raise ValueError(f"records of {code} normalized with the registry entry of {retailer['code']}: "
                         "check the node's inputs (params:retailers.<code>)")
    source = retailer.get("source") or {}
    fields = dict(source.get("fields") or {})
    missing = [name for name in REQUIRED_MAPPING if not fields.get(name)]
    if missing:
        raise ValueError(f"{code}: source.fields has no source field for {', '.join(missing)} "
                         f"(conf/base/retailers.yml)")
    tz = check_timezone(retailer.get("timezone") or "UTC", code)
    money_style = source.get("money", "number")
    if money_style not in MONEY_STYLES:
        raise ValueError(f"{code}: source.money must be one of {', '.join(MONEY_STYLES)}, got {money_style!r}")
    stats["retailer_code"] = code
    ingested_at = ingestion_time(ingested_at)
    stats["ingested_at"] = ingested_at

    frame = api_sales.reset_index(drop=True)
    n = len(frame)
    issues = _Issues(n)
    out: dict[str, pd.Series] = {"retailer_code": _constant(code, n)}
    for name in TEXT_FIELDS:
        out[name] = (_transaction_id(frame, fields) if name == "transaction_id" else
                     _text(_source_column(frame, fields, name), blank_is_null=name in BLANK_IS_NULL))
    out["quantity"] = _quantity(_source_column(frame, fields, "quantity"), fields["quantity"], issues)
    for name in MONEY_FIELDS:
        raw = _source_column(frame, fields, name)
        # a percentage is not money: with amounts in cents it is still a plain number
        style = "number" if money_style == "cents" and name == "discount_percentage" else money_style
        reader = _cents if style == "cents" else _money
        out[name] = reader(raw, style, name, _source_name(fields, name), issues)
    ts = parse_timestamps(_source_column(frame, fields, "transaction_ts"), source.get("timestamp") or {}, tz,
                          fields["transaction_ts"], issues)
    out["transaction_ts"], out["sale_date"] = iso_utc_and_local_date(ts, tz)
    del ts
    out["source_record"] = frame["source_record"].astype("str")
    out["source_page"] = frame["source_page"].astype("int64")
    out["run_id"] = _constant(str(run_id), n)
    out["ingested_at"] = _constant(ingested_at, n)
    normalized = pd.DataFrame(out, columns=list(CANONICAL_COLUMNS), copy=False)
    del out, frame
    normalized[ISSUES] = issues.column()
    log.debug("%s: normalized %d records (%d with parse issues)", code, n, len(issues.by_row))
    return normalized, stats
