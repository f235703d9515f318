"""Fixtures of the quality tests: a migrated warehouse on the real PostgreSQL, small rows
inserted directly by SQL, zone files and manifests written into a temp raw zone, and the real
retailer APIs serving the same transaction ids from their own databases.

Everything is built directly (no ingestion, no loader), so these tests only depend on the
contracts: the warehouse tables (sql/warehouse), the zone layout and the retailers' tables.
"""

from __future__ import annotations

import json
import secrets
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg2
import pytest

from tests.fixtures.kedro_project import RETAILERS as REGISTRY
from tests.fixtures.kedro_project import credentials_for
from tests.fixtures.retailers import truncate_retailers

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RETAILERS = {code: entry["retailer_id"] for code, entry in REGISTRY.items()}  # code -> retailer_id

# Each simulator style's own table (retailers/<style>/schema.sql): id, timestamp, sku, name, qty,
# unit price, total. Money is text at retailer 2. A retailer's style: its registry `simulator`.
_SOURCE = {
    "retailer_1": ("sales", "order_id", "order_date", "sku", "product_name", "quantity", "price", "total"),
    "retailer_2": ("transactions", "transaction_number", '"date"', "item_code", "item_name", "qty",
                   "unit_cost", "amount"),
    "retailer_3": ("purchases", "sale_id", '"timestamp"', "product_code", "name", "count",
                   "price_per_unit", "revenue"),
}


# Styles whose source record is an order with lines (retailers/retailer_4/schema.sql): a line's
# transaction id is order_ref-line_no; money in cents; placed_at an instant (timestamptz).
_ORDERS = {"retailer_4": ("orders", "order_lines")}


def _source(code: str) -> tuple[str, ...]:
    style = REGISTRY[code]["simulator"]["style"]
    if style not in _SOURCE:
        raise NotImplementedError(f"tests/quality/conftest.py cannot yet make {code}'s source ({style}) "
                                  "serve given ids: add its table to _SOURCE")
    return _SOURCE[style]


def _composite(code: str) -> bool:
    """A retailer whose transaction id is made of several source fields (order + line)."""
    return isinstance(REGISTRY[code]["source"]["fields"]["transaction_id"], list)


def fact_id(code: str, day: date, n: int, prefix: str = "ORD") -> str:
    """A test transaction id; for an order-and-line retailer, line 1 of an order of that name."""
    return f"{prefix}-{day:%Y%m%d}-{RETAILERS[code]}-{n:04d}" + ("-1" if _composite(code) else "")


