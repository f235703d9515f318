"""Fixtures of the transformation tests: a migrated warehouse per test, canonical rows."""

from __future__ import annotations

import importlib.util
import secrets
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from retail_pipeline.warehouse.migrate import apply_migrations
from tests.transformation.raw_zone_reader import write_partition

LOADER = "retail_loader"
TEMPLATE_DB = "retail_analytics_template"


@pytest.fixture(scope="session")
def loader_password(pg_server) -> str:
    password = secrets.token_urlsafe(12)
    pg_server.ensure_role(LOADER, password, createrole=True)
    return password


@pytest.fixture(scope="session")
def warehouse_template(pg_server, loader_password) -> str:
    """A database migrated once; each test gets a copy (CREATE DATABASE ... TEMPLATE)."""
    pg_server.drop_database(TEMPLATE_DB)
    pg_server.ensure_database(TEMPLATE_DB, owner=LOADER)
    apply_migrations(pg_server.url(TEMPLATE_DB, LOADER, loader_password))
    return TEMPLATE_DB


@dataclass
class Warehouse:
    server: Any
    dbname: str
    password: str

    @property
    def url(self) -> str:
        return self.server.url(self.dbname, LOADER, self.password)

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.dbname, LOADER, self.password)

    def query(self, statement: str, params: Any = None) -> list[tuple]:
        import psycopg2

        with closing(psycopg2.connect(self.dsn)) as conn, conn.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall() if cur.description else []
            conn.commit()
        # numeric -> float so tests compare with pytest.approx (amounts are 2 dp)
        return [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in rows]

    def scalar(self, statement: str, params: Any = None) -> Any:
        return self.query(statement, params)[0][0]


@pytest.fixture
def warehouse(pg_server, warehouse_template, loader_password):
    dbname = f"wh_{uuid.uuid4().hex[:10]}"
    pg_server.ensure_database(dbname, owner=LOADER, template=warehouse_template)
    try:
        yield Warehouse(pg_server, dbname, loader_password)
    finally:
        pg_server.drop_database(dbname)


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
    def __init__(self, root: Path):
        self.root = root

    def write(self, rows: list[dict[str, Any]]) -> None:
        """(Re)write the partitions the rows fall in (by retailer and sale_date)."""
        groups: dict[tuple[str, str], list] = {}
        for row in rows:
            groups.setdefault((row["retailer_code"], row["sale_date"]), []).append(row)
        for (code, day), part in groups.items():
            write_partition(self.root, code, date.fromisoformat(day), part)


@pytest.fixture
def wh_project(kedro_project, warehouse):
    """The Kedro project wired to a fresh warehouse and a temp raw zone (test reader)."""
    raw_zone = kedro_project.data / "01_raw"
    kedro_project.write_yaml("local/credentials.yml", {
        "warehouse": {"con": warehouse.url},
        **{f"retailer_{n}_api": {"base_url": f"http://127.0.0.1:{5000 + n}", "api_key": "x"} for n in (1, 2, 3)},
        **{f"retailer_{n}_db": {"con": "postgresql://x:x@127.0.0.1:1/x"} for n in (1, 2, 3)},
    })
    window = {
        f"retailer_{n}.raw_sales": {
            "type": "tests.transformation.raw_zone_reader.CanonicalRawSalesDataset",
            "raw_zone": str(raw_zone), "retailer_code": f"retailer_{n}",
            "start": '${window_start:${runtime_params:run_date,""},${runtime_params:lookback_days,3}}',
            "end": '${run_date:${runtime_params:run_date,""}}',
        } for n in (1, 2, 3)
    }
    if importlib.util.find_spec("retail_pipeline.datasets.raw_zone") is None:
        # until the ingestion's RawZoneDataset exists: read the same layout with the test reader
        kedro_project.write_yaml("local/catalog_raw_test.yml", window)
    kedro_project.raw = RawZone(raw_zone)
    kedro_project.warehouse = warehouse
    return kedro_project
