"""Validation and split: canonical records -> raw (valid) rows and quarantine rows with reasons.

`split_valid_quarantine` runs the canonical pandera model (`schemas.canonical.CanonicalSale`,
whose bounds are the sale rules) lazily over all rows, turns its failure cases and the parse
issues of normalization into readable reasons per row, and splits the rows into valid ones and
quarantined ones (with `reasons`). It also counts rows per day so that received = written +
quarantined can be checked per retailer and day. Reason texts map to stable kinds
(`_check_name`) that the manifest counts.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pandera.pandas as pa

from retail_pipeline.pipelines.ingestion.normalize import ISSUES, release_memory
from retail_pipeline.pipelines.ingestion.window_state import SeenIds, WindowTally
from retail_pipeline.run_window import parse_run_date, window_dates
from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS, QUARANTINE_COLUMNS, CanonicalSale
from retail_pipeline.schemas.precheck import judged_rows
from retail_pipeline.schemas.reasons import failure_cases, reason, translate

log = logging.getLogger(__name__)


_PRIORITY = {"not_nullable": 0, "parse": 0}
_SCHEMA = CanonicalSale.to_schema()


def _validation_view(normalized: pd.DataFrame) -> pd.DataFrame:
    """The canonical columns with exact dtypes; null quantities become 0 (reported as missing)."""
    columns = {name: normalized[name] for name in CANONICAL_COLUMNS}
    columns["quantity"] = columns["quantity"].fillna(0).astype("int64")
    return pd.DataFrame(columns, copy=False)


def _pandera_failures(view: pd.DataFrame, precheck: bool = True) -> pd.DataFrame | None:
    """pandera's failure cases, labelled by row position in `view`. With `precheck`, pandera
    judges only the rows the schema's pre-check leaves to it (schemas/precheck.py; its dtypes
    and shape are still checked, on an empty frame when no row is): the same cases, a fraction
    of the time."""
    rows = judged_rows(view, _SCHEMA) if precheck else None
    judged = view if rows is None else view.iloc[rows].reset_index(drop=True)
    try:
        CanonicalSale.validate(judged, lazy=True, inplace=True)  # the view is ours: no copy
    except pa.errors.SchemaErrors as exc:
        cases = failure_cases(exc, "the normalized frame does not fit the canonical model")
        if rows is not None:
            cases = cases.assign(index=rows[cases["index"].to_numpy()])
        return cases
    return None


def row_reasons(normalized: pd.DataFrame, met_before: np.ndarray | None = None) -> dict[int, list[str]]:
    """Reasons per row position, from parse issues, null quantities and the canonical model.

    `met_before` (a chunk of a window): rows whose id an earlier chunk had. The model sees one
    chunk, so it flags the repeats inside it; the first copy in this chunk of an id met before
    gets the same reason here, in the same place (the duplicate check is the model's last).
    """
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
    if cases is not None:
        _case_reasons(cases, view, per_row, frame_level, quantity_missing, put)
    del view, cases
    if met_before is not None and met_before.any():
        ids = normalized["transaction_id"]
        for pos in np.flatnonzero(met_before & ~ids.duplicated(keep="first").to_numpy()):
            frame_level[int(pos)].append(reason(None, "transaction_id_unique", None,
                                                {"transaction_id": ids.iloc[pos]}))
    return _merge_reasons(per_row, frame_level)


def _own_values(cases: pd.DataFrame, view: pd.DataFrame) -> pd.DataFrame:
    """Each column case's value as the row holds it: pandera gathers the failing values of all
    columns into one column, whose dtype (ints shown as floats when only numbers failed)
    would make a reason depend on the other rows validated with it, i.e. on the chunk."""
    values = cases["failure_case"].to_numpy(dtype=object).copy()
    columns, rows = cases["_column"].to_numpy(dtype=object), cases["index"].to_numpy()
    for name in set(columns) - {""}:
        if name in view.columns:
            mask = columns == name
            values[mask] = view[name].to_numpy(dtype=object)[rows[mask]]
    return cases.assign(failure_case=values)


def _case_reasons(cases: pd.DataFrame, view: pd.DataFrame, per_row: dict, frame_level: dict,
                  quantity_missing: np.ndarray, put) -> None:
    # One case per row and check (schemas.reasons); a whole-record check once, column ''.
    for pos, column, check, text in translate(_own_values(cases, view), view):
        pos = int(pos)
        if column == "":
            if check == "total_matches_quantity_x_price" and per_row[pos].keys() & {
                    "quantity", "unit_price", "total_amount"}:
                continue  # its inputs already have a reason of their own
            frame_level[pos].append(text)
            continue
        if column == "quantity" and quantity_missing[pos]:
            continue  # the placeholder 0 of a missing quantity
        if column == "sale_date" and "transaction_ts" in per_row[pos]:
            continue  # derived from transaction_ts, which has its own reason
        priority = _PRIORITY.get(check, 1 if check.startswith("str_length") else 2)
        put(pos, column, priority, text)


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
                      ("must be >", "out_of_range"), ("must be <", "out_of_range"),
                      ("must be in", "out_of_range"), ("out of range", "out_of_range"),
                      ("decimals", "excess_decimals"), ("whole number of cents", "fractional_cents"),
                      ("does not exist in", "nonexistent_local_time"), ("is ambiguous in", "ambiguous_local_time"),
                      ("whole number", "out_of_range"), ("not a number", "unparseable_number"),
                      ("differs from quantity", "total_mismatch"), ("in the future", "future_date"),
                      ("duplicate transaction_id", "duplicate_id"), ("outside the window", "outside_window")):
        if key in reason:
            return kind
    return "other"


def split_valid_quarantine(normalized: pd.DataFrame, extraction_stats: dict) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Split a whole window's normalized records into raw (valid) and quarantine (with
    reasons), and count (`split_chunk` over one chunk, summed by a `WindowTally`).

    Returns:
        raw_sales: canonical rows that passed every check (CanonicalSale).
        quarantined_sales: the other rows, each with `reasons` (list of readable strings),
            `sale_date` = its business date, or the run date when it has none in the window.
        summary: per-day and total counts, and reasons counted by kind, for the manifest.
    """
    valid, quarantined, counts = split_chunk(normalized, extraction_stats)
    tally = WindowTally(window_days(extraction_stats))
    tally.add(counts)
    summary = tally.summary()
    log.info("%s: %d received, %d valid, %d quarantined %s", extraction_stats.get("retailer_code", "?"),
             summary["rows_received"], len(valid), len(quarantined), summary["reasons_by_kind"] or "")
    return valid, quarantined, summary


def window_days(extraction_stats: dict) -> list[str]:
    window_start = parse_run_date(extraction_stats["window_start"]).isoformat()
    window_end = parse_run_date(extraction_stats["window_end"]).isoformat()
    return [d.isoformat() for d in window_dates(window_start, window_end)]


def split_chunk(normalized: pd.DataFrame, extraction_stats: dict,
                seen: SeenIds | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(valid rows, quarantined rows, counts) of one chunk of a window (or of all of it).

    `seen`: the ids of the window's earlier chunks (a repeat of one is a duplicate, as in a
    whole window); the chunk's ids are added to it. The counts (`WindowTally.add`): rows
    received, per day [written, quarantined, cents written], reasons by kind.

    The normalized frame is consumed: its columns move into the two outputs one by one (it is
    left without them), so a chunk is held about once, not twice. Pass a frame you own.
    """
    days = window_days(extraction_stats)
    window_start, window_end = days[0], days[-1]
    if not normalized.index.equals(pd.RangeIndex(len(normalized))):
        normalized = normalized.reset_index(drop=True)
    n = len(normalized)

    met = seen.met_before(normalized["transaction_id"]) if seen is not None else None
    reasons = row_reasons(normalized, met)
    del met
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

    # Day totals in whole cents (exact; a float sum drifts on large days).
    cents = pd.Series(np.rint(valid["total_amount"].to_numpy(dtype="float64") * 100).astype("int64"),
                      index=valid.index)
    written = cents.groupby(valid["sale_date"], sort=False).agg(["size", "sum"])
    held = quarantined.groupby("sale_date", sort=False).size()
    per_day = {}
    for day in days:
        rows_written = int(written["size"].get(day, 0)) if len(written) else 0
        rows_quarantined = int(held.get(day, 0)) if len(held) else 0
        day_cents = int(written["sum"].get(day, 0)) if len(written) else 0
        per_day[day] = (rows_written, rows_quarantined, day_cents)
    by_kind = Counter(_check_name(text) for texts in reasons.values() for text in texts)
    if len(valid) + len(quarantined) != n:  # pragma: no cover - invariant
        raise AssertionError(f"rows lost in the split: {n} received, {len(valid)} + {len(quarantined)}")
    log.debug("%s: chunk of %d: %d valid, %d quarantined", extraction_stats.get("retailer_code", "?"), n,
              len(valid), len(quarantined))
    return valid, quarantined, {"rows_received": n, "per_day": per_day, "reasons_by_kind": by_kind}
