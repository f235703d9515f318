"""The canonical sales record of the raw zone (docs/contracts.md), as a pandera model.

`CanonicalSale` is attached to `retailer_N.raw_sales` in the catalog (validator on save), and the
ingestion nodes run the same model lazily to split a retailer's records into valid rows and
quarantine rows with readable reasons (see `retail_pipeline.pipelines.ingestion.nodes`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

# Id-like fields (transaction, SKU, customer, store): letters, digits and a few separators, no
# spaces, quotes, semicolons or comment markers, so SQL-looking text can never pass as an id.
SAFE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/#-]{0,63}$"
ISO_UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
MAX_TEXT = 255

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
TOTAL_TOLERANCE_CENTS = 1


def cents(values: pd.Series) -> pd.Series:
    return np.round(values.astype("float64") * 100)


class CanonicalSale(pa.DataFrameModel):
    """One sale as the raw zone stores it (JSON Lines, one object per line)."""

    retailer_code: Series[str] = pa.Field(str_matches=r"^retailer_\d+$")
    transaction_id: Series[str] = pa.Field(str_matches=SAFE_ID_PATTERN)
    product_sku: Series[str] = pa.Field(str_length={"min_value": 1}, str_matches=SAFE_ID_PATTERN)
    product_name: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": MAX_TEXT})
    category: Series[str] = pa.Field(nullable=True, str_length={"max_value": MAX_TEXT})
    quantity: Series[int] = pa.Field(gt=0)
    unit_price: Series[float] = pa.Field(ge=0)
    total_amount: Series[float] = pa.Field(ge=0)
    discount_percentage: Series[float] = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 100})
    tax_amount: Series[float] = pa.Field(nullable=True, ge=0)
    shipping_cost: Series[float] = pa.Field(nullable=True, ge=0)
    transaction_ts: Series[str] = pa.Field(str_matches=ISO_UTC_PATTERN)
    sale_date: Series[str] = pa.Field(str_matches=DATE_PATTERN)
    customer_id: Series[str] = pa.Field(nullable=True, str_matches=SAFE_ID_PATTERN)
    store_id: Series[str] = pa.Field(nullable=True, str_matches=SAFE_ID_PATTERN)
    source_record: Series[str] = pa.Field(str_length={"min_value": 2})
    source_page: Series[int] = pa.Field(ge=1)
    run_id: Series[str] = pa.Field(str_length={"min_value": 1})
    ingested_at: Series[str] = pa.Field(str_matches=ISO_UTC_PATTERN)

    @pa.dataframe_check(name="total_matches_quantity_x_price")
    def total_matches_quantity_x_price(cls, df: pd.DataFrame) -> pd.Series:
        """total_amount is the net merchandise amount: quantity x unit_price, to the cent."""
        expected = cents(df["unit_price"]) * df["quantity"].astype("float64")
        diff = (cents(df["total_amount"]) - expected).abs()
        # Rows whose inputs are missing fail their own column checks; don't double-report.
        return (diff <= TOTAL_TOLERANCE_CENTS) | diff.isna()

    @pa.dataframe_check(name="not_in_future")
    def not_in_future(cls, df: pd.DataFrame) -> pd.Series:
        """A sale cannot happen after it was ingested (both ISO 8601 UTC, so text order works)."""
        ts, at = df["transaction_ts"], df["ingested_at"]
        return (ts <= at) | ts.isna() | at.isna()

    @pa.dataframe_check(name="transaction_id_unique")
    def transaction_id_unique(cls, df: pd.DataFrame) -> pd.Series:
        """Within one extraction window a transaction id appears once; later copies fail."""
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
    "QuarantinedSale",
    "SAFE_ID_PATTERN",
]
