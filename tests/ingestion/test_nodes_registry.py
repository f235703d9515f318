"""Normalization driven by the registry entry: local time zones across DST, UTC offsets, integer
cents, composite ids (order + line), and retailer 4's node on a realistic window."""

from __future__ import annotations

import copy
import random

import numpy as np
import orjson
import pandas as pd
import pytest
import yaml

from retail_pipeline.pipelines.ingestion.nodes import (
    ingest_sales,
    ingestion_time,
    normalize_sales,
    split_valid_quarantine,
)
from retail_pipeline.pipelines.ingestion.timestamps import check_timezone
from retail_pipeline.schemas.canonical import CanonicalSale
from tests.fixtures.kedro_project import PROJECT_ROOT

REGISTRY = yaml.safe_load((PROJECT_ROOT / "conf/base/retailers.yml").read_text())["retailers"]
R4 = REGISTRY["retailer_4"]
INGESTED_AT = "2024-11-01T00:00:00Z"
SPRING = {"window_start": "2024-03-30", "window_end": "2024-03-31"}
AUTUMN = {"window_start": "2024-10-26", "window_end": "2024-10-27"}


def line(order="WEB-20240331-000001", line_no=1, placed_at="2024-03-31T03:15:00+02:00", **overrides) -> dict:
    """One row as RetailerApiDataset serves retailer 4: the order's fields plus one line's."""
    row = {"order_ref": order, "placed_at": placed_at, "customer_ref": "CUST-9", "shop_ref": "PAR-01",
           "currency": "EUR", "line_no": line_no, "sku": "SKU-00001", "title": "Baguette",
           "family": "Bakery", "units": 2, "unit_price_cents": 125, "line_total_cents": 250}
    return {**row, **overrides}


def frame(rows: list[dict], window: dict, code: str = "retailer_4") -> pd.DataFrame:
    data = pd.DataFrame.from_records(rows)
    lines = [{k: v for k, v in r.items() if k not in ("line_no", "sku", "title", "family", "units",
                                                       "unit_price_cents", "line_total_cents")} for r in rows]
    data["source_record"] = [orjson.dumps({**o, "lines": [{"line_no": r["line_no"]}]}).decode()
                             for o, r in zip(lines, rows, strict=True)]
    data["source_page"] = 1
    data.attrs["extraction"] = {"retailer_code": code, **window, "pages": 1, "requests": 1, "retries": 0,
                                "source_total": None, "orders": len({r["order_ref"] for r in rows}),
                                "orders_without_lines": 0}
    return data


def naive_local(fmt: str = "%Y-%m-%d %H:%M:%S") -> dict:
    """Retailer 4's entry, but the source writes local wall-clock time without an offset."""
    entry = copy.deepcopy(R4)
    entry["source"]["timestamp"] = {"format": fmt}
    return entry


def run(rows: list[dict], window: dict, entry: dict = R4):
    normalized, stats = normalize_sales(frame(rows, window), entry, "run-4", INGESTED_AT)
    raw, quarantine, summary = split_valid_quarantine(normalized, stats)
    assert summary["rows_received"] == len(rows) == len(raw) + len(quarantine)  # nothing lost
    return raw, quarantine, summary


def by_id(raw: pd.DataFrame) -> dict[str, tuple[str, str]]:
    return {r.transaction_id: (r.transaction_ts, r.sale_date) for r in raw.itertuples()}


def reasons(quarantine: pd.DataFrame) -> dict[str, list[str]]:
    return {r.transaction_id: list(r.reasons) for r in quarantine.itertuples()}


# -- time zones --------------------------------------------------------------------------------
def test_offsets_are_kept_and_the_business_day_is_the_local_date():
    raw, quarantine, _ = run([
        line("A", placed_at="2024-03-31T03:15:00+02:00"),   # after the spring change (CEST)
        line("B", placed_at="2024-03-31T01:59:59+01:00"),   # just before it (CET)
        line("C", placed_at="2024-03-31T00:30:00+01:00"),   # local day 31, UTC day 30
        line("D", placed_at="2024-03-30T23:30:00Z"),        # the same kind of instant, given in UTC
        line("E", placed_at="2024-03-30T12:00:00"),         # no offset: Paris wall-clock time
    ], SPRING)
    assert quarantine.empty, quarantine["reasons"].tolist()
    assert by_id(raw) == {
        "A-1": ("2024-03-31T01:15:00Z", "2024-03-31"), "B-1": ("2024-03-31T00:59:59Z", "2024-03-31"),
        "C-1": ("2024-03-30T23:30:00Z", "2024-03-31"), "D-1": ("2024-03-30T23:30:00Z", "2024-03-31"),
        "E-1": ("2024-03-30T11:00:00Z", "2024-03-30")}
    CanonicalSale.validate(raw)