class Warehouse:
    """A fresh warehouse database for one test, with helpers that insert tiny star-schema rows,
    write the zone files and make the retailers' sources serve the same ids."""

    def __init__(self, pg_server, dbname: str, raw_zone: Path, sources: dict[str, str]):
        self.pg, self.dbname, self.raw_zone, self.sources = pg_server, dbname, raw_zone, sources
        self.url = pg_server.url(dbname)
        self.conn = pg_server.connect(dbname)
        for code, entry in REGISTRY.items():
            self.execute("INSERT INTO dim_retailer (retailer_id, retailer_code, retailer_name) VALUES (%s, %s, %s)",
                         (entry["retailer_id"], code, entry["name"]))
        self._days: set[date] = set()

    def execute(self, sql: str, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def add_day(self, day: date) -> int:
        """dim_date row and the fact partitions of `day` (one per retailer); returns its date_id."""
        date_id = int(day.strftime("%Y%m%d"))
        if day not in self._days:
            self.execute(
                """INSERT INTO dim_date VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT DO NOTHING""",
                (date_id, day, day.year, (day.month - 1) // 3 + 1, day.month, day.isocalendar()[1],
                 day.day, day.isoweekday(), day.strftime("%A"), day.isoweekday() >= 6))
            for rid in sorted(set(RETAILERS.values())):  # each retailer's partition of the day
                self.execute("SELECT fact_sales_day_partition(%s, %s)", (rid, date_id))
            self._days.add(day)
        return date_id

    def add_sales(self, code: str, day: date, rows: int, *, quantity: int = 2,
                  unit_price: str = "5.25", prefix: str = "ORD") -> Decimal:
        """`rows` good facts of retailer `code` on `day` (ids `fact_id(code, day, n, prefix)`), and
        the day's fact_sales_id_range row made exact, as a load leaves it; returns their total amount."""
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
            txn = fact_id(code, day, n, prefix)
            self.execute(
                """INSERT INTO fact_sales (sale_id, date_id, product_id, customer_id, store_id, retailer_id,
                       transaction_id, quantity, unit_price, total_amount, transaction_ts, run_id)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'test-run')""",
                (secrets.randbits(62), date_id, product_id, customer_id, store_id, rid, txn, quantity,
                 Decimal(unit_price), total, datetime(day.year, day.month, day.day, 10, n % 60, tzinfo=UTC)))
        self.set_range(rid, date_id)
        return total * rows

    def set_range(self, retailer_id: int, date_id: int) -> None:
        """The fact_sales_id_range row of a retailer-day: its facts' lowest and highest id (none
        without facts), compared byte by byte as the loader writes it."""
        self.execute("DELETE FROM fact_sales_id_range WHERE retailer_id = %s AND date_id = %s", (retailer_id, date_id))
        self.execute("""INSERT INTO fact_sales_id_range (retailer_id, date_id, first_transaction_id, last_transaction_id)
                        SELECT retailer_id, date_id, min(transaction_id COLLATE "C"), max(transaction_id COLLATE "C")
                        FROM fact_sales WHERE retailer_id = %s AND date_id = %s GROUP BY 1, 2""",
                     (retailer_id, date_id))

    def drop_check_constraints(self) -> list[str]:
        """Drop fact_sales' CHECK constraints (the sale rules the warehouse enforces), to plant
        facts that break them: a warehouse migrated before the rules, or a constraint dropped by
        hand. The quality checks must still see such facts. Returns the names dropped."""
        names = [r[0] for r in self.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'fact_sales'::regclass AND contype = 'c'")]
        for name in names:
            self.execute(f'ALTER TABLE fact_sales DROP CONSTRAINT "{name}"')
        return names

    def add_audit(self, code: str, day: date, rows: int, amount: Decimal, *, hours_ago: float = 1,
                  rows_quarantined: int = 0, run_id: str = "test-run") -> None:
        self.execute(
            """INSERT INTO load_audit VALUES (%s, %s, %s, %s, %s, %s, now() - %s * interval '1 hour')
               ON CONFLICT (run_id, retailer_code, sale_date) DO UPDATE SET loaded_at = EXCLUDED.loaded_at,
                   rows_loaded = EXCLUDED.rows_loaded""",
            (run_id, code, day, rows, amount, rows_quarantined, hours_ago))

    def add_warehouse_quarantine(self, code: str, day: date, total_amount: str, reason: str = "missing product",
                                 transaction_id: str | None = None) -> None:
        self.execute(
            """INSERT INTO warehouse_quarantine (run_id, retailer_code, transaction_id, sale_date, reason, record)
               VALUES ('test-run', %s, %s, %s, %s, %s)""",
            (code, transaction_id or f"WQ-{code}-{day}-{secrets.token_hex(3)}", day, reason,
             json.dumps({"retailer_code": code, "total_amount": total_amount})))

    # -- the retailers' sources ----------------------------------------------------------
    def source(self, code: str, sql: str, params=None):
        with closing(psycopg2.connect(self.sources[code])) as conn, conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def serve(self, code: str, day: date, ids: list[str]) -> None:
        """Make the retailer's source serve exactly `ids` on `day` (good rows, 2 x 5.25)."""
        if REGISTRY[code]["simulator"]["style"] in _ORDERS:
            return self._serve_orders(code, day, ids)
        table, id_col, ts_col, sku, name, qty, price, total = _source(code)
        start = datetime(day.year, day.month, day.day)
        self.source(code, f"DELETE FROM {table} WHERE {ts_col} >= %s AND {ts_col} < %s",
                    (start, start + timedelta(days=1)))
        if not ids:
            return
        rows = [(txn, start + timedelta(hours=10, seconds=n), "SKU-1", "Widget", 2, "5.25", "10.50")
                for n, txn in enumerate(ids)]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
        self.source(code, f"INSERT INTO {table} ({id_col}, {ts_col}, {sku}, {name}, {qty}, {price}, {total}) "
                          f"VALUES {values}", [v for row in rows for v in row])

    def _local_day(self, code: str, day: date) -> tuple[str, tuple]:
        """A WHERE clause on placed_at for `day`, a local day in the retailer's time zone."""
        start = datetime(day.year, day.month, day.day)
        return ("(placed_at AT TIME ZONE %s) >= %s AND (placed_at AT TIME ZONE %s) < %s",
                (REGISTRY[code]["timezone"], start, REGISTRY[code]["timezone"], start + timedelta(days=1)))

    def _serve_orders(self, code: str, day: date, ids: list[str]) -> None:
        orders, lines = _ORDERS[REGISTRY[code]["simulator"]["style"]]
        where, params = self._local_day(code, day)
        self.source(code, f"DELETE FROM {lines} WHERE order_ref IN (SELECT order_ref FROM {orders} WHERE {where})",
                    params)
        self.source(code, f"DELETE FROM {orders} WHERE {where}", params)
        start = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)  # same date in Europe
        for n, txn in enumerate(ids):
            order_ref, line_no = txn.rsplit("-", 1)
            self.source(code, f"INSERT INTO {orders} (order_ref, placed_at, customer_ref, shop_ref) "
                              "VALUES (%s, %s, 'C-1', 'S-1') ON CONFLICT DO NOTHING",
                        (order_ref, start + timedelta(seconds=n)))
            self.source(code, f"INSERT INTO {lines} (order_ref, position, line_no, sku, title, family, units, "
                              "unit_price_cents, line_total_cents) VALUES (%s, %s, %s, 'SKU-1', 'Widget', 'Tools', "
                              "2, 525, 1050)", (order_ref, int(line_no), int(line_no)))

    def served_ids(self, code: str, day: date) -> list[str]:
        if REGISTRY[code]["simulator"]["style"] in _ORDERS:
            orders, lines = _ORDERS[REGISTRY[code]["simulator"]["style"]]
            where, params = self._local_day(code, day)
            rows = self.source(code, f"SELECT o.order_ref || '-' || l.line_no FROM {orders} o JOIN {lines} l "
                                     f"USING (order_ref) WHERE {where} ORDER BY 1", params)
            return [r[0] for r in rows]
        table, id_col, ts_col, *_ = _source(code)
        start = datetime(day.year, day.month, day.day)
        rows = self.source(code, f"SELECT {id_col} FROM {table} WHERE {ts_col} >= %s AND {ts_col} < %s "
                                 f"ORDER BY 1", (start, start + timedelta(days=1)))
        return [r[0] for r in rows]

    # -- the zones -------------------------------------------------------------------------
    def zone_path(self, code: str, day: date, zone: str = "raw") -> Path:
        return (self.raw_zone / zone / code / f"year={day.year:04d}" / f"month={day.month:02d}"
                / f"day={day.day:02d}" / "sales_data.json")

    def write_zone(self, code: str, day: date, rows: int, amount: Decimal, zone: str = "raw",
                   ids: list[str] | None = None) -> list[str]:
        """`rows` JSON Lines records of `code` on `day` in the raw (or quarantine) zone, whose
        total_amount adds up to `amount`; ids `fact_id(...)` (raw) or QRN-... unless given."""
        path = self.zone_path(code, day, zone)
        ids = ids or [fact_id(code, day, n, "ORD" if zone == "raw" else "QRN") for n in range(rows)]
        if rows == 0:
            path.unlink(missing_ok=True)
            return []
        path.parent.mkdir(parents=True, exist_ok=True)
        each = (Decimal(amount) / rows).quantize(Decimal("0.01"))
        lines = []
        for n, txn in enumerate(ids[:rows]):
            value = each if n < rows - 1 else Decimal(amount) - each * (rows - 1)
            record = {"retailer_code": code, "transaction_id": txn,
                      "sale_date": day.isoformat(), "quantity": 1, "unit_price": float(value),
                      "total_amount": float(value)}
            if zone == "quarantine":
                record["reasons"] = ["quantity must be > 0"]
            lines.append(json.dumps(record))
        path.write_text("\n".join(lines) + "\n")
        return ids[:rows]

    def write_manifest(self, code: str, run_date: date, days: dict[date, dict], *, files: bool = True) -> Path:
        """The ingestion manifest (docs/contracts.md format) for `code` and `run_date`, and (with
        `files`) the raw and quarantine zone files it describes and a source serving their ids."""
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
                raw = self.write_zone(code, day, d["rows_written"], Decimal(str(d["total_amount_written"])))
                held = self.write_zone(code, day, d.get("rows_quarantined", 0),
                                       Decimal("1.00") * d.get("rows_quarantined", 0), zone="quarantine")
                self.serve(code, day, raw + held)
        path = self.raw_zone / "manifests" / code / f"run_date={run_date.isoformat()}" / "manifest.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest, indent=1))
        return path

    def load_clean(self, run_date: date, *, lookback: int = 3, rows: int = 5, history_weeks: int = 4,
                   retailers=tuple(RETAILERS), loaded_hours_ago: float = 1) -> None:
        """A consistent warehouse: `rows` facts per retailer and window day, audited just now,
        the same weekday of the previous weeks with the same volume, manifests, zone files and
        sources that agree with them id for id."""
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
def warehouse(pg_server, warehouse_template, kedro_project, retailer_apis):
    """A migrated warehouse of its own (superuser connection), wired into the test's Kedro conf
    with the real retailer APIs, whose tables are emptied first."""
    dbname = f"dq_{secrets.token_hex(4)}"
    pg_server.ensure_database(dbname, template=warehouse_template)
    raw_zone = kedro_project.data / "01_raw"
    raw_zone.mkdir(parents=True, exist_ok=True)
    sources = {code: api["dsn"] for code, api in retailer_apis.items()}
    truncate_retailers(sources)
    kedro_project.write_yaml("local/credentials.yml", {
        "warehouse": {"con": pg_server.url(dbname)},
        **{f"{code}_api": credentials_for(REGISTRY[code], api["base_url"], api.get("api_key") or api.get("client_secret"),
                                          api.get("client_id"))
           for code, api in retailer_apis.items() if code in REGISTRY},
    })
    wh = Warehouse(pg_server, dbname, raw_zone, sources)
    try:
        yield wh
    finally:
        wh.close()
        pg_server.drop_database(dbname)
