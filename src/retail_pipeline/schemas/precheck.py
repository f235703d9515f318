"""Which rows pandera must judge: a cheap first pass of a schema's own checks.

pandera's lazy validation costs several µs a row in its machinery (per-check passes, failure
cases), most of a node's validation time for the ~1% of rows that fail. `judged_rows` reads the
schema (a model's `to_schema()`), so a rule added to a model is covered with nothing to keep in
step: nullability, dtypes, uniqueness, built-in bounds and string lengths as whole-array passes,
regexes through Arrow's RE2 where that provably accepts no more than pandera's `re.match`
(`regex.re2_is_as_strict`), and pandera's own check function for every other check (money
scale, whole numbers, the frame-level checks). A row that clears every check passes pandera;
the others are judged by pandera as before, so the reasons are pandera's, word for word.

A check pandera runs through its own function may look at other rows (a duplicate check): each
is evaluated again on the judged rows and must say what it said on the whole frame, else every
row is judged (correct, only slower; a warning names the check). A check declaring
`statistics={"related_by": [columns]}` makes every row sharing those values with a failing row
judged too, which is what such a check needs to say the same on fewer rows.
"""

from __future__ import annotations

import logging
import operator

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pyarrow_
import pyarrow.compute as pc
from pandera.engines.pandas_engine import Engine

from retail_pipeline.schemas.regex import re2_is_as_strict

log = logging.getLogger(__name__)

_BOUNDS = {"greater_than": (operator.gt, "min_value"), "greater_than_or_equal_to": (operator.ge, "min_value"),
           "less_than": (operator.lt, "max_value"), "less_than_or_equal_to": (operator.le, "max_value")}
# A check evaluated by pandera's function, to confirm on the judged rows: (check, column or None, ok)
_Recheck = tuple[pa.Check, str | None, np.ndarray]