def test_spring_forward_naive_times_around_the_gap():
    raw, quarantine, summary = run([
        line("A", placed_at="2024-03-31 01:59:59"), line("B", placed_at="2024-03-31 02:30:00"),
        line("C", placed_at="2024-03-31 03:00:00"), line("D", placed_at="2024-03-30 23:59:59"),
    ], SPRING, naive_local())
    assert by_id(raw) == {"A-1": ("2024-03-31T00:59:59Z", "2024-03-31"),
                          "C-1": ("2024-03-31T01:00:00Z", "2024-03-31"),
                          "D-1": ("2024-03-30T22:59:59Z", "2024-03-30")}
    assert reasons(quarantine) == {"B-1": [
        "transaction_ts: local time '2024-03-31 02:30:00' in placed_at does not exist in Europe/Paris "
        "(skipped when the clocks went forward)"]}
    assert summary["reasons_by_kind"] == {"nonexistent_local_time": 1}
    # no business date: filed on the run date, counted there
    assert quarantine.iloc[0]["sale_date"] == "2024-03-31"
    days = {d["sale_date"]: (d["rows_written"], d["rows_quarantined"]) for d in summary["days"]}
    assert days == {"2024-03-30": (1, 0), "2024-03-31": (2, 1)}


def test_fall_back_naive_times_the_doubled_hour_is_not_guessed():
    raw, quarantine, summary = run([
        line("A", placed_at="2024-10-27 01:30:00"), line("B", placed_at="2024-10-27 02:30:00"),
        line("C", placed_at="2024-10-27 03:30:00"), line("D", placed_at="2024-10-27 00:15:00"),
    ], AUTUMN, naive_local())
    assert by_id(raw) == {"A-1": ("2024-10-26T23:30:00Z", "2024-10-27"),   # UTC day 26, local day 27
                          "C-1": ("2024-10-27T02:30:00Z", "2024-10-27"),
                          "D-1": ("2024-10-26T22:15:00Z", "2024-10-27")}
    assert reasons(quarantine) == {"B-1": [
        "transaction_ts: local time '2024-10-27 02:30:00' in placed_at is ambiguous in Europe/Paris "
        "(it happened twice when the clocks went back, and no UTC offset is given)"]}
    assert summary["reasons_by_kind"] == {"ambiguous_local_time": 1}
    assert [d["rows_written"] for d in summary["days"]] == [0, 3]


def test_with_offsets_both_readings_of_the_doubled_hour_are_distinct_instants():
    raw, quarantine, _ = run([line("A", placed_at="2024-10-27T02:30:00+02:00"),
                              line("B", placed_at="2024-10-27T02:30:00+01:00")], AUTUMN)
    assert quarantine.empty
    assert by_id(raw) == {"A-1": ("2024-10-27T00:30:00Z", "2024-10-27"), "B-1": ("2024-10-27T01:30:00Z", "2024-10-27")}


def test_unparseable_timestamps_keep_their_reason_next_to_other_problems():
    entry = naive_local()
    raw, quarantine, _ = run([line("A", placed_at="31/03/2024", units=0, line_total_cents=0),
                              line("B", placed_at="2024-03-31 02:30:00", unit_price_cents=1.5)], SPRING, entry)
    got = reasons(quarantine)
    assert ("transaction_ts: unparseable timestamp in placed_at, expected %Y-%m-%d %H:%M:%S (got '31/03/2024')"
            in got["A-1"]) and any(r.startswith("quantity must be > 0") for r in got["A-1"])
    assert any("does not exist in Europe/Paris" in r for r in got["B-1"])
    assert any("not a whole number of cents" in r for r in got["B-1"])


def test_utc_retailers_are_unchanged_and_a_bad_time_zone_is_refused():
    assert check_timezone("UTC", "x") == "UTC" and check_timezone("Europe/Paris", "x") == "Europe/Paris"
    with pytest.raises(ValueError, match="retailer_9: timezone 'Europe/Pariss' is not an IANA"):
        check_timezone("Europe/Pariss", "retailer_9")


