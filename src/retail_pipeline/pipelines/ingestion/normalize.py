"""Normalization: one retailer's source records -> canonical records, plus parse issues per row.

`normalize_sales` maps the records as `RetailerApiDataset` served them to the canonical sales
record, using the retailer's `source` parameters: the field mapping, the timestamp format and
the money format. Values that cannot be parsed are kept (as nulls) with a readable issue, never
dropped; money is never rounded (more than two decimals is an issue), and values too large to
hold are reported as out of range. Everything is vectorised; per-row Python only runs for rows
that failed something.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow

from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS, EXTRA_MEASURES
from retail_pipeline.schemas.rules import MAX_QUANTITY, MONEY_SCALE, fits_money_scale

log = logging.getLogger(__name__)

TEXT_FIELDS = ("transaction_id", "product_sku", "product_name", "category", "customer_id", "store_id")
# Optional text: an empty string at source means "not given".
BLANK_IS_NULL = ("category", "customer_id", "store_id")
MONEY_FIELDS = ("unit_price", "total_amount", *EXTRA_MEASURES)
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


def _shown(value: Any, limit: int = 40) -> str:
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _source_column(frame: pd.DataFrame, fields: dict, canonical: str) -> pd.Series:
    source = fields.get(canonical)
    if not source:
        return pd.Series(np.full(len(frame), None, dtype=object), index=frame.index)
    if source not in frame.columns:
        raise KeyError(
            f"source field {source!r} (mapped to {canonical}) is not in the extracted records; "
            f"fields present: {', '.join(map(str, frame.columns))}. Fix the retailer's field "
            f"mapping in conf/base/parameters_ingestion.yml or its source model."
        )
    return frame[source]


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


def _timestamps(raw: pd.Series, spec: dict, source: str, issues: _Issues) -> pd.Series:
    """Parse the source timestamp to UTC per the retailer's `timestamp` parameters."""
    epoch = spec.get("epoch")
    if epoch:
        numbers = pd.to_numeric(raw, errors="coerce")
        ts = pd.to_datetime(numbers, unit=epoch, utc=True, errors="coerce")
    else:
        text = raw.astype("str").str.strip()
        tz = spec.get("timezone", "UTC")
        fmt = spec.get("format", "ISO8601")
        if tz == "UTC":
            ts = pd.to_datetime(text, format=fmt, utc=True, errors="coerce")
        else:
            naive = pd.to_datetime(text, format=fmt, errors="coerce")
            ts = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    bad = raw.notna().to_numpy() & ts.isna().to_numpy()
    if bad.any():
        expected = f"epoch {epoch}" if epoch else spec.get("format", "ISO8601")
        issues.add(bad, "transaction_ts",
                   lambda v: f"transaction_ts: unparseable timestamp in {source}, expected {expected} (got {_shown(v)})",
                   raw)
    return ts


def _decode(codes: np.ndarray, labels: list[str]) -> pd.Series:
    """A `str` column from codes into labels (code -1: null), built by Arrow in one pass."""
    indices = pyarrow.array(codes, mask=codes < 0, type=pyarrow.int32())
    dictionary = pyarrow.array(labels, type=pyarrow.large_string())
    text = pyarrow.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()
    return pd.Series(pd.array(text, dtype="str"))


def _iso_utc(ts: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(ISO 8601 'YYYY-MM-DDTHH:MM:SS[.fff]Z', 'YYYY-MM-DD'), nulls kept.

    A window has far fewer distinct instants than records, so each distinct value is
    formatted once and the columns are built from them.
    """
    naive = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    missing = np.isnat(naive)
    distinct, inverse = np.unique(naive[~missing], return_inverse=True)
    inverse = inverse.reshape(-1)
    whole = distinct.astype("datetime64[s]")
    labels = np.datetime_as_string(whole, unit="s").astype(object)
    sub_second = distinct != whole
    if sub_second.any():
        labels[sub_second] = np.datetime_as_string(distinct[sub_second].astype("datetime64[ms]"), unit="ms")
    days, day_of_distinct = np.unique(whole.astype("datetime64[D]"), return_inverse=True)
    ts_codes = np.full(len(naive), -1, dtype="int32")
    ts_codes[~missing] = inverse
    day_codes = np.full(len(naive), -1, dtype="int32")
    day_codes[~missing] = day_of_distinct.reshape(-1)[inverse]
    return (_decode(ts_codes, [f"{label}Z" for label in labels]),
            _decode(day_codes, list(np.datetime_as_string(days, unit="D"))))


def _constant(value: str, n: int) -> pd.Series:
    """A `str` column holding one value (retailer code, run id, ingestion time)."""
    return _decode(np.zeros(n, dtype="int32"), [value])


def release_memory() -> None:
    """Hand memory freed by Arrow back to the OS (its allocator keeps it for reuse otherwise,
    and numpy/Python cannot reuse it): called between retailers and between the steps."""
    pyarrow.default_memory_pool().release_unused()


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_sales(api_sales: pd.DataFrame, source: dict, run_id: str) -> tuple[pd.DataFrame, dict]:
    """Map one retailer's source records to canonical records (plus parse issues per row).

    Args:
        api_sales: records as served, with `source_page` and `source_record` (see
            RetailerApiDataset); `attrs["extraction"]` carries the extraction statistics.
        source: the retailer's parameters: `retailer_code`, `fields` (canonical -> source
            field), `timestamp` ({format, timezone} or {epoch: ms}), `money` ('number'|'text').
        run_id: lineage id of this run.

    Returns:
        The canonical frame (canonical dtypes, plus an `_issues` column for the split) and the
        extraction stats. `source_record` is the extracted column itself, not a copy.
    """
    code = source["retailer_code"]
    fields = dict(source["fields"])
    missing = [name for name in REQUIRED_MAPPING if not fields.get(name)]
    if missing:
        raise ValueError(f"{code}: the field mapping has no source field for {', '.join(missing)}")
    stats = dict(api_sales.attrs.get("extraction") or {})
    stats.setdefault("retailer_code", code)
    ingested_at = utc_now_iso()
    stats["ingested_at"] = ingested_at

    frame = api_sales.reset_index(drop=True)
    n = len(frame)
    issues = _Issues(n)
    out: dict[str, pd.Series] = {"retailer_code": _constant(code, n)}
    for name in TEXT_FIELDS:
        out[name] = _text(_source_column(frame, fields, name), blank_is_null=name in BLANK_IS_NULL)
    out["quantity"] = _quantity(_source_column(frame, fields, "quantity"), fields["quantity"], issues)
    money_style = source.get("money", "number")
    for name in MONEY_FIELDS:
        raw = _source_column(frame, fields, name)
        out[name] = _money(raw, money_style, name, fields.get(name) or "-", issues)
    ts = _timestamps(_source_column(frame, fields, "transaction_ts"), source.get("timestamp") or {},
                     fields["transaction_ts"], issues)
    out["transaction_ts"], out["sale_date"] = _iso_utc(ts)
    del ts
    out["source_record"] = frame["source_record"].astype("str")
    out["source_page"] = frame["source_page"].astype("int64")
    out["run_id"] = _constant(str(run_id), n)
    out["ingested_at"] = _constant(ingested_at, n)
    normalized = pd.DataFrame(out, columns=list(CANONICAL_COLUMNS), copy=False)
    del out, frame
    normalized[ISSUES] = issues.column()
    log.info("%s: normalized %d records (%d with parse issues)", code, n, len(issues.by_row))
    return normalized, stats


