"""A minimal reader of the raw zone for tests and the benchmark, until the ingestion
engineer's RawZoneDataset (retail_pipeline.datasets.raw_zone) is available.

Loads the canonical JSON Lines of one retailer for the run window, in the documented layout
`{raw_zone}/raw/{retailer_code}/year=YYYY/month=MM/day=DD/sales_data.json`.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson
from kedro.io.core import AbstractDataset

from retail_pipeline.run_window import window_dates

CANONICAL_TYPES = {
    "retailer_code": pa.string(), "transaction_id": pa.string(), "product_sku": pa.string(),
    "product_name": pa.string(), "category": pa.string(), "quantity": pa.float64(),
    "unit_price": pa.float64(), "total_amount": pa.float64(), "discount_percentage": pa.float64(),
    "tax_amount": pa.float64(), "shipping_cost": pa.float64(), "transaction_ts": pa.string(),
    "sale_date": pa.string(), "customer_id": pa.string(), "store_id": pa.string(),
    "source_record": pa.string(), "source_page": pa.int64(), "run_id": pa.string(),
    "ingested_at": pa.string(),
}


def partition_path(raw_zone: str | Path, code: str, day: date) -> Path:
    return Path(raw_zone) / "raw" / code / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}" / "sales_data.json"


def write_partition(raw_zone: str | Path, code: str, day: date, rows: list[dict[str, Any]]) -> Path:
    path = partition_path(raw_zone, code, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


class CanonicalRawSalesDataset(AbstractDataset[None, pd.DataFrame]):
    def __init__(self, raw_zone: str, retailer_code: str, start: str, end: str):
        self._raw_zone, self._code, self._start, self._end = raw_zone, retailer_code, start, end

    def _describe(self) -> dict[str, Any]:
        return {"raw_zone": self._raw_zone, "retailer_code": self._code, "start": self._start, "end": self._end}

    def load(self) -> pd.DataFrame:
        schema = pa.schema(list(CANONICAL_TYPES.items()))
        tables = []
        for day in window_dates(self._start, self._end):
            path = partition_path(self._raw_zone, self._code, day)
            if path.exists() and path.stat().st_size:
                tables.append(pajson.read_json(path, parse_options=pajson.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore")))
        if not tables:
            return schema.empty_table().to_pandas()
        return pa.concat_tables(tables).to_pandas()

    def save(self, data: pd.DataFrame) -> None:
        raise NotImplementedError("read-only test reader")
