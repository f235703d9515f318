"""A cheap first pass of a pandera model's row checks, so pandera runs only where it may fail.

pandera's lazy validation costs about twice its checks (per-check passes, failure cases); on a
day where nearly every row is good that is wasted. `certainly_valid` evaluates the model's own
checks (its `to_schema()`: nullability, built-in bounds from their statistics, custom checks
through pandera's check functions) column by column on whole arrays and says which rows pass
them all. The rows it does not clear go to pandera as before, so the reasons and their wording
are pandera's, unchanged; a custom check is pandera's own function, so none is left out.
"""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd
import pandera.pandas as pa

_BOUNDS = {"greater_than": (operator.gt, "min_value"), "greater_than_or_equal_to": (operator.ge, "min_value"),
           "less_than": (operator.lt, "max_value"), "less_than_or_equal_to": (operator.le, "max_value")}


def _passes(check: pa.Check, series: pd.Series) -> np.ndarray:
    """Where `check` holds on `series` (nulls pass: pandera's checks ignore them)."""
    stats = check.statistics or {}
    if not check.ignore_na:
        return check(series).check_output.to_numpy(dtype=bool, na_value=False)
    if check.name in _BOUNDS:
        compare, key = _BOUNDS[check.name]
        with np.errstate(invalid="ignore"):
            return compare(series.to_numpy(dtype="float64", na_value=np.nan), stats[key]) | series.isna().to_numpy()
    if check.name == "str_length" and stats.get("exact_value") is None:
        length = series.str.len().to_numpy(dtype="float64", na_value=np.nan)
        low, high = stats.get("min_value"), stats.get("max_value")
        ok = np.isnan(length)
        return ok | ((length >= (low if low is not None else -1)) & (length <= (high if high is not None else np.inf)))
    out = check(series).check_output  # a custom check: pandera's function, nulls left out of its output
    return out.reindex(series.index, fill_value=True).to_numpy(dtype=bool, na_value=False)


def certainly_valid(df: pd.DataFrame, schema: pa.DataFrameSchema) -> np.ndarray:
    """True for the rows of `df` (a RangeIndex) that pass every row check of `schema`."""
    ok = np.ones(len(df), dtype=bool)
    if not len(df):
        return ok
    for name, column in schema.columns.items():
        if name not in df.columns:
            return np.zeros(len(df), dtype=bool)  # pandera reports it (a bug of the stage)
        series = df[name]
        if not column.nullable:
            ok &= series.notna().to_numpy()
        for check in column.checks:
            ok &= _passes(check, series)
    for check in schema.checks:
        out = check(df).check_output
        ok &= out.reindex(df.index, fill_value=False).to_numpy(dtype=bool, na_value=False)
    return ok