def _numbers(series: pd.Series) -> np.ndarray | None:
    """The values as a numpy array when numpy compares them as pandera's pandas would."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        return series.to_numpy()
    return None


def _text(series: pd.Series):
    """The values as an Arrow string array (None when they are not all text)."""
    array = pyarrow_.array(series, from_pandas=True)
    types = pyarrow_.types
    return array if types.is_string(array.type) or types.is_large_string(array.type) else None


def _fast(check: pa.Check, series: pd.Series) -> np.ndarray | None:
    """Where a built-in check holds (nulls pass, as pandera drops them), None when no fast path."""
    stats, name = check.statistics or {}, check.name
    if not check.ignore_na or check.groupby is not None or check.element_wise:
        return None
    if name in _BOUNDS or name == "in_range":
        values = _numbers(series)
        if values is None:
            return None
        with np.errstate(invalid="ignore"):
            if name == "in_range":
                low = (operator.ge if stats.get("include_min", True) else operator.gt)(values, stats["min_value"])
                ok = low & (operator.le if stats.get("include_max", True) else operator.lt)(values, stats["max_value"])
            else:
                compare, key = _BOUNDS[name]
                ok = compare(values, stats[key])
        return ok | np.isnan(values) if values.dtype.kind == "f" else ok
    if name not in ("str_length", "str_matches"):
        return None
    array = _text(series)
    if array is None:
        return None
    if name == "str_matches":
        pattern = stats["pattern"]
        if not re2_is_as_strict(pattern):
            return None
        try:
            ok = pc.match_substring_regex(array, f"^(?:{pattern})")
        except pyarrow_.ArrowInvalid:  # beyond RE2's limits: pandera's function
            return None
    else:
        size, exact = pc.utf8_length(array), stats.get("exact_value")
        low, high = (exact, exact) if exact is not None else (stats.get("min_value"), stats.get("max_value"))
        ok = pc.greater_equal(size, low if low is not None else 0)
        if high is not None:
            ok = pc.and_kleene(ok, pc.less_equal(size, high))
    return ok.fill_null(True).to_numpy(zero_copy_only=False)


def _by_pandera(check: pa.Check, obj: pd.Series | pd.DataFrame) -> np.ndarray:
    """Where `check` holds by pandera's own function. Called directly when pandera would call
    it on the whole object (its call also builds failure cases, a third of the cost); nulls it
    would have skipped may then come out suspect, which only leaves them to pandera."""
    function = getattr(check, "_check_fn", None)
    out = None
    if function is not None and check.groupby is None and not check.element_wise:
        try:
            out = function(obj, **getattr(check, "_check_kwargs", {}))
        except Exception:  # noqa: BLE001 - pandera's call below says what it makes of it
            out = None
    if out is None:
        out = check(obj).check_output
    if isinstance(out, pd.DataFrame):
        out = out.all(axis="columns")
    if not isinstance(out, pd.Series):
        return np.full(len(obj), bool(out))
    if not out.index.equals(obj.index):
        out = out.reindex(obj.index, fill_value=True)
    return out.to_numpy(dtype=bool, na_value=False)


def _related(df: pd.DataFrame, columns: list[str], ok: np.ndarray) -> np.ndarray:
    """Rows sharing the values of `columns` with a row that is not ok (nulls included)."""
    keys = df[columns[0]] if len(columns) == 1 else pd.MultiIndex.from_frame(df[columns])
    return np.asarray(keys.isin(keys[~ok]), dtype=bool) if not ok.all() else np.zeros(len(df), dtype=bool)


def _dtype_ok(column: pa.Column, series: pd.Series) -> np.ndarray | bool:
    if column.dtype is None:
        return True
    result = column.dtype.check(Engine.dtype(series.dtype), series)
    return result if isinstance(result, bool) else np.asarray(result, dtype=bool)


def _check(df: pd.DataFrame, check: pa.Check, name: str | None, suspect: np.ndarray,
           recheck: list[_Recheck]) -> None:
    obj = df if name is None else df[name]
    ok = _fast(check, obj) if name is not None else None
    if ok is None:
        ok = _by_pandera(check, obj)
        recheck.append((check, name, ok))
    suspect |= ~ok
    related = (check.statistics or {}).get("related_by")
    if related:
        suspect |= _related(df, list(related), ok)


def _suspects(df: pd.DataFrame, schema: pa.DataFrameSchema) -> tuple[np.ndarray, list[_Recheck]]:
    every = np.ones(len(df), dtype=bool)
    if schema.coerce or schema.index is not None or any(c.coerce or c.regex for c in schema.columns.values()):
        return every, []  # values pandera would change, or columns it matches by pattern: its call
    suspect, recheck = np.zeros(len(df), dtype=bool), []
    for name, column in schema.columns.items():
        if name not in df.columns:
            if column.required:
                return every, []  # pandera reports it
            continue
        series = df[name]
        suspect |= np.logical_not(_dtype_ok(column, series))
        if not column.nullable:
            suspect |= series.isna().to_numpy()
        if column.unique:
            suspect |= series.duplicated(keep=False).to_numpy()
        for check in column.checks:
            _check(df, check, name, suspect, recheck)
    if schema.unique:
        suspect |= df.duplicated(list(schema.unique), keep=False).to_numpy()
    for check in schema.checks:
        _check(df, check, None, suspect, recheck)
    return suspect, recheck


def judged_rows(df: pd.DataFrame, schema: pa.DataFrameSchema) -> np.ndarray:
    """Positions of the rows of `df` (a RangeIndex) that pandera must judge to report every
    failure validating all of `df` would (the others pass). A check that cannot be evaluated
    (a column of another type) leaves every row to pandera, which says why."""
    try:
        suspect, recheck = _suspects(df, schema)
    except Exception:  # noqa: BLE001 - whatever pandera would make of it, it says it
        return np.arange(len(df))
    rows = np.flatnonzero(suspect)
    if recheck and 0 < len(rows) < len(df):
        judged = df.iloc[rows].reset_index(drop=True)
        for check, name, ok in recheck:
            if not np.array_equal(_by_pandera(check, judged if name is None else judged[name]), ok[rows]):
                log.warning("check %s says otherwise on fewer rows: every row is judged "
                            "(declare statistics={'related_by': [...]})", check.name)
                return np.arange(len(df))
    return rows


__all__ = ["judged_rows"]
