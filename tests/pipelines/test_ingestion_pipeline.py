"""The ingestion pipeline on an in-memory catalog: each retailer's extracted frame in, the raw
rows, quarantine rows and manifest out (the value `<code>.raw_sales` commits as one unit).

Accounting in every test: rows served = raw rows + quarantined rows, and the manifest says the
same, per day and in total.
"""

from __future__ import annotations

import pandas as pd
import pytest

from .in_memory import INGESTED_AT, api_frame, conf_parameters, ingest, project_pipeline
from .records import lines_of, r1, r2, r3, r4_line, r4_order

def reasons_of(quarantine: pd.DataFrame, transaction_id: str) -> list[str]:
    return list(quarantine.set_index("transaction_id").loc[transaction_id, "reasons"])


def assert_accounted(window: dict, served: int) -> None:
    """Served = raw + quarantine, and the manifest agrees in total and per day."""
    raw, quarantine, manifest = window["raw"], window["quarantine"], window["manifest"]
    assert len(raw) + len(quarantine) == served == manifest["rows_received"]
    assert (manifest["rows_written"], manifest["rows_quarantined"]) == (len(raw), len(quarantine))
    days = manifest["days"]
    assert sum(d["rows_received"] for d in days) == served
    assert [d["rows_written"] for d in days] == [int((raw["sale_date"] == d["sale_date"]).sum()) for d in days]
    assert [d["rows_quarantined"] for d in days] == [
        int((quarantine["sale_date"] == d["sale_date"]).sum()) for d in days]


def test_registry_namespaces_are_the_pipelines_namespaces():
    codes = set(conf_parameters()["retailers"])
    namespaces = {n.namespace for n in project_pipeline("ingestion").nodes}
    assert namespaces == codes and "retailer_4" in codes


def test_good_and_bad_rows_of_one_retailer_are_all_accounted_for():
    records = [r1(1, "2024-01-12"), r1(2, "2024-01-13"), r1(3), r1(4, sku=""),
               r1(5, quantity=-2, total=-25.0), r1(6, total=30.0), r1(7, "2024-01-10"),
               r1(8, order_date="15/01/2024")]
    window = ingest({"retailer_1": api_frame(records, "retailer_1")})["retailer_1"]

    assert_accounted(window, len(records))
    raw, quarantine, manifest = window["raw"], window["quarantine"], window["manifest"]
    assert sorted(raw["transaction_id"].str[-1]) == ["1", "2", "3"]
    assert reasons_of(quarantine, "ORD-20240115-000004") == ["product_sku is empty"]
    assert "total_amount 30.00 differs" in reasons_of(quarantine, "ORD-20240115-000006")[0]
    assert "outside the window 2024-01-12..2024-01-15" in reasons_of(quarantine, "ORD-20240110-000007")[-1]
    # no business date in the window: filed on the run date
    assert quarantine.set_index("transaction_id").loc["ORD-20240115-000008", "sale_date"] == "2024-01-15"
    assert set(raw["run_id"]) == {"run-test"} and set(raw["ingested_at"]) == {INGESTED_AT}
    assert (manifest["retailer_code"], manifest["run_id"], manifest["ingested_at"]) == (
        "retailer_1", "run-test", INGESTED_AT)
    assert (manifest["source_total"], manifest["source_total_matches"], manifest["pages"]) == (8, True, 3)


def test_every_retailer_of_the_registry_is_ingested_apart():
    frames = {
        "retailer_1": api_frame([r1(1), r1(2, quantity="two")], "retailer_1"),
        "retailer_2": api_frame([r2(1), r2(2), r2(3, amount="N/A")], "retailer_2"),
        "retailer_3": api_frame([r3(1), r3(2, revenue=41.0)], "retailer_3"),
        "retailer_4": lines_of([r4_order(1, "2024-01-15T09:00:00+01:00", [r4_line(1), r4_line(2)])]),
    }
    windows = ingest(frames)
    for code, window in windows.items():
        assert_accounted(window, len(frames[code]))
        assert set(window["raw"]["retailer_code"]) | set(window["quarantine"]["retailer_code"]) == {code}
    assert [len(windows[code]["quarantine"]) for code in frames] == [1, 1, 1, 0]


def test_retailer_4_lines_cents_and_local_days_across_the_dst_change():
    """Paris went from +01:00 to +02:00 at 02:00 on 2024-03-31: the business day is the local
    date, the timestamp is UTC; money in cents; a fractional cent is quarantined, never rounded."""
    orders = [
        r4_order(1, "2024-03-31T00:30:00+01:00", [r4_line(1), r4_line(2, units=1, unit_price_cents=999)],
                 day="20240331"),
        r4_order(2, "2024-03-31T03:15:00+02:00", [r4_line(1, unit_price_cents=1250.5)], day="20240331"),
        r4_order(3, "2024-03-30T12:00:00+01:00", [], day="20240330"),  # no lines: no row
    ]
    frame = lines_of(orders, run_date="2024-03-31", window_start="2024-03-28")
    window = ingest({"retailer_4": frame}, "2024-03-31", "2024-04-01T02:00:00Z")["retailer_4"]

    assert_accounted(window, 3)
    raw, quarantine, manifest = window["raw"].set_index("transaction_id"), window["quarantine"], window["manifest"]
    first = raw.loc["WEB-20240331-000001-1"]
    assert (first["transaction_ts"], first["sale_date"]) == ("2024-03-30T23:30:00Z", "2024-03-31")
    assert (first["quantity"], first["unit_price"], first["total_amount"]) == (2, 12.5, 25.0)
    assert raw.loc["WEB-20240331-000001-2", "total_amount"] == pytest.approx(9.99)
    assert list(quarantine["transaction_id"]) == ["WEB-20240331-000002-1"]
    assert any("unit_price" in reason for reason in quarantine["reasons"].iloc[0])
    assert (manifest["orders"], manifest["orders_without_lines"]) == (3, 1)
