"""pandera models of the frames the `transformation` pipeline computes.

- `StagedSaleModel`: a canonical record made ready for the warehouse. The node validates every
  row against it lazily; rows that fail go to `warehouse_quarantine` with the failed checks as
  the reason (never dropped).
- `FactSalesModel` and the dimension models: the frames the star-schema dataset saves. They are
  attached to the catalog entry `warehouse_star_schema` through `StarSchemaValidator`, so a
  frame that breaks them stops the run before anything is written.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from retail_pipeline.schemas.canonical import SCALED_COLUMNS, total_matches
from retail_pipeline.schemas.rules import (
    MAX_DISCOUNT_PERCENTAGE,
    MAX_EXTRA_AMOUNT,
    MAX_ID_LENGTH,
    MAX_QUANTITY,
    MAX_TEXT,
    MAX_TOTAL_AMOUNT,
    MAX_UNIT_PRICE,
    fits_money_scale,
)


def _is_integral(series: pd.Series) -> pd.Series:
    return series.isna() | (series == series.round())


class StagedSaleModel(pa.DataFrameModel):
    """One sale line ready to be keyed: what a loadable row must satisfy.

    The bounds are the sale rules (`schemas.rules`), the same ingestion applied, so a row the
    raw zone holds is loadable unless it was changed after ingestion.
    """

    retailer_code: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    transaction_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_ID_LENGTH})
    product_sku: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_ID_LENGTH})
    product_name: Series[str] = pa.Field(nullable=True, str_length={"max_value": MAX_TEXT})
    category: Series[str] = pa.Field(nullable=True, str_length={"max_value": MAX_TEXT})
    store_external_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_ID_LENGTH})
    customer_external_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_ID_LENGTH})
    quantity: Series[float] = pa.Field(nullable=False, gt=0, le=MAX_QUANTITY)
    unit_price: Series[float] = pa.Field(nullable=False, gt=0, le=MAX_UNIT_PRICE)
    total_amount: Series[float] = pa.Field(nullable=False, gt=0, le=MAX_TOTAL_AMOUNT)
    discount_percentage: Series[float] = pa.Field(nullable=True, ge=0, le=MAX_DISCOUNT_PERCENTAGE)
    tax_amount: Series[float] = pa.Field(nullable=True, ge=0, le=MAX_EXTRA_AMOUNT)
    shipping_cost: Series[float] = pa.Field(nullable=True, ge=0, le=MAX_EXTRA_AMOUNT)

    @pa.check("quantity", name="whole_number")
    def _quantity_is_whole(cls, series: Series[float]) -> Series[bool]:
        return _is_integral(series)

    @pa.check(*SCALED_COLUMNS, name="money_scale")
    def _money_scale(cls, series: Series[float]) -> Series[bool]:
        """At most MONEY_SCALE decimals: the warehouse columns would round more."""
        return pd.Series(fits_money_scale(series), index=series.index)

    @pa.dataframe_check(name="total_matches_quantity_x_price")
    def _total_matches(cls, df: pd.DataFrame) -> pd.Series:
        """total_amount = quantity x unit_price to the cent (a CHECK of fact_sales too)."""
        return total_matches(df)

    class Config:
        strict = False
        coerce = False


class FactSalesModel(pa.DataFrameModel):
    """fact_sales rows as the dataset copies them (created_at and run_id are set by the server)."""

    sale_id: Series[int] = pa.Field(ge=0, unique=True)
    date_id: Series[int] = pa.Field(ge=19000101, le=29991231)
    product_id: Series[int] = pa.Field(ge=0)
    customer_id: Series[int] = pa.Field(ge=0)
    store_id: Series[int] = pa.Field(ge=0)
    retailer_id: Series[int] = pa.Field(ge=1)
    transaction_id: Series[str] = pa.Field(nullable=False)
    quantity: Series[int] = pa.Field(gt=0, le=MAX_QUANTITY)
    unit_price: Series[float] = pa.Field(nullable=False, gt=0, le=MAX_UNIT_PRICE)
    total_amount: Series[float] = pa.Field(nullable=False, gt=0, le=MAX_TOTAL_AMOUNT)
    discount_percentage: Series[float] = pa.Field(nullable=True, ge=0, le=MAX_DISCOUNT_PERCENTAGE)
    tax_amount: Series[float] = pa.Field(nullable=True, ge=0, le=MAX_EXTRA_AMOUNT)
    shipping_cost: Series[float] = pa.Field(nullable=True, ge=0, le=MAX_EXTRA_AMOUNT)
    transaction_ts: Series[str] = pa.Field(nullable=False)

    class Config:
        strict = True


class DimRetailerModel(pa.DataFrameModel):
    retailer_id: Series[int] = pa.Field(ge=1, le=32767, unique=True)
    retailer_code: Series[str] = pa.Field(unique=True)
    retailer_name: Series[str]

    class Config:
        strict = True


class DimProductModel(pa.DataFrameModel):
    """A load's products as product-days (the loader keeps dim_product's versions from them)."""

    retailer_id: Series[int] = pa.Field(ge=1)
    product_sku: Series[str]
    date_id: Series[int] = pa.Field(ge=19000101, le=99991231)
    product_key: Series[int] = pa.Field(ge=0)
    product_name: Series[str] = pa.Field(nullable=True)
    category: Series[str] = pa.Field(nullable=True)
    observed_at: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["retailer_id", "product_sku", "date_id"]


class DimCustomerModel(pa.DataFrameModel):
    customer_id: Series[int] = pa.Field(ge=0, unique=True)
    retailer_id: Series[int] = pa.Field(ge=1)
    customer_external_id: Series[str]

    class Config:
        strict = True
        unique = ["retailer_id", "customer_external_id"]


class DimStoreModel(pa.DataFrameModel):
    store_id: Series[int] = pa.Field(ge=0, unique=True)
    retailer_id: Series[int] = pa.Field(ge=1)
    store_external_id: Series[str]

    class Config:
        strict = True
        unique = ["retailer_id", "store_external_id"]


class QuarantineModel(pa.DataFrameModel):
    retailer_code: Series[str]
    transaction_id: Series[str] = pa.Field(nullable=True)
    sale_date: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    reason: Series[str] = pa.Field(str_length={"min_value": 1})
    record: Series[str]

    class Config:
        strict = True


class LoadAuditModel(pa.DataFrameModel):
    retailer_code: Series[str]
    sale_date: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    rows_loaded: Series[int] = pa.Field(ge=0)
    total_amount_loaded: Series[float]
    rows_quarantined: Series[int] = pa.Field(ge=0)

    class Config:
        strict = True
        unique = ["retailer_code", "sale_date"]


DIMENSION_MODELS = {
    "dim_retailer": DimRetailerModel,
    "dim_product": DimProductModel,
    "dim_customer": DimCustomerModel,
    "dim_store": DimStoreModel,
}


class StarSchemaValidator:
    """Kedro catalog validator for the star-schema load (a dict of frames).

    Declared on the catalog entry (`validator: {class: ...StarSchemaValidator, on: [save]}`);
    validates every frame with its model and returns the data unchanged.
    """

    def __init__(self, lazy: bool = True):
        self.lazy = lazy

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """A load of frames is validated now; a streamed load (`chunks`) chunk by chunk as the
        dataset reads it, each before it is sent (a bad chunk fails the load's transaction)."""
        if "chunks" in data:
            missing = {"dimensions", "chunks", "window"} - set(data)
            if missing:
                raise ValueError(f"star-schema load is missing part(s) {sorted(missing)}")
            DIMENSION_MODELS["dim_retailer"].validate(data["dimensions"]["dim_retailer"], lazy=self.lazy)
            return {**data, "chunks": ValidatedChunks(data["chunks"], self)}
        missing = {"dimensions", "facts", "quarantine", "audit", "window"} - set(data)
        if missing:
            raise ValueError(f"star-schema load is missing part(s) {sorted(missing)}")
        self.validate_chunk(data)
        return data

    def validate_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        for name, model in DIMENSION_MODELS.items():
            if name in chunk["dimensions"]:
                model.validate(chunk["dimensions"][name], lazy=self.lazy)
        FactSalesModel.validate(chunk["facts"], lazy=self.lazy)
        QuarantineModel.validate(chunk["quarantine"], lazy=self.lazy)
        LoadAuditModel.validate(chunk["audit"], lazy=self.lazy)
        return chunk


class ValidatedChunks:
    """A streamed load's chunks, each validated when the dataset reads it."""

    def __init__(self, chunks: Any, validator: StarSchemaValidator):
        self.chunks, self.validator = chunks, validator

    def __iter__(self):
        return (self.validator.validate_chunk(chunk) for chunk in self.chunks)
