"""Ingestion nodes: the same functions for every retailer; what differs is configuration.

`normalize_sales` maps one retailer's source records (as `RetailerApiDataset` served them) to
the canonical sales record, using the retailer's `source` parameters: the field mapping, the
timestamp format and the money format. Values that cannot be parsed are kept (as nulls) with a
readable issue, never dropped.

`split_valid_quarantine` runs the canonical pandera model (`schemas.canonical.CanonicalSale`)
lazily over all rows, turns its failure cases into readable reasons per row, and splits the
rows into `raw_sales` (valid) and `quarantined_sales` (with `reasons`). It also counts rows per
day so that received = written + quarantined can be checked per retailer and day.

`ingest_sales` is the node: it calls the two in turn, so a retailer's normalized frame lives
only inside that node (never as a dataset waiting for another node) and is freed when it
returns, before the next retailer is extracted.

`build_manifest` writes those counts and the extraction statistics (pages, requests, retries,
the source's own total) into the run's manifest.

Everything is vectorised; per-row Python only runs for rows that failed something.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow

from retail_pipeline.run_window import parse_run_date, window_dates
from retail_pipeline.schemas.canonical import (
    CANONICAL_COLUMNS,
    EXTRA_MEASURES,
    MAX_TEXT,
    QUARANTINE_COLUMNS,
    CanonicalSale,
)

log = logging.getLogger(__name__)

TEXT_FIELDS = ("transaction_id", "product_sku", "product_name", "category", "customer_id", "store_id")
# Optional text: an empty string at source means "not given".
BLANK_IS_NULL = ("category", "customer_id", "store_id")
MONEY_FIELDS = ("unit_price", "total_amount", *EXTRA_MEASURES)
REQUIRED_MAPPING = ("transaction_id", "transaction_ts", "product_sku", "product_name", "quantity",
                    "unit_price", "total_amount")
_DECIMAL_TEXT = r"^[+-]?\d+(\.\d+)?$"
ISSUES = "_issues"  # column of [(canonical column, reason), ...] or None, normalized frame only


# --------------------------------------------------------------------------------------------
# normalization
# --------------------------------------------------------------------------------------------
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
    """Parse money (JSON numbers for style 'number'; plain decimal text for style 'text')."""
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
    bad = raw.notna().to_numpy() & values.isna().to_numpy()
    if bad.any():
        issues.add(bad, column, lambda v: f"{column}: unparseable money in {source} (got {_shown(v)})", raw)
    values = values.where(np.isfinite(values))
    return values.round(2)


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


# --------------------------------------------------------------------------------------------
# validation and split
# --------------------------------------------------------------------------------------------
_PRIORITY = {"not_nullable": 0, "parse": 0}


def _reason(column: str | None, check: str, value: Any, row: dict | None) -> str:
    """A sentence a person can act on, for one pandera failure case."""
    if check == "not_nullable":
        return f"{column} is missing"
    if check.startswith("greater_than_or_equal_to"):
        return f"{column} must be >= {check[len('greater_than_or_equal_to('):-1]} (got {value})"
    if check.startswith("greater_than"):
        return f"{column} must be > {check[len('greater_than('):-1]} (got {value})"
    if check.startswith("in_range"):
        return f"{column} must be in {check[len('in_range'):]} (got {value})"
    if check.startswith("str_length"):
        text = "" if value is None else str(value)
        if text == "":
            return f"{column} is empty"
        return f"{column} is longer than {MAX_TEXT} characters (got {len(text)})"
    if check.startswith("str_matches"):
        if value is not None and str(value) == "":
            return f"{column} is empty"
        if column in ("transaction_ts", "ingested_at", "sale_date"):
            return f"{column} is not an ISO 8601 UTC value (got {_shown(value)})"
        return f"{column} is not a safe identifier: letters, digits and _.:/#- only (got {_shown(value)})"
    if check == "total_matches_quantity_x_price" and row is not None:
        q, p, t = row["quantity"], row["unit_price"], row["total_amount"]
        return (f"total_amount {t:.2f} differs from quantity {q:g} x unit_price {p:.2f} = {q * p:.2f} "
                f"by more than a cent")
    if check == "not_in_future" and row is not None:
        return f"transaction_ts {row['transaction_ts']} is in the future (ingested at {row['ingested_at']})"
    if check == "transaction_id_unique" and row is not None:
        return (f"duplicate transaction_id {row['transaction_id']!r}: an earlier record in this "
                f"window has the same id (the first one is kept)")
    return f"{column or 'record'} failed check {check} (got {_shown(value)})"


def _validation_view(normalized: pd.DataFrame) -> pd.DataFrame:
    """The canonical columns with exact dtypes; null quantities become 0 (reported as missing)."""
    columns = {name: normalized[name] for name in CANONICAL_COLUMNS}
    columns["quantity"] = columns["quantity"].fillna(0).astype("int64")
    return pd.DataFrame(columns, copy=False)


def _pandera_failures(view: pd.DataFrame) -> pd.DataFrame | None:
    try:
        CanonicalSale.validate(view, lazy=True, inplace=True)  # the view is ours: no copy
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        schema_level = cases[cases["index"].isna()]
        if len(schema_level):
            raise ValueError(
                "the normalized frame does not fit the canonical model (a bug in the ingestion "
                f"nodes, not bad data):\n{schema_level.to_string()}"
            ) from exc
        return cases
    return None


def row_reasons(normalized: pd.DataFrame) -> dict[int, list[str]]:
    """Reasons per row position, from parse issues, null quantities and the canonical model."""
    per_row: dict[int, dict[str, tuple[int, str]]] = defaultdict(dict)
    frame_level: dict[int, list[str]] = defaultdict(list)

    def put(pos: int, column: str, priority: int, text: str) -> None:
        current = per_row[pos].get(column)
        if current is None or priority < current[0]:
            per_row[pos][column] = (priority, text)

    issues = normalized[ISSUES].to_numpy()
    for pos in np.flatnonzero(pd.notna(issues) & (issues != None)):  # noqa: E711
        for column, text in issues[pos]:
            put(int(pos), column, 0, text)
    quantity_missing = normalized["quantity"].isna().to_numpy()
    for pos in np.flatnonzero(quantity_missing):
        put(int(pos), "quantity", 1, "quantity is missing")

    view = _validation_view(normalized)
    cases = _pandera_failures(view)
    if cases is None:
        return _merge_reasons(per_row, frame_level)
    cases = cases.drop_duplicates(["index", "check"], keep="first")
    rows = cases["index"].astype("int64").tolist()
    checks = cases["check"].astype(str).tolist()
    contexts = cases["schema_context"].astype(str).tolist()
    columns = cases["column"].tolist()
    values = cases["failure_case"].tolist()
    del cases
    # The few rows failing a whole-record check: their fields, fetched once for all of them.
    frame_rows = sorted({pos for pos, context in zip(rows, contexts, strict=True) if context == "DataFrameSchema"})
    record = {}
    if frame_rows:
        fields = ("quantity", "unit_price", "total_amount", "transaction_ts", "ingested_at", "transaction_id")
        picked = {name: view[name].iloc[frame_rows].tolist() for name in fields}
        record = {pos: {name: picked[name][i] for name in fields} for i, pos in enumerate(frame_rows)}
    for pos, check, context, column, value in zip(rows, checks, contexts, columns, values, strict=True):
        if context == "DataFrameSchema":
            if check == "total_matches_quantity_x_price" and per_row[pos].keys() & {
                    "quantity", "unit_price", "total_amount"}:
                continue  # its inputs already have a reason of their own
            frame_level[pos].append(_reason(None, check, None, record[pos]))
            continue
        column = str(column)
        if column == "quantity" and quantity_missing[pos]:
            continue  # the placeholder 0 of a missing quantity
        priority = _PRIORITY.get(check, 1 if check.startswith("str_length") else 2)
        put(pos, column, priority, _reason(column, check, value, None))

    del view
    return _merge_reasons(per_row, frame_level)


def _merge_reasons(per_row: dict, frame_level: dict) -> dict[int, list[str]]:
    order = {name: i for i, name in enumerate(CANONICAL_COLUMNS)}
    reasons: dict[int, list[str]] = {}
    for pos in set(per_row) | set(frame_level):
        columns = sorted(per_row.get(pos, {}).items(), key=lambda item: order.get(item[0], 99))
        reasons[pos] = [text for _, (_, text) in columns] + frame_level.get(pos, [])
    return {pos: texts for pos, texts in reasons.items() if texts}


def _check_name(reason: str) -> str:
    """A stable short key for counting reasons in the manifest."""
    for key, kind in (("unparseable money", "unparseable_money"), ("unparseable timestamp", "unparseable_timestamp"),
                      ("is missing", "missing_value"), ("is empty", "empty_value"),
                      ("longer than", "overlong_text"), ("safe identifier", "unsafe_identifier"),
                      ("must be >", "out_of_range"), ("must be in", "out_of_range"),
                      ("whole number", "out_of_range"), ("not a number", "unparseable_number"),
                      ("differs from quantity", "total_mismatch"), ("in the future", "future_date"),
                      ("duplicate transaction_id", "duplicate_id"), ("outside the window", "outside_window")):
        if key in reason:
            return kind
    return "other"


def split_valid_quarantine(normalized: pd.DataFrame, extraction_stats: dict) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Split normalized records into raw (valid) and quarantine (with reasons), and count.

    Returns:
        raw_sales: canonical rows that passed every check (CanonicalSale).
        quarantined_sales: the other rows, each with `reasons` (list of readable strings),
            `sale_date` = its business date, or the run date when it has none in the window.
        summary: per-day and total counts, and reasons counted by kind, for the manifest.

    The normalized frame is consumed: its columns move into the two outputs one by one (it is
    left without them), so a window is held about once, not twice. Pass a frame you own.
    """
    window_start = parse_run_date(extraction_stats["window_start"]).isoformat()
    window_end = parse_run_date(extraction_stats["window_end"]).isoformat()
    days = [d.isoformat() for d in window_dates(window_start, window_end)]
    if not normalized.index.equals(pd.RangeIndex(len(normalized))):
        normalized = normalized.reset_index(drop=True)
    n = len(normalized)

    reasons = row_reasons(normalized)
    release_memory()  # what the validation's Arrow string checks allocated
    sale_date = normalized["sale_date"]
    outside = (sale_date.notna() & ~sale_date.isin(days)).to_numpy()
    for pos in np.flatnonzero(outside):
        reasons.setdefault(int(pos), []).append(
            f"sale_date {sale_date.iloc[pos]} is outside the window {window_start}..{window_end} "
            f"that was requested")
    del sale_date

    bad = np.zeros(n, dtype=bool)
    if reasons:
        bad[list(reasons)] = True
    good = ~bad
    positions = np.flatnonzero(bad)
    valid_columns: dict[str, pd.Series] = {}
    held_columns: dict[str, pd.Series] = {}
    for name in CANONICAL_COLUMNS:  # each column leaves the normalized frame as it is split
        column = normalized.pop(name)
        valid_columns[name] = column[good].reset_index(drop=True) if bad.any() else column
        held_columns[name] = column[bad].reset_index(drop=True)
        del column
    valid = pd.DataFrame(valid_columns, copy=False)
    quarantined = pd.DataFrame(held_columns, copy=False)
    del valid_columns, held_columns
    valid["quantity"] = valid["quantity"].astype("int64")
    quarantined["quantity"] = quarantined["quantity"].astype("Int64")  # whole numbers or null
    quarantined["reasons"] = pd.Series([reasons[int(pos)] for pos in positions], index=quarantined.index,
                                       dtype=object)
    q_date = quarantined["sale_date"]
    quarantined["sale_date"] = q_date.where(q_date.isin(days), window_end).astype("str")
    quarantined = quarantined.loc[:, list(QUARANTINE_COLUMNS)]

    written = valid.groupby("sale_date", sort=False).agg(rows=("transaction_id", "size"),
                                                         amount=("total_amount", "sum"))
    held = quarantined.groupby("sale_date", sort=False).size()
    per_day = []
    for day in days:
        rows_written = int(written["rows"].get(day, 0)) if len(written) else 0
        rows_quarantined = int(held.get(day, 0)) if len(held) else 0
        amount = float(written["amount"].get(day, 0.0)) if len(written) else 0.0
        per_day.append({"sale_date": day, "rows_received": rows_written + rows_quarantined,
                        "rows_written": rows_written, "rows_quarantined": rows_quarantined,
                        "total_amount_written": round(amount, 2)})
    by_kind = Counter(_check_name(text) for texts in reasons.values() for text in texts)
    summary = {
        "rows_received": n,
        "rows_written": len(valid),
        "rows_quarantined": len(quarantined),
        "reasons_by_kind": dict(sorted(by_kind.items())),
        "days": per_day,
    }
    if summary["rows_written"] + summary["rows_quarantined"] != n:  # pragma: no cover - invariant
        raise AssertionError(f"rows lost in the split: {n} received, {summary}")
    code = extraction_stats.get("retailer_code", "?")
    log.info("%s: %d received, %d valid, %d quarantined %s", code, n, len(valid), len(quarantined),
             summary["reasons_by_kind"] or "")
    return valid, quarantined, summary


# --------------------------------------------------------------------------------------------
# the node
# --------------------------------------------------------------------------------------------
def ingest_sales(api_sales: pd.DataFrame, source: dict, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict]:
    """One retailer's window: `normalize_sales`, then `split_valid_quarantine`.

    One node, so the normalized frame never waits in memory for another node (with one
    namespace per retailer, Kedro would run every retailer's normalization before any split);
    the split consumes it, and it is gone when the node returns.

    Returns:
        raw_sales, quarantined_sales, summary (see `split_valid_quarantine`) and the
        extraction stats (see `normalize_sales`).
    """
    release_memory()  # what the previous retailer's frames left in Arrow's pool
    normalized, stats = normalize_sales(api_sales, source, run_id)
    release_memory()
    valid, quarantined, summary = split_valid_quarantine(normalized, stats)
    return valid, quarantined, summary, stats


# --------------------------------------------------------------------------------------------
# manifest
# --------------------------------------------------------------------------------------------
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
    if manifest["source_total_matches"] is False:
        log.warning("%s: the API reported total=%s but served %d rows (rows changed while paging?)",
                    manifest["retailer_code"], source_total, summary["rows_received"])
    return manifest
