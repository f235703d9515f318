"""Retention in the warehouse: one transaction per retailer, under that retailer's load lock.

What goes for a retailer, per day before the cutoff: its fact partitions (dropped), its
`fact_sales_id_range` rows (those days' id ranges, read by the loader's exactly-once guard: they
go with their facts), its daily marts, the monthly mart of whole months before the cutoff's
month (the cutoff's own month is rebuilt from its remaining days), its `warehouse_quarantine`,
`load_audit` and `fact_sales_changes` rows. Then its retention horizon (loads of removed days are
refused, 020_retention_audit.sql) and the audit rows, in the same transaction: the retailer's
removal is all or nothing. Dimensions are kept (members are shared by kept days and cheap;
every foreign key still holds). `dq_check_results` before the cutoff go in a transaction of
their own.

The dry run runs the same plan in a READ ONLY transaction with the count queries; the real run
reports what its DELETE ... RETURNING statements removed, so the two can be compared.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg2

from retail_pipeline.retention.rules import Item
from retail_pipeline.retention.sqlfiles import statement, text
from retail_pipeline.warehouse.migrate import to_dsn

IDENTITY_SQL = Path(__file__).resolve().parents[3] / "sql" / "runs" / "warehouse_identity.sql"
BY_RETAILER_ID = ("fact_sales_id_range", "mart_daily_sales", "mart_daily_category_sales", "mart_monthly_category_sales")
BY_RETAILER_CODE = ("warehouse_quarantine", "load_audit", "fact_sales_changes")
MONTH_REBUILT = "mart_monthly_category_sales_rebuilt"


@dataclass(frozen=True)
class Scope:
    """One retention run: its cutoff (days before it go), keep_days, run id, lock timeout."""

    cutoff: date
    keep_days: int
    run_id: str
    lock_timeout: str = "60s"

    def params(self, code: str | None = None, retailer_id: int | None = None) -> dict:
        month_start = self.cutoff.replace(day=1)
        return {"retailer_code": code, "retailer_id": retailer_id, "cutoff": self.cutoff,
                "cutoff_id": int(self.cutoff.strftime("%Y%m%d")), "month_start_id": int(month_start.strftime("%Y%m%d")),
                "run_id": self.run_id}


def connect(con: str):
    """A connection as the loader (the owner of the warehouse), from a SQLAlchemy or libpq URL."""
    conn = psycopg2.connect(to_dsn(con), connect_timeout=10, application_name="retail_retention")
    return conn


def identity(conn) -> str:
    """This warehouse's identity (sql/runs/warehouse_identity.sql), as backfill records it."""
    with conn, conn.cursor() as cur:
        cur.execute(IDENTITY_SQL.read_text())
        return cur.fetchone()[0]


def last_loaded(conn, codes: list[str]) -> dict[str, date | None]:
    """Registry retailer -> the last day its loads covered (None: never loaded)."""
    with conn, conn.cursor() as cur:
        cur.execute(text("last_loaded"))
        found = dict(cur.fetchall())
    return {code: found.get(code) for code in codes}


def retailers(conn, scope: Scope) -> list[tuple[str, int | None]]:
    with conn, conn.cursor() as cur:
        return retailers_in(cur, scope)


def _days(cur, name: str, params: dict, kind: str, code: str | None, target: str) -> list[Item]:
    cur.execute(text(name), params)
    return [Item(kind, code, day, target, int(rows)) for day, rows in cur.fetchall()]


def retailer_items(cur, code: str, retailer_id: int | None, scope: Scope, delete: bool) -> list[Item]:
    """What goes for one retailer; with `delete`, removed (in the caller's transaction)."""
    params = scope.params(code, retailer_id)
    items: list[Item] = []
    month: list[Item] = []
    if retailer_id is not None:
        cur.execute(text("day_partitions"), params)
        for partition, date_id in cur.fetchall():
            cur.execute(statement("partition_rows", partition=partition))
            rows = cur.fetchone()[0]
            if delete:
                cur.execute(statement("partition_drop", partition=partition))
            items.append(Item("fact_partition", code, _day(date_id), partition, int(rows)))
        cur.execute(text("month_rows"), params)  # before the daily rows it looks at are deleted
        rows = cur.fetchone()[0]
        if rows:
            month = [Item(MONTH_REBUILT, code, scope.cutoff.replace(day=1), "mart_monthly_category_sales", int(rows))]
    for kind in BY_RETAILER_ID + BY_RETAILER_CODE:
        if kind in BY_RETAILER_ID and retailer_id is None:
            continue
        items += _days(cur, f"{'delete' if delete else 'count'}/{kind}", params, kind, code, kind)
    if month and delete:
        cur.execute(text("month_delete"), params)
        month = [Item(MONTH_REBUILT, code, month[0].day, month[0].target, cur.rowcount)]
        cur.execute(text("month_rebuild"), params)
    return items + month


def _day(date_id: int) -> date:
    return date(date_id // 10000, date_id // 100 % 100, date_id % 100)


def plan(conn, scope: Scope) -> list[Item]:
    """Everything that would go, read in one READ ONLY transaction (the dry run)."""
    with conn, conn.cursor() as cur:
        cur.execute("SET TRANSACTION READ ONLY")
        items: list[Item] = []
        for code, retailer_id in retailers_in(cur, scope):
            items += retailer_items(cur, code, retailer_id, scope, delete=False)
        items += _days(cur, "count/dq_check_results", scope.params(), "dq_check_results", None, "dq_check_results")
    return items


def retailers_in(cur, scope: Scope) -> list[tuple[str, int | None]]:
    cur.execute(text("retailers"), scope.params())
    return [(code, rid) for code, rid in cur.fetchall()]


def remove(conn, scope: Scope) -> list[Item]:
    """Remove everything before the cutoff: each retailer in its own transaction under its load
    lock, then the quality results; returns what was removed, as reported by the deletes."""
    removed: list[Item] = []
    for code, retailer_id in retailers(conn, scope):
        removed += remove_retailer(conn, code, retailer_id, scope)
    with conn, conn.cursor() as cur:
        items = _days(cur, "delete/dq_check_results", scope.params(), "dq_check_results", None, "dq_check_results")
        record(cur, items, scope)
    return removed + items


def remove_retailer(conn, code: str, retailer_id: int | None, scope: Scope) -> list[Item]:
    params = scope.params(code, retailer_id)
    with conn, conn.cursor() as cur:  # committed on its own: a row to lock, as a first load makes it
        cur.execute(text("lock_row"), params)
    with conn, conn.cursor() as cur:
        cur.execute("SET LOCAL lock_timeout = %s", (scope.lock_timeout,))
        cur.execute(text("lock"), params)
        items = retailer_items(cur, code, retailer_id, scope, delete=True)
        if items:
            cur.execute(text("horizon"), params)
        record(cur, items, scope)
    return items


def record(cur, items: list[Item], scope: Scope) -> None:
    """The audit rows of `items` (retention_audit), in the caller's transaction."""
    for item in items:
        cur.execute(text("audit_insert"), {"run_id": scope.run_id, "keep_days": scope.keep_days,
                                           "cutoff": scope.cutoff, "kind": item.kind,
                                           "retailer_code": item.retailer_code, "day": item.day,
                                           "target": item.target, "removed": item.removed})


def record_zones(con: str, items: list[Item], scope: Scope) -> None:
    """Audit rows for zone days removed (after their files are deleted)."""
    if not items:
        return
    with closing(connect(con)) as conn, conn, conn.cursor() as cur:
        record(cur, items, scope)
