"""Source timestamps -> UTC instants, and instants -> canonical text (UTC time, local date).

The retailer's `source.timestamp` says how its values are written: `{epoch: ms|s}` (UTC
instants) or `{format: <strptime format>|ISO8601}`. A value with a UTC offset ('...+02:00',
'Z', or a `%z` format) is that instant; a value without one is a wall-clock time in the
retailer's `timezone`. A naive time the clocks skipped (spring forward) or passed twice (fall
back) has no single instant: it gets a reason and is quarantined, never guessed. Everything is
vectorised; per-row Python only runs for rows that failed.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute

from retail_pipeline.schemas.reasons import shown

# An ISO 8601 value that carries its UTC offset: a time (HH:MM[:SS[.f]]) followed by Z or ±HH[[:]MM].
_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def check_timezone(tz: Any, code: str) -> str:
    """The retailer's IANA time zone name, refused early when unknown (a typo in the registry)."""
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{code}: timezone {tz!r} is not an IANA time zone name such as UTC or "
                         f"Europe/Paris (conf/base/retailers.yml)") from None
    return str(tz)


def _with_offset(text: pd.Series, fmt: str) -> np.ndarray:
    """Which values carry their UTC offset (so the retailer's time zone does not apply)."""
    if "%z" in fmt or "%Z" in fmt:
        return np.ones(len(text), dtype=bool)
    if fmt != "ISO8601":
        return np.zeros(len(text), dtype=bool)
    # Arrow's RE2 directly: pandas would fall back to Python's re, one value at a time
    found = pyarrow.compute.match_substring_regex(pyarrow.array(text.array, type=pyarrow.large_string()), _OFFSET)
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def _parse_naive(text: pd.Series, fmt: str, tz: str) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Wall-clock values in `tz` -> (UTC instants, skipped local times, doubled local times);
    a skipped or doubled time is NaT."""
    naive = pd.to_datetime(text, format=fmt, errors="coerce")
    none = np.zeros(len(text), dtype=bool)
    if isinstance(naive.dtype, pd.DatetimeTZDtype):  # an offset the pattern did not see
        return naive.dt.tz_convert("UTC"), none, none
    local = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    dst = (naive.notna() & local.isna()).to_numpy()
    skipped, doubled = none.copy(), none.copy()
    if dst.any():
        # with the standard-time reading forced, only a skipped time stays without an instant
        standard = naive[dst].dt.tz_localize(tz, ambiguous=np.zeros(int(dst.sum()), dtype=bool),
                                             nonexistent="NaT").notna().to_numpy()
        skipped[dst], doubled[dst] = ~standard, standard
    return local.dt.tz_convert("UTC"), skipped, doubled


def parse_timestamps(raw: pd.Series, spec: dict, tz: str, source: str, issues) -> pd.Series:
    """The source timestamps as UTC instants (NaT where a reason was added to `issues`)."""
    epoch = spec.get("epoch")
    fmt = spec.get("format", "ISO8601")
    skipped = np.zeros(len(raw), dtype=bool)
    doubled = skipped.copy()
    if epoch:
        ts = pd.to_datetime(pd.to_numeric(raw, errors="coerce"), unit=epoch, utc=True, errors="coerce")
    else:
        text = raw.astype("str").str.strip()
        aware = _with_offset(text, fmt) if tz != "UTC" else None  # UTC: naive values are UTC anyway
        if aware is None or aware.all():
            ts = pd.to_datetime(text, format=fmt, utc=True, errors="coerce")
        else:
            ts = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
            if aware.any():
                ts[aware] = pd.to_datetime(text[aware], format=fmt, utc=True, errors="coerce")
            ts[~aware], skipped[~aware], doubled[~aware] = _parse_naive(text[~aware], fmt, tz)
    if skipped.any():
        issues.add(skipped, "transaction_ts",
                   lambda v: (f"transaction_ts: local time {shown(v)} in {source} does not exist in {tz} "
                              f"(skipped when the clocks went forward)"), raw)
    if doubled.any():
        issues.add(doubled, "transaction_ts",
                   lambda v: (f"transaction_ts: local time {shown(v)} in {source} is ambiguous in {tz} "
                              f"(it happened twice when the clocks went back, and no UTC offset is given)"),
                   raw)
    bad = raw.notna().to_numpy() & ts.isna().to_numpy() & ~skipped & ~doubled
    if bad.any():
        expected = f"epoch {epoch}" if epoch else fmt
        issues.add(bad, "transaction_ts",
                   lambda v: f"transaction_ts: unparseable timestamp in {source}, expected {expected} (got {shown(v)})",
                   raw)
    return ts


def decode(codes: np.ndarray, labels: list[str]) -> pd.Series:
    """A `str` column from codes into labels (code -1: null), built by Arrow in one pass."""
    indices = pyarrow.array(codes, mask=codes < 0, type=pyarrow.int32())
    dictionary = pyarrow.array(labels, type=pyarrow.large_string())
    text = pyarrow.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()
    return pd.Series(pd.array(text, dtype="str"))


def iso_utc_and_local_date(ts: pd.Series, tz: str) -> tuple[pd.Series, pd.Series]:
    """(ISO 8601 'YYYY-MM-DDTHH:MM:SS[.fff]Z', the local 'YYYY-MM-DD' in `tz`), nulls kept.

    A window has far fewer distinct instants than records, so each distinct value is
    formatted (and placed in the time zone) once and the columns are built from them.
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
    local = whole
    if tz != "UTC" and len(whole):
        local = (pd.DatetimeIndex(whole).tz_localize("UTC").tz_convert(tz).tz_localize(None)
                 .to_numpy(dtype="datetime64[s]"))
    days, day_of_distinct = np.unique(local.astype("datetime64[D]"), return_inverse=True)
    ts_codes = np.full(len(naive), -1, dtype="int32")
    ts_codes[~missing] = inverse
    day_codes = np.full(len(naive), -1, dtype="int32")
    day_codes[~missing] = day_of_distinct.reshape(-1)[inverse]
    return (decode(ts_codes, [f"{label}Z" for label in labels]),
            decode(day_codes, list(np.datetime_as_string(days, unit="D"))))
