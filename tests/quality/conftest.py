"""Fixtures of the quality tests: a migrated warehouse on the real PostgreSQL, small rows
inserted directly, ingestion manifests written into a temp raw zone."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RETAILERS = {"retailer_1": 1, "retailer_2": 2, "retailer_3": 3}


class Warehouse:
    """A fresh warehouse database for one test, with helpers that insert tiny star-schema rows."""

    def __init__(self, pg_server, dbname: str, raw_zone: Path):
        self.pg, self.dbname, self.raw_zone = pg_server, dbname, raw_zone
        self.url = pg_server.url(dbname)
        self.conn = pg_server.connect(dbname)
        self.execute("""INSERT INTO dim_retailer (retailer_id, retailer_code, retailer_name)
                        VALUES (1, 'retailer_1', 'Retailer 1'), (2, 'retailer_2', 'Retailer 2'),
                               (3, 'retailer_3', 'Retailer 3')""")
        self._days: set[date] = set()

    def execute(self, sql: str, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def add_day(self, day: date) -> int:
        """dim_date row and the fact partition of `day`; returns its date_id."""
        date_id = int(day.strftime("%Y%m%d"))
        if day not in self._days:
            self.execute(
                """INSERT INTO dim_date VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT DO NOTHING""",
                (date_id, day, day.year, (day.month - 1) // 3 + 1, day.month, day.isocalendar()[1],
                 day.day, day.isoweekday(), day.strftime("%A"), day.isoweekday() >= 6))
            self.execute(f"CREATE TABLE IF NOT EXISTS fact_sales_{date_id} PARTITION OF fact_sales "
                         f"FOR VALUES FROM ({date_id}) TO ({date_id + 1})")
            self._days.add(day)
        return date_id

    def add_sales(self, code: str, day: date, rows: int, *, quantity: int = 2,
                  unit_price: str = "5.25", prefix: str = "ORD") -> Decimal:
        """`rows` good facts of retailer `code` on `day`; returns their total amount."""
        rid = RETAILERS[code]
        date_id = self.add_day(day)
        product_id, customer_id, store_id = rid * 1000 + 1, rid * 1000 + 2, rid * 1000 + 3
        self.execute("INSERT INTO dim_product (product_id, retailer_id, product_sku, product_name, category) "
                     "VALUES (%s, %s, 'SKU-1', 'Widget', 'Tools') ON CONFLICT DO NOTHING", (product_id, rid))
        self.execute("INSERT INTO dim_customer (customer_id, retailer_id, customer_external_id) "
                     "VALUES (%s, %s, 'C-1') ON CONFLICT DO NOTHING", (customer_id, rid))
        self.execute("INSERT INTO dim_store (store_id, retailer_id, store_external_id) "
                     "VALUES (%s, %s, 'S-1') ON CONFLICT DO NOTHING", (store_id, rid))
        total = Decimal(unit_price) * quantity
        for n in range(rows):
            txn = f"{prefix}-{date_id}-{rid}-{n:04d}"
            self.execute(
                """INSERT INTO fact_sales (sale_id, date_id, product_id, customer_id, store_id, retailer_id,
                       transaction_id, quantity, unit_price, total_amount, transaction_ts, run_id)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'test-run')""",
                (secrets.randbits(62), date_id, product_id, customer_id, store_id, rid, txn, quantity,
                 Decimal(unit_price), total, datetime(day.year, day.month, day.day, 10, n % 60, tzinfo=UTC)))
        return total * rows

    def add_audit(self, code: str, day: date, rows: int, amount: Decimal, *, hours_ago: float = 1,
                  rows_quarantined: int = 0, run_id: str = "test-run") -> None:
        self.execute(
            """INSERT INTO load_audit VALUES (%s, %s, %s, %s, %s, %s, now() - %s * interval '1 hour')
               ON CONFLICT (run_id, retailer_code, sale_date) DO UPDATE SET loaded_at = EXCLUDED.loaded_at""",
            (run_id, code, day, rows, amount, rows_quarantined, hours_ago))

    def add_warehouse_quarantine(self, code: str, day: date, total_amount: str, reason: str = "missing product") -> None:
        self.execute(
            """INSERT INTO warehouse_quarantine (run_id, retailer_code, transaction_id, sale_date, reason, record)
               VALUES ('test-run', %s, %s, %s, %s, %s)""",
            (code, f"WQ-{code}-{day}-{secrets.token_hex(3)}", day, reason,
             json.dumps({"retailer_code": code, "total_amount": float(total_amount)})))

    def write_zone(self, code: str, day: date, rows: int, amount: Decimal, zone: str = "raw") -> None:
        """`rows` JSON Lines records of `code` on `day` in the raw (or quarantine) zone, whose
        total_amount adds up to `amount`."""
        path = (self.raw_zone / zone / code / f"year={day.year:04d}" / f"month={day.month:02d}"
                / f"day={day.day:02d}" / "sales_data.json")
        if rows == 0:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        each = (Decimal(amount) / rows).quantize(Decimal("0.01"))
        lines = []
        for n in range(rows):
            value = each if n < rows - 1 else Decimal(amount) - each * (rows - 1)
            record = {"retailer_code": code, "transaction_id": f"{zone}-{day:%Y%m%d}-{n:04d}",
                      "sale_date": day.isoformat(), "quantity": 1, "unit_price": float(value),
                      "total_amount": float(value)}
            if zone == "quarantine":
                record["reasons"] = ["quantity must be > 0"]
            lines.append(json.dumps(record))
        path.write_text("\n".join(lines) + "\n")

    def write_manifest(self, code: str, run_date: date, days: dict[date, dict], *, files: bool = True) -> Path:
        """The ingestion manifest (docs/contracts.md format) for `code` and `run_date`, and (with
        `files`) the raw and quarantine zone files it describes."""
        day_rows = []
        for day, d in sorted(days.items()):
            written, quarantined = d["rows_written"], d.get("rows_quarantined", 0)
            day_rows.append({"sale_date": day.isoformat(),
                             "rows_received": d.get("rows_received", written + quarantined),
                             "rows_written": written, "rows_quarantined": quarantined,
                             "total_amount_written": float(d["total_amount_written"])})
        manifest = {
            "run_id": "test-run", "run_date": run_date.isoformat(), "retailer_code": code,
            "window_start": min(days).isoformat(), "window_end": run_date.isoformat(), "pages": 1,
            "source_total": sum(d["rows_received"] for d in day_rows),
            "rows_received": sum(d["rows_received"] for d in day_rows),
            "rows_written": sum(d["rows_written"] for d in day_rows),
            "rows_quarantined": sum(d["rows_quarantined"] for d in day_rows),
            "days": day_rows,
        }
        if files:
            for day, d in days.items():
                self.write_zone(code, day, d["rows_written"], Decimal(str(d["total_amount_written"])))
                self.write_zone(code, day, d.get("rows_quarantined", 0), Decimal("1.00") * d.get("rows_quarantined", 0),
                                zone="quarantine")
        path = self.raw_zone / "manifests" / code / f"run_date={run_date.isoformat()}" / "manifest.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest, indent=1))
        return path

    def load_clean(self, run_date: date, *, lookback: int = 3, rows: int = 5, history_weeks: int = 4,
                   retailers=tuple(RETAILERS), loaded_hours_ago: float = 1) -> None:
        """A consistent warehouse: `rows` facts per retailer and window day, audited just now,
        the same weekday of the previous weeks with the same volume, manifests that agree."""
        window = [run_date - timedelta(days=n) for n in range(lookback, -1, -1)]
        for code in retailers:
            days = {}
            for day in window:
                amount = self.add_sales(code, day, rows)
                self.add_audit(code, day, rows, amount, hours_ago=loaded_hours_ago)
                days[day] = {"rows_written": rows, "total_amount_written": amount}
            for week in range(1, history_weeks + 1):
                self.add_sales(code, run_date - timedelta(weeks=week), rows, prefix="HIST")
            self.write_manifest(code, run_date, days)

    def results(self, run_id: str) -> list[dict]:
        with self.conn.cursor() as cur:
            cur.execute("SELECT retailer_code, check_name, severity, observed, threshold, passed, details "
                        "FROM dq_check_results WHERE run_id = %s ORDER BY check_name, retailer_code", (run_id,))
            names = [c.name for c in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def warehouse(pg_server, warehouse_template, kedro_project):
    """A migrated warehouse of its own (superuser connection), wired into the test's Kedro conf."""
    dbname = f"dq_{secrets.token_hex(4)}"
    pg_server.ensure_database(dbname, template=warehouse_template)
    raw_zone = kedro_project.data / "01_raw"
    raw_zone.mkdir(parents=True, exist_ok=True)
    kedro_project.write_yaml("local/credentials.yml", {"warehouse": {"con": pg_server.url(dbname)}})
    wh = Warehouse(pg_server, dbname, raw_zone)
    try:
        yield wh
    finally:
        wh.close()
        pg_server.drop_database(dbname)
