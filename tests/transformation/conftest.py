"""Fixtures of the transformation tests: canonical rows in a temp raw zone, the project wired to
a fresh warehouse (`warehouse` comes from tests/fixtures/warehouse.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def sale(code: str, txn: str, sku: str, day: str, *, quantity: int = 1, unit_price: float = 10.0,
         store: str | None = "S1", customer: str | None = "C1", name: str | None = None,
         category: str | None = "Cat", hour: int = 12, ingested_at: str = "2024-01-16T01:00:00Z",
         **extra: Any) -> dict[str, Any]:
    """A canonical sales record (docs/contracts.md)."""
    row = {
        "retailer_code": code, "transaction_id": txn, "product_sku": sku,
        "product_name": name or f"Product {sku}", "category": category, "quantity": quantity,
        "unit_price": unit_price, "total_amount": round(quantity * unit_price, 2),
        "discount_percentage": None, "tax_amount": None, "shipping_cost": None,
        "transaction_ts": f"{day}T{hour:02d}:00:00Z", "sale_date": day,
        "customer_id": customer, "store_id": store, "source_record": "{}", "source_page": 1,
        "run_id": "ingest-test", "ingested_at": ingested_at,
    }
    row.update(extra)
    return row


class RawZone:
    """Writes canonical records straight into the raw zone layout, as ingestion would."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, rows: list[dict[str, Any]]) -> None:
        """(Re)write the partitions the rows fall in (by retailer and sale_date)."""
        groups: dict[tuple[str, str], list] = {}
        for row in rows:
            groups.setdefault((row["retailer_code"], row["sale_date"]), []).append(row)
        for (code, day), part in groups.items():
            year, month, dd = day.split("-")
            path = self.root / "raw" / code / f"year={year}" / f"month={month}" / f"day={dd}" / "sales_data.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in part))


@pytest.fixture
def wh_project(kedro_project, warehouse):
    """The Kedro project wired to a fresh warehouse and a temp raw zone."""
    raw_zone = kedro_project.data / "01_raw"
    kedro_project.write_yaml("local/credentials.yml", {"warehouse": {"con": warehouse.url}})
    kedro_project.raw = RawZone(raw_zone)
    kedro_project.warehouse = warehouse
    return kedro_project
