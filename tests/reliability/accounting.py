"""The accounting check every reliability scenario ends with.

For every retailer and day touched:
- served = raw + quarantine: the source rows of the window (read from the retailer's own
  database, the ids trimmed as ingestion trims them) are exactly the raw-zone records plus the
  quarantined ones, as multisets of transaction ids;
- raw valid = facts + warehouse quarantine: per day, the raw records' ids are exactly the fact
  lines' ids plus the warehouse-quarantined ids, and the money adds up to the cent;
- no (retailer, transaction_id, product) twice anywhere in fact_sales.
`assert_accounted` raises AssertionError naming the retailer, day and what is off.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import psycopg2

from retailers.common.registry import RETAILERS


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _zone_lines(root: Path, zone: str, code: str, day: dt.date) -> list[dict]:
    path = root / zone / code / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}" / "sales_data.json"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def source_ids(dsn: str, code: str, start: dt.date, end: dt.date, style: str | None = None) -> Counter:
    """Trimmed transaction ids the source serves for [start, end] (local days of its timestamps);
    `style`: the simulator style serving `code` (its registry `simulator.style`), default `code`.
    A style of orders with lines (retailer_4) serves one record per line, id order_ref-line_no
    (its registry mapping), and its days are local days in its time zone."""
    spec = RETAILERS[style or code]
    ts = f"{spec.ts_column}" if spec.timezone == "UTC" else f"({spec.ts_column} AT TIME ZONE '{spec.timezone}')"
    if spec.extra_tables:  # orders with lines (retailers/retailer_4/schema.sql): one record per line
        ident = f"btrim(o.{spec.id_column}) || '-' || l.line_no"
        rows = f"{spec.table} o JOIN {spec.extra_tables[0]} l USING ({spec.id_column})"
    else:
        ident, rows = f"btrim({spec.id_column})", spec.table
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {ident} FROM {rows} WHERE {ts} >= %s AND {ts} < %s",
                    (start, end + dt.timedelta(days=1)))
        return Counter(row[0] for row in cur.fetchall())


def warehouse_days(warehouse_dsn: str, code: str, start: dt.date, end: dt.date) -> dict:
    """{day: (Counter of fact ids, fact money, Counter of quarantined ids, quarantined money)}."""
    lo, hi = int(f"{start:%Y%m%d}"), int(f"{end:%Y%m%d}")
    out = {day: [Counter(), Decimal("0"), Counter(), Decimal("0")] for day in _days(start, end)}
    with closing(psycopg2.connect(warehouse_dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT to_date(f.date_id::text, 'YYYYMMDD'), f.transaction_id, f.total_amount "
            "FROM fact_sales f JOIN dim_retailer r USING (retailer_id) "
            "WHERE r.retailer_code = %s AND f.date_id BETWEEN %s AND %s", (code, lo, hi))
        for day, txn, amount in cur.fetchall():
            out[day][0][txn] += 1
            out[day][1] += amount
        cur.execute(
            "SELECT sale_date, transaction_id, record ->> 'total_amount' FROM warehouse_quarantine "
            "WHERE retailer_code = %s AND sale_date BETWEEN %s AND %s", (code, start, end))
        for day, txn, amount in cur.fetchall():
            out[day][2][txn] += 1
            out[day][3] += Decimal(amount) if amount not in (None, "") else Decimal("0")
    return out


def duplicate_lines(warehouse_dsn: str) -> list[tuple]:
    """(retailer_id, transaction_id, product_ids, copies) for every transaction in fact_sales twice
    (a transaction is one line, whatever its product)."""
    with closing(psycopg2.connect(warehouse_dsn)) as conn, conn.cursor() as cur:
        cur.execute("SELECT retailer_id, transaction_id, array_agg(product_id), count(*) FROM fact_sales "
                    "GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 20")
        return cur.fetchall()


def assert_accounted(*, raw_root: Path | str, warehouse_dsn: str, source_dsns: dict[str, str],
                     start: dt.date | str, end: dt.date | str, retailers=None,
                     styles: dict[str, str] | None = None) -> dict:
    """Assert the accounting for each retailer over [start, end]; returns the counts per retailer.
    `styles`: {code: simulator style} for retailers whose code is not a style name."""
    start, end = dt.date.fromisoformat(str(start)), dt.date.fromisoformat(str(end))
    root = Path(raw_root)
    problems: list[str] = []
    summary: dict[str, dict] = {}
    for code in retailers or sorted(source_dsns):
        served = source_ids(source_dsns[code], code, start, end, (styles or {}).get(code))
        raw, held = Counter(), Counter()
        wh = warehouse_days(warehouse_dsn, code, start, end)
        for day in _days(start, end):
            raw_lines = _zone_lines(root, "raw", code, day)
            held_lines = _zone_lines(root, "quarantine", code, day)
            raw.update(r["transaction_id"] for r in raw_lines)
            held.update((r.get("transaction_id") or "").strip() for r in held_lines)
            day_raw = Counter(r["transaction_id"] for r in raw_lines)
            raw_money = sum((Decimal(str(r["total_amount"])) for r in raw_lines), Decimal("0"))
            facts, fact_money, wq, wq_money = wh[day]
            if day_raw != facts + wq:
                missing = sorted((day_raw - (facts + wq)).elements())[:5]
                extra = sorted(((facts + wq) - day_raw).elements())[:5]
                problems.append(f"{code} {day}: raw {sum(day_raw.values())} != facts {sum(facts.values())}"
                                f" + warehouse quarantine {sum(wq.values())} (missing {missing}, extra {extra})")
            if raw_money.quantize(Decimal("0.01")) != (fact_money + wq_money).quantize(Decimal("0.01")):
                problems.append(f"{code} {day}: raw money {raw_money} != facts {fact_money} + "
                                f"warehouse quarantine {wq_money}")
        if served != raw + held:
            missing = sorted((served - (raw + held)).elements())[:5]
            extra = sorted(((raw + held) - served).elements())[:5]
            problems.append(f"{code} {start}..{end}: served {sum(served.values())} != raw "
                            f"{sum(raw.values())} + quarantine {sum(held.values())} "
                            f"(not landed {missing}, landed but not served {extra})")
        summary[code] = {"served": sum(served.values()), "raw": sum(raw.values()),
                         "quarantined": sum(held.values())}
    duplicates = duplicate_lines(warehouse_dsn)
    if duplicates:
        problems.append(f"lines in fact_sales more than once: {duplicates}")
    assert not problems, "accounting failed:\n  " + "\n  ".join(problems)
    return summary
