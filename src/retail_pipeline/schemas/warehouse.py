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

# numeric(12,2) / numeric(14,2) in fact_sales: values beyond these cannot be stored.
MAX_PRICE = 9_999_999_999.99
MAX_AMOUNT = 999_999_999_999.99
MAX_TEXT = 1000  # transaction ids, SKUs and external ids longer than this are not ids


def _is_integral(series: pd.Series) -> pd.Series:
    return series.isna() | (series == series.round())


class StagedSaleModel(pa.DataFrameModel):
    """One sale line ready to be keyed: what a loadable row must satisfy."""

    retailer_code: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1})
    transaction_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_TEXT})
    product_sku: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_TEXT})
    product_name: Series[str] = pa.Field(nullable=True)
    category: Series[str] = pa.Field(nullable=True)
    store_external_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_TEXT})
    customer_external_id: Series[str] = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_TEXT})
    quantity: Series[float] = pa.Field(nullable=False, gt=0, le=2_000_000_000)
    unit_price: Series[float] = pa.Field(nullable=False, ge=0, le=MAX_PRICE)
    total_amount: Series[float] = pa.Field(nullable=False, ge=-MAX_AMOUNT, le=MAX_AMOUNT)
    discount_percentage: Series[float] = pa.Field(nullable=True, ge=0, le=100)
    tax_amount: Series[float] = pa.Field(nullable=True, ge=-MAX_PRICE, le=MAX_PRICE)
    shipping_cost: Series[float] = pa.Field(nullable=True, ge=-MAX_PRICE, le=MAX_PRICE)

    @pa.check("quantity", name="whole_number")
    def _quantity_is_whole(cls, series: Series[float]) -> Series[bool]:
        return _is_integral(series)

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
    quantity: Series[int] = pa.Field(gt=0)
    unit_price: Series[float] = pa.Field(nullable=False, ge=0, le=MAX_PRICE)
    total_amount: Series[float] = pa.Field(nullable=False, ge=-MAX_AMOUNT, le=MAX_AMOUNT)
    discount_percentage: Series[float] = pa.Field(nullable=True)
    tax_amount: Series[float] = pa.Field(nullable=True)
    shipping_cost: Series[float] = pa.Field(nullable=True)
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
    product_id: Series[int] = pa.Field(ge=0, unique=True)
    retailer_id: Series[int] = pa.Field(ge=1)
    product_sku: Series[str]
    product_name: Series[str] = pa.Field(nullable=True)
    category: Series[str] = pa.Field(nullable=True)
    attributes_as_of: Series[str] = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["retailer_id", "product_sku"]


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
        missing = {"dimensions", "facts", "quarantine", "audit", "window"} - set(data)
        if missing:
            raise ValueError(f"star-schema load is missing part(s) {sorted(missing)}")
        for name, model in DIMENSION_MODELS.items():
            model.validate(data["dimensions"][name], lazy=self.lazy)
        FactSalesModel.validate(data["facts"], lazy=self.lazy)
        QuarantineModel.validate(data["quarantine"], lazy=self.lazy)
        LoadAuditModel.validate(data["audit"], lazy=self.lazy)
        return data
