"""Which rows could fail the canonical model: a vectorised pre-check, so pandera runs on those only.

pandera's lazy validation of every row cost about 5 µs a record at ingestion (its machinery,
not the checks), most of the node's validation time, for the ~1% of rows that fail. The rules
are `CanonicalSale`'s, evaluated here with Arrow compute and numpy in one pass; a row is
*suspect* when any rule may fail it. The pre-check only has to be a superset: every suspect
row is judged by pandera as before, so the reasons are pandera's, word for word; a row it
passes must pass pandera, which is why each rule below errs on the side of suspicion (RE2's
`$` and `\\d` are stricter than or equal to what pandera's match accepts, NaN compares false).
`PRECHECKED` names every check it mirrors; a test fails when the model has one it does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retail_pipeline.schemas.canonical import (
    DATE_PATTERN,
    ISO_UTC_PATTERN,
    RETAILER_CODE_PATTERN,
    SAFE_ID_PATTERN,
    SCALED_COLUMNS,
    total_matches,
)
from retail_pipeline.schemas.rules import (
    MAX_DISCOUNT_PERCENTAGE,
    MAX_EXTRA_AMOUNT,
    MAX_QUANTITY,
    MAX_TEXT,
    MAX_TOTAL_AMOUNT,
    MAX_UNIT_PRICE,
    fits_money_scale,
)

# column -> (nullable, pattern or None, (min length, max length) or None)
_TEXT = {
    "retailer_code": (False, RETAILER_CODE_PATTERN, None),
    "transaction_id": (False, SAFE_ID_PATTERN, None),
    "product_sku": (False, SAFE_ID_PATTERN, (1, None)),
    "product_name": (False, None, (1, MAX_TEXT)),
    "category": (True, None, (None, MAX_TEXT)),
    "transaction_ts": (False, ISO_UTC_PATTERN, None),
    "sale_date": (False, DATE_PATTERN, None),
    "customer_id": (True, SAFE_ID_PATTERN, None),
    "store_id": (True, SAFE_ID_PATTERN, None),
    "source_record": (False, None, (2, None)),
    "run_id": (False, None, (1, None)),
    "ingested_at": (False, ISO_UTC_PATTERN, None),
}
# column -> (nullable, low, low inclusive, high) for numbers (high always inclusive)
_NUMBERS = {
    "quantity": (False, 0, False, MAX_QUANTITY),
    "unit_price": (False, 0, False, MAX_UNIT_PRICE),
    "total_amount": (False, 0, False, MAX_TOTAL_AMOUNT),
    "discount_percentage": (True, 0, True, MAX_DISCOUNT_PERCENTAGE),
    "tax_amount": (True, 0, True, MAX_EXTRA_AMOUNT),
    "shipping_cost": (True, 0, True, MAX_EXTRA_AMOUNT),
    "source_page": (False, 1, True, None),
}
# The model's checks this module mirrors, as pandera names them (tests compare with the model).
PRECHECKED = {
    **{name: {"str_matches"} if pattern and not length else {"str_length"} if not pattern else
       {"str_matches", "str_length"} for name, (_, pattern, length) in _TEXT.items()},
    **{name: {"greater_than" if not inclusive else "greater_than_or_equal_to"}
       | ({"less_than_or_equal_to"} if high is not None else set())
       for name, (_, _, inclusive, high) in _NUMBERS.items()},
    "__frame__": {"total_matches_quantity_x_price", "not_in_future", "transaction_id_unique"},
}
for _name in SCALED_COLUMNS:
    PRECHECKED[_name] = PRECHECKED[_name] | {"money_scale"}
PRECHECKED["discount_percentage"] = {"in_range", "money_scale"}


def _text_suspect(values: pd.Series, nullable: bool, pattern: str | None,
                  length: tuple[int | None, int | None] | None) -> np.ndarray:
    array = pa.array(values, from_pandas=True)
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        return np.ones(len(values), dtype=bool)  # not text at all: pandera says why
    ok = pc.is_valid(array)
    if pattern is not None:
        ok = pc.and_kleene(ok, pc.match_substring_regex(array, pattern))
    if length is not None:
        size = pc.utf8_length(array)
        if length[0] is not None:
            ok = pc.and_kleene(ok, pc.greater_equal(size, length[0]))
        if length[1] is not None:
            ok = pc.and_kleene(ok, pc.less_equal(size, length[1]))
    ok = ok.fill_null(False).to_numpy(zero_copy_only=False)
    if nullable:
        ok = ok | values.isna().to_numpy()
    return ~ok


def _number_suspect(values: pd.Series, nullable: bool, low: float, inclusive: bool,
                    high: float | None) -> np.ndarray:
    v = values.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok = (v >= low) if inclusive else (v > low)
        if high is not None:
            ok &= v <= high
    if nullable:
        ok |= np.isnan(v)
    return ~ok


def suspect_rows(view: pd.DataFrame) -> np.ndarray:
    """True for each row that any rule of `CanonicalSale` may fail (the validation view:
    canonical columns, exact dtypes). A column of another type makes every row suspect, so
    that pandera reports it as before."""
    try:
        return _suspect_rows(view)
    except (TypeError, ValueError, pa.ArrowException):
        return np.ones(len(view), dtype=bool)


def _suspect_rows(view: pd.DataFrame) -> np.ndarray:
    suspect = np.zeros(len(view), dtype=bool)
    for name, (nullable, pattern, length) in _TEXT.items():
        suspect |= _text_suspect(view[name], nullable, pattern, length)
    for name, rule in _NUMBERS.items():
        suspect |= _number_suspect(view[name], *rule)
    for name in SCALED_COLUMNS:
        suspect |= ~fits_money_scale(view[name].to_numpy(dtype="float64", na_value=np.nan))
    suspect |= ~total_matches(view).fillna(False).to_numpy(dtype=bool)
    ts, at = view["transaction_ts"], view["ingested_at"]
    suspect |= ~((ts <= at) | ts.isna() | at.isna()).fillna(False).to_numpy(dtype=bool)
    ids = view["transaction_id"]
    suspect |= ids.duplicated(keep=False).to_numpy() & ids.notna().to_numpy()  # every copy: order kept
    return suspect


__all__ = ["PRECHECKED", "suspect_rows"]