def test_ingestion_time_is_a_parameter_in_canonical_form():
    from datetime import UTC, datetime, timedelta, timezone

    assert ingestion_time("2024-01-16T01:00:00Z") == "2024-01-16T01:00:00Z"
    assert ingestion_time(datetime(2024, 1, 16, 2, tzinfo=timezone(timedelta(hours=1)))) == "2024-01-16T01:00:00Z"
    assert ingestion_time(datetime(2024, 1, 16, 1, tzinfo=UTC)) == "2024-01-16T01:00:00Z"
    for bad in ("", "2024-01-16 01:00:00", "2024-01-16T01:00:00+01:00", None, datetime(2024, 1, 16)):
        with pytest.raises(ValueError, match="ingested_at must be an ISO 8601 UTC time"):
            ingestion_time(bad)


# -- integer cents -----------------------------------------------------------------------------
@pytest.mark.parametrize("price, total, expected", [
    (1250, 2500, (12.5, 25.0)),            # JSON integers
    (1250.0, 2500.0, (12.5, 25.0)),        # integral floats
    (1999, 3998, (19.99, 39.98)),          # the float "19.99" parses to, exactly
    (1, 2, (0.01, 0.02)),
])
def test_integer_cents_become_exact_amounts(price, total, expected):
    raw, quarantine, _ = run([line("A", unit_price_cents=price, line_total_cents=total)], SPRING)
    assert quarantine.empty, quarantine["reasons"].tolist()
    assert (raw.iloc[0]["unit_price"], raw.iloc[0]["total_amount"]) == expected


@pytest.mark.parametrize("price, reason, kind", [
    (1250.5, "unit_price: not a whole number of cents in unit_price_cents (got '1250.5'): money is "
             "quarantined, never rounded", "fractional_cents"),
    ("1250", "unit_price: unparseable money in unit_price_cents, expected integer cents (got '1250')",
     "unparseable_money"),
    (True, "unit_price: unparseable money in unit_price_cents, expected integer cents (got 'True')",
     "unparseable_money"),
    (None, "unit_price is missing", "missing_value"),
    (10**30, "unit_price must be <= 1000000 (got 1e+28)", "out_of_range"),
    (10**400, "unit_price: out of range in unit_price_cents (got '1000000000000000000000000000000000000000...')",
     "out_of_range"),
])
def test_cents_that_are_not_whole_integers_are_quarantined_with_a_reason(price, reason, kind):
    raw, quarantine, summary = run([line("A", unit_price_cents=price), line("OK")], SPRING)
    assert raw["transaction_id"].tolist() == ["OK-1"]
    assert reasons(quarantine)["A-1"][0] == reason
    assert summary["reasons_by_kind"].get(kind, 0) >= 1


def test_cents_divide_to_the_same_float_as_the_decimal_text():
    rng = random.Random(7)
    cents = [rng.randrange(0, 10**12) for _ in range(20_000)] + list(range(0, 1000))
    rows = [line("A", line_no=i, unit_price_cents=c, units=1, line_total_cents=c) for i, c in enumerate(cents, 1)]
    normalized, _ = normalize_sales(frame(rows, SPRING), R4, "run-4", INGESTED_AT)
    expected = np.array([float(f"{c // 100}.{c % 100:02d}") for c in cents])
    assert (normalized["unit_price"].to_numpy() == expected).all()


# -- composite ids -----------------------------------------------------------------------------
def test_order_and_line_make_the_transaction_id():
    raw, quarantine, summary = run([
        line("WEB-20240331-000001", 1), line("WEB-20240331-000001", 2), line(" WEB-20240331-000002 ", 1),
        line("WEB-20240331-000003", None), line("", 1), line("WEB-20240331-000001", 2),   # duplicate line
    ], SPRING)
    assert raw["transaction_id"].tolist() == ["WEB-20240331-000001-1", "WEB-20240331-000001-2",
                                              "WEB-20240331-000002-1"]
    held = quarantine["reasons"].map(list).tolist()
    assert held[:2] == [["transaction_id is missing"], ["transaction_id is missing"]]
    assert held[2][0].startswith("duplicate transaction_id 'WEB-20240331-000001-2'")
    assert summary["reasons_by_kind"] == {"duplicate_id": 1, "missing_value": 2}


