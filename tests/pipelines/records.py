"""Source records as each retailer's API serves them (retailers/README.md), small and editable.

Retailer 4 serves orders with nested lines; `lines_of` flattens them the way the extraction
does (docs: the shared contract): one row per line, the order's fields plus the line's, and a
`source_record` holding the order with only that line.
"""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd

from .in_memory import RUN_DATE, api_frame


def r1(n: int, day: str = "2024-01-15", **overrides: Any) -> dict[str, Any]:
    record = {"order_id": f"ORD-{day.replace('-', '')}-{n:06d}", "order_date": f"{day}T10:30:00",
              "customer_id": "CUST-001", "store_id": "STORE-01", "sku": f"SKU-{n:05d}",
              "product_name": "Café crème", "category": "Food", "quantity": 2, "price": 12.5,
              "total": 25.0, "discount_percentage": 0.0, "payment_method": "cash",
              "created_at": f"{day}T10:31:00"}
    return {**record, **overrides}


def r2(n: int, day: str = "2024-01-14", **overrides: Any) -> dict[str, Any]:
    record = {"transaction_number": f"TXN-{day.replace('-', '')}-{n:06d}", "date": f"{day} 09:00:05",
              "member_id": "M-1", "location_id": "LOC-7", "item_code": f"SKU-{n:05d}", "item_name": "Tea",
              "department": "Drinks", "qty": 3, "unit_cost": "1.10", "amount": "3.30", "tax_amount": "0.23",
              "loyalty_points_earned": 3, "promotion_code": None, "sales_rep_id": None}
    return {**record, **overrides}


def r3(n: int, epoch_ms: int = 1705140000000, **overrides: Any) -> dict[str, Any]:
    """Retailer 3; the default time is 2024-01-13T10:00:00Z."""
    record = {"sale_id": f"SAL-{n:06d}", "timestamp": epoch_ms, "buyer_id": "B-9", "outlet_id": "OUT-2",
              "product_code": f"SKU-{n:05d}", "name": "Lamp", "type": "Home", "count": 1,
              "price_per_unit": 40.0, "revenue": 40.0, "shipping_cost": 4.99, "warranty_months": 0,
              "return_policy_days": 30, "supplier_id": "SUP-001"}
    return {**record, **overrides}


def r4_line(line_no: int, units: int = 2, unit_price_cents: Any = 1250, **overrides: Any) -> dict[str, Any]:
    line = {"line_no": line_no, "sku": f"SKU-{line_no:05d}", "title": "Baguette", "family": "Bakery",
            "units": units, "unit_price_cents": unit_price_cents,
            "line_total_cents": units * unit_price_cents}
    return {**line, **overrides}


def r4_order(n: int, placed_at: str, lines: list[dict[str, Any]], day: str = "20240115") -> dict[str, Any]:
    return {"order_ref": f"WEB-{day}-{n:06d}", "placed_at": placed_at, "customer_ref": "C-42",
            "shop_ref": "PARIS-01", "currency": "EUR", "lines": lines}


def lines_of(orders: list[dict[str, Any]], code: str = "retailer_4", run_date: str = RUN_DATE,
             window_start: str = "2024-01-12"):
    """The extraction's frame for orders with nested lines: one row per line."""
    rows, sources = [], []
    for order in orders:
        head = {key: value for key, value in order.items() if key != "lines"}
        for line in order["lines"]:
            rows.append({**head, **line})
            sources.append(orjson.dumps({**head, "lines": [line]}).decode())
    frame = api_frame(rows, code, run_date, window_start, source_total=None, orders=len(orders),
                      orders_without_lines=sum(not order["lines"] for order in orders))
    frame["source_record"] = pd.Series(sources, dtype="str")
    return frame
