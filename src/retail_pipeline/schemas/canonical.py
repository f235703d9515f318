"""The canonical sales record of the raw zone (docs/contracts.md), as a pandera model.

The ingestion node runs `CanonicalSale` lazily over every record to split a retailer's records
into valid rows and quarantine rows with readable reasons (see
`retail_pipeline.pipelines.ingestion.nodes`); only rows that passed it are written to the raw
zone, so it is not run again on save. Its bounds are the sale rules of `schemas.rules`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from retail_pipeline.schemas.rules import (
    MAX_DISCOUNT_PERCENTAGE,
    MAX_EXTRA_AMOUNT,
    MAX_ID_LENGTH,
    MAX_QUANTITY,
    MAX_TEXT,
    MAX_TOTAL_AMOUNT,
    MAX_UNIT_PRICE,
    MONEY_SCALE,
    TOTAL_TOLERANCE,
    fits_money_scale,
)

# Id-like fields (transaction, SKU, customer, store): letters, digits and a few separators, no
# spaces, quotes, semicolons or comment markers, so SQL-looking text can never pass as an id.
SAFE_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.:/#-]{{0,{MAX_ID_LENGTH - 1}}}$"
# A retailer code names folders, S3 keys, Kedro namespaces and Airflow tasks: a safe identifier
# (letters, digits, '_' and '-'), whatever the retailer is called.
RETAILER_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
ISO_UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

CANONICAL_COLUMNS = (
    "retailer_code",
    "transaction_id",
    "product_sku",
    "product_name",
    "category",
    "quantity",
    "unit_price",
    "total_amount",
    "discount_percentage",
    "tax_amount",
    "shipping_cost",
    "transaction_ts",
    "sale_date",
    "customer_id",
    "store_id",
    "source_record",
    "source_page",
    "run_id",
    "ingested_at",
)
# Quarantine lines: every canonical field the record has (nulls where it could not be parsed)
# plus the reasons it was held back.
QUARANTINE_COLUMNS = (*CANONICAL_COLUMNS, "reasons")
EXTRA_MEASURES = ("discount_percentage", "tax_amount", "shipping_cost")
# Columns stored with MONEY_SCALE decimals (numeric(p,2) in the warehouse, which would round).
SCALED_COLUMNS = ("unit_price", "total_amount", *EXTRA_MEASURES)
TOTAL_TOLERANCE_CENTS = round(TOTAL_TOLERANCE * 10**MONEY_SCALE)


def cents(values: pd.Series) -> pd.Series:
    return np.round(values.astype("float64") * 100)


def total_matches(df: pd.DataFrame) -> pd.Series:
    """total_amount = quantity x unit_price within TOTAL_TOLERANCE (missing inputs: not judged)."""
    expected = cents(df["unit_price"]) * df["quantity"].astype("float64")
    diff = (cents(df["total_amount"]) - expected).abs()
    return (diff <= TOTAL_TOLERANCE_CENTS) | diff.isna()


class CanonicalSale(pa.DataFrameModel):
    """One sale as the raw zone stores it (JSON Lines, one object per line)."""

    retailer_code: Series[str] = pa.Field(str_matches=RETAILER_CODE_PATTERN)
    transaction_id: Series[str] = pa.Field(str_matches=SAFE_ID_PATTERN)
    product_sku: Series[str] = pa.Field(str_length={"min_value": 1}, str_matches=SAFE_ID_PATTERN)
    product_name: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": MAX_TEXT})
    category: Series[str] = pa.Field(nullable=True, str_length={"max_value": MAX_TEXT})
    quantity: Series[int] = pa.Field(gt=0, le=MAX_QUANTITY)
    unit_price: Series[float] = pa.Field(gt=0, le=MAX_UNIT_PRICE)
    total_amount: Series[float] = pa.Field(gt=0, le=MAX_TOTAL_AMOUNT)
    discount_percentage: Series[float] = pa.Field(
        nullable=True, in_range={"min_value": 0, "max_value": MAX_DISCOUNT_PERCENTAGE})
    tax_amount: Series[float] = pa.Field(nullable=True, ge=0, le=MAX_EXTRA_AMOUNT)
    shipping_cost: Series[float] = pa.Field(nullable=True, ge=0, le=MAX_EXTRA_AMOUNT)
    transaction_ts: Series[str] = pa.Field(str_matches=ISO_UTC_PATTERN)
    sale_date: Series[str] = pa.Field(str_matches=DATE_PATTERN)
    customer_id: Series[str] = pa.Field(nullable=True, str_matches=SAFE_ID_PATTERN)
    store_id: Series[str] = pa.Field(nullable=True, str_matches=SAFE_ID_PATTERN)
    source_record: Series[str] = pa.Field(str_length={"min_value": 2})
    source_page: Series[int] = pa.Field(ge=1)
    run_id: Series[str] = pa.Field(str_length={"min_value": 1})
    ingested_at: Series[str] = pa.Field(str_matches=ISO_UTC_PATTERN)

    @pa.check(*SCALED_COLUMNS, name="money_scale")
    def money_scale(cls, values: pd.Series) -> pd.Series:
        """At most MONEY_SCALE decimals: the warehouse would round more, and money is never rounded."""
        return pd.Series(fits_money_scale(values), index=values.index)

    @pa.dataframe_check(name="total_matches_quantity_x_price")
    def total_matches_quantity_x_price(cls, df: pd.DataFrame) -> pd.Series:
        """total_amount is the net merchandise amount: quantity x unit_price, to the cent."""
        # Rows whose inputs are missing fail their own column checks; don't double-report.
        return total_matches(df)

    @pa.dataframe_check(name="not_in_future")
    def not_in_future(cls, df: pd.DataFrame) -> pd.Series:
        """A sale cannot happen after it was ingested (both ISO 8601 UTC, so text order works)."""
        ts, at = df["transaction_ts"], df["ingested_at"]
        return (ts <= at) | ts.isna() | at.isna()

    @pa.dataframe_check(name="transaction_id_unique", statistics={"related_by": ["transaction_id"]})
    def transaction_id_unique(cls, df: pd.DataFrame) -> pd.Series:
        """Within one extraction window a transaction id appears once; later copies fail (every
        copy is judged together: `related_by`, schemas.precheck)."""
        ids = df["transaction_id"]
        return ~ids.duplicated(keep="first") | ids.isna()

    class Config:
        strict = True
        coerce = False


class QuarantinedSale(pa.DataFrameModel):
    """A quarantine line: what could be read of the record, plus why it was held back."""

    retailer_code: Series[str]
    transaction_id: Series[str] = pa.Field(nullable=True)
    sale_date: Series[str] = pa.Field(str_matches=DATE_PATTERN)
    source_record: Series[str]
    reasons: Series[object]
    run_id: Series[str]
    ingested_at: Series[str]

    @pa.check("reasons", name="has_reasons")
    def has_reasons(cls, reasons: pd.Series) -> pd.Series:
        return reasons.map(lambda r: isinstance(r, list | tuple | np.ndarray) and len(r) > 0)

    class Config:
        strict = False


__all__ = [
    "CANONICAL_COLUMNS",
    "CanonicalSale",
    "EXTRA_MEASURES",
    "MAX_TEXT",
    "QUARANTINE_COLUMNS",
    "SCALED_COLUMNS",
    "QuarantinedSale",
    "RETAILER_CODE_PATTERN",
    "SAFE_ID_PATTERN",
]
