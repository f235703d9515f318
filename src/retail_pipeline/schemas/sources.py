"""The shape of each retailer's API records, as served (source column names, raw values).

Attached to `retailer_N.api_sales` in the catalog (validator on load). They check the *shape*
of the extraction: every published field is present, plus the extraction's `source_page` and
`source_record`. Values are deliberately not judged here: a bad value (negative quantity,
unparseable money, SQL in an id) is a record-level problem that ends in quarantine with a
reason, while a missing or renamed field is a contract break that must fail the run loudly.
"""

from __future__ import annotations

from typing import Any

import pandera.pandas as pa
from pandera.typing import Series


def _field() -> Any:
    return pa.Field(nullable=True)


class _Extraction(pa.DataFrameModel):
    """Columns the API dataset adds to every record."""

    source_page: Series[int] = pa.Field(ge=1)
    source_record: Series[str] = pa.Field(str_length={"min_value": 2})

    class Config:
        strict = False  # extra source fields are kept in source_record and otherwise ignored
        coerce = False


class Retailer1Source(_Extraction):
    """Retailer 1, `GET /sales`: ISO timestamps without zone, money as JSON numbers."""

    order_id: Series[Any] = _field()
    order_date: Series[Any] = _field()
    customer_id: Series[Any] = _field()
    store_id: Series[Any] = _field()
    sku: Series[Any] = _field()
    product_name: Series[Any] = _field()
    category: Series[Any] = _field()
    quantity: Series[Any] = _field()
    price: Series[Any] = _field()
    total: Series[Any] = _field()
    discount_percentage: Series[Any] = _field()


class Retailer2Source(_Extraction):
    """Retailer 2, `GET /transactions`: 'YYYY-MM-DD HH:MM:SS', money as text."""

    transaction_number: Series[Any] = _field()
    date: Series[Any] = _field()
    member_id: Series[Any] = _field()
    location_id: Series[Any] = _field()
    item_code: Series[Any] = _field()
    item_name: Series[Any] = _field()
    department: Series[Any] = _field()
    qty: Series[Any] = _field()
    unit_cost: Series[Any] = _field()
    amount: Series[Any] = _field()
    tax_amount: Series[Any] = _field()


class Retailer3Source(_Extraction):
    """Retailer 3, `POST /sales/query`: epoch milliseconds (UTC), money as JSON numbers."""

    sale_id: Series[Any] = _field()
    timestamp: Series[Any] = _field()
    buyer_id: Series[Any] = _field()
    outlet_id: Series[Any] = _field()
    product_code: Series[Any] = _field()
    name: Series[Any] = _field()
    type: Series[Any] = _field()
    count: Series[Any] = _field()
    price_per_unit: Series[Any] = _field()
    revenue: Series[Any] = _field()
    shipping_cost: Series[Any] = _field()


SOURCE_MODELS = {
    "retailer_1": Retailer1Source,
    "retailer_2": Retailer2Source,
    "retailer_3": Retailer3Source,
}


def source_fields(model: type[pa.DataFrameModel]) -> list[str]:
    """The published source fields of a model (without the extraction columns)."""
    extraction = set(_Extraction.to_schema().columns)
    return [name for name in model.to_schema().columns if name not in extraction]