def test_line_numbers_served_as_floats_are_whole_numbers_in_the_id():
    rows = [line("WEB-1", 2.0), line("WEB-1", 3.0)]
    normalized, _ = normalize_sales(frame(rows, SPRING), R4, "run-4", INGESTED_AT)
    assert normalized["transaction_id"].tolist() == ["WEB-1-2", "WEB-1-3"]


def test_a_missing_line_field_fails_loudly_naming_the_registry():
    rows = [{k: v for k, v in line().items() if k != "line_no"}]
    with pytest.raises(KeyError, match="'line_no'.*conf/base/retailers.yml"):
        normalize_sales(_without(rows), R4, "run-4", INGESTED_AT)


def _without(rows: list[dict]) -> pd.DataFrame:
    data = pd.DataFrame.from_records(rows)
    data["source_record"], data["source_page"] = "{}", 1
    data.attrs["extraction"] = {"retailer_code": "retailer_4", **SPRING}
    return data


# -- the node on a realistic window ------------------------------------------------------------
def test_ingest_sales_on_a_retailer_4_window():
    rows = [
        line("WEB-20240330-000001", 1, "2024-03-30T10:00:00+01:00"),
        line("WEB-20240330-000001", 2, "2024-03-30T10:00:00+01:00", sku="SKU-00002", unit_price_cents=999,
             units=3, line_total_cents=2997),
        line("WEB-20240331-000001", 1, "2024-03-31T00:10:00+01:00"),            # UTC day 30, local day 31
        line("WEB-20240331-000002", 1, "2024-03-31T04:00:00+02:00", unit_price_cents=1250.5,
             line_total_cents=2501),                                            # fractional_cents
        line("WEB-20240331-000002", 2, "2024-03-31T04:00:00+02:00", sku="SKU-1'; DROP TABLE x; --"),
        line("WEB-20240331-000003", 1, "2024-03-31T23:30:00+02:00"),            # UTC 21:30, day 31
        line("WEB-20240401-000001", 1, "2024-04-01T00:30:00+02:00"),            # local day after the window
    ]
    unit = ingest_sales(frame(rows, SPRING), R4, "run-4", INGESTED_AT)
    raw, held, manifest = unit["raw"], unit["quarantine"], unit["manifest"]
    CanonicalSale.validate(raw)
    assert raw["transaction_id"].tolist() == ["WEB-20240330-000001-1", "WEB-20240330-000001-2",
                                              "WEB-20240331-000001-1", "WEB-20240331-000003-1"]
    assert raw["sale_date"].tolist() == ["2024-03-30", "2024-03-30", "2024-03-31", "2024-03-31"]
    assert raw["unit_price"].tolist() == [1.25, 9.99, 1.25, 1.25]
    assert set(raw["retailer_code"]) == {"retailer_4"} and set(raw["ingested_at"]) == {INGESTED_AT}
    assert orjson.loads(raw.iloc[1]["source_record"])["lines"] == [{"line_no": 2}]
    got = dict(zip(held["transaction_id"], held["reasons"].map(list), strict=True))
    assert "not a whole number of cents" in got["WEB-20240331-000002-1"][0]
    assert got["WEB-20240331-000002-2"][0].startswith("product_sku is not a safe identifier")
    assert "outside the window 2024-03-30..2024-03-31" in got["WEB-20240401-000001-1"][0]
    assert (manifest["rows_received"], manifest["rows_written"], manifest["rows_quarantined"]) == (7, 4, 3)
    assert [(d["sale_date"], d["rows_received"], d["total_amount_written"]) for d in manifest["days"]] == [
        ("2024-03-30", 2, 32.47), ("2024-03-31", 5, 5.0)]
    assert (manifest["orders"], manifest["orders_without_lines"]) == (5, 0)  # copied from the extraction
    assert manifest["reasons_by_kind"] == {"fractional_cents": 1, "outside_window": 1, "unsafe_identifier": 1}


def test_records_and_entry_of_different_retailers_are_refused():
    entry = {**R4, "code": "retailer_4"}  # the parameters add each entry's code
    normalize_sales(frame([line()], SPRING), entry, "run-4", INGESTED_AT)
    with pytest.raises(ValueError, match="records of retailer_2 normalized with the registry entry of retailer_4"):
        normalize_sales(frame([line()], SPRING, code="retailer_2"), entry, "run-4", INGESTED_AT)
