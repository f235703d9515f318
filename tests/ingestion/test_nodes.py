"""Normalization and validation on small frames: every retailer's shape, every bad kind."""

from __future__ import annotations

import orjson
import pandas as pd
import pytest
import yaml

from retail_pipeline.pipelines.ingestion.nodes import (
    build_manifest,
    ingest_sales,
    normalize_sales,
    split_valid_quarantine,
)
from retail_pipeline.schemas.canonical import CANONICAL_COLUMNS, QUARANTINE_COLUMNS, CanonicalSale
from retail_pipeline.schemas.sources import declared_fields
from tests.fixtures.kedro_project import PROJECT_ROOT

# The registry entries as the nodes get them (params:retailers.<code>).
REGISTRY = yaml.safe_load((PROJECT_ROOT / "conf/base/retailers.yml").read_text())["retailers"]
WINDOW = {"window_start": "2024-01-13", "window_end": "2024-01-15"}
INGESTED_AT = "2024-01-16T01:00:00Z"  # the run's ingestion time: a parameter, not the clock


def api_frame(records: list[dict], code: str, page: int = 1) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records)
    frame["source_record"] = [orjson.dumps(r).decode() for r in records]
    frame["source_page"] = page
    frame.attrs["extraction"] = {"retailer_code": code, **WINDOW, "pages": 1, "requests": 1,
                                 "retries": 0, "source_total": len(records)}
    return frame


def r1(order_id="ORD-20240115-000001", **overrides) -> dict:
    record = {"order_id": order_id, "order_date": "2024-01-15T10:30:00", "customer_id": "CUST-001",
              "store_id": "STORE-01", "sku": "SKU-00001", "product_name": "Café crème",
              "category": "Food", "quantity": 2, "price": 12.5, "total": 25.0,
              "discount_percentage": 0.0, "payment_method": "cash", "created_at": "2024-01-15T10:31:00"}
    return {**record, **overrides}


def r2(number="TXN-20240114-000001", **overrides) -> dict:
    record = {"transaction_number": number, "date": "2024-01-14 09:00:05", "member_id": "M-1",
              "location_id": "LOC-7", "item_code": "SKU-00002", "item_name": "Tea", "department": None,
              "qty": 3, "unit_cost": "1.10", "amount": "3.30", "tax_amount": "0.23",
              "loyalty_points_earned": 3, "promotion_code": None, "sales_rep_id": None}
    return {**record, **overrides}


def r3(sale_id="SAL-20240113-000001", **overrides) -> dict:
    record = {"sale_id": sale_id, "timestamp": 1705140000000, "buyer_id": "B-9", "outlet_id": "OUT-2",
              "product_code": "SKU-00003", "name": "Lamp", "type": "Home", "count": 1,
              "price_per_unit": 40.0, "revenue": 40.0, "shipping_cost": 4.99, "warranty_months": 0,
              "return_policy_days": 30, "supplier_id": "SUP-001"}
    return {**record, **overrides}


def run(code: str, records: list[dict]):
    normalized, stats = normalize_sales(api_frame(records, code), REGISTRY[code], "run-1", INGESTED_AT)
    raw, quarantine, summary = split_valid_quarantine(normalized, stats)
    return raw, quarantine, summary, stats


@pytest.mark.parametrize("code, record", [("retailer_1", r1()), ("retailer_2", r2()), ("retailer_3", r3())])
def test_each_retailer_maps_to_the_canonical_record(code, record):
    raw, quarantine, summary, _ = run(code, [record])
    assert len(quarantine) == 0, quarantine["reasons"].tolist()
    assert list(raw.columns) == list(CANONICAL_COLUMNS)
    CanonicalSale.validate(raw)
    row = raw.iloc[0]
    assert row["retailer_code"] == code
    assert row["source_record"] == orjson.dumps(record).decode()
    assert row["total_amount"] == pytest.approx(row["quantity"] * row["unit_price"])


def test_retailer_values_are_parsed_per_configuration():
    raw1, *_ = run("retailer_1", [r1()])
    raw2, *_ = run("retailer_2", [r2()])
    raw3, *_ = run("retailer_3", [r3()])
    a, b, c = raw1.iloc[0], raw2.iloc[0], raw3.iloc[0]
    assert (a["transaction_ts"], a["sale_date"], a["discount_percentage"]) == ("2024-01-15T10:30:00Z", "2024-01-15", 0.0)
    assert pd.isna(a["tax_amount"]) and pd.isna(a["shipping_cost"])
    assert (b["transaction_ts"], b["unit_price"], b["total_amount"], b["tax_amount"]) == (
        "2024-01-14T09:00:05Z", 1.10, 3.30, 0.23)
    assert pd.isna(b["category"])
    assert (c["transaction_ts"], c["sale_date"], c["shipping_cost"]) == ("2024-01-13T10:00:00Z", "2024-01-13", 4.99)
    assert (c["product_sku"], c["customer_id"], c["store_id"]) == ("SKU-00003", "B-9", "OUT-2")


def reasons_of(quarantine: pd.DataFrame, transaction_id: str) -> list[str]:
    rows = quarantine[quarantine["transaction_id"] == transaction_id]
    assert len(rows) == 1, f"{transaction_id} not quarantined once: {quarantine[['transaction_id', 'reasons']]}"
    return list(rows.iloc[0]["reasons"])


def test_every_bad_kind_is_quarantined_with_a_readable_reason():
    records = [
        r1("ORD-1"),
        r1("ORD-2", sku=""),                                       # missing_sku
        r1("ORD-3", quantity=-2, total=-25.0),                     # bad_quantity
        r1("ORD-4", total=30.0),                                   # total_mismatch
        r1("ORD-1 "),                                              # duplicate_id (trailing space)
        r1("ORD-5", order_date="2099-01-01T00:00:00"),             # future_date
        r1("ORD-6", product_name="é" * 300),                       # overlong_text
        r1("ORD-7", sku="SKU-1'; DROP TABLE sales; --"),           # sql_text
        r1("ORD-8", order_date="15/01/2024"),                      # unparseable timestamp
        r1("ORD-9", quantity=0, total=0.0),
    ]
    raw, quarantine, summary, _ = run("retailer_1", records)
    assert raw["transaction_id"].tolist() == ["ORD-1"]
    assert reasons_of(quarantine, "ORD-2") == ["product_sku is empty"]
    assert reasons_of(quarantine, "ORD-3") == ["quantity must be > 0 (got -2)", "total_amount must be > 0 (got -25.0)"]
    assert reasons_of(quarantine, "ORD-4") == [
        "total_amount 30.00 differs from quantity 2 x unit_price 12.50 = 25.00 by more than a cent"]
    assert reasons_of(quarantine, "ORD-1")[0].startswith("duplicate transaction_id 'ORD-1'")
    future = reasons_of(quarantine, "ORD-5")
    assert future[0].startswith("transaction_ts 2099-01-01T00:00:00Z is in the future")
    assert "outside the window" in future[1]
    assert reasons_of(quarantine, "ORD-6") == ["product_name is longer than 255 characters (got 300)"]
    assert reasons_of(quarantine, "ORD-7")[0].startswith("product_sku is not a safe identifier")
    assert reasons_of(quarantine, "ORD-8") == [
        "transaction_ts: unparseable timestamp in order_date, expected %Y-%m-%dT%H:%M:%S (got '15/01/2024')"]
    assert reasons_of(quarantine, "ORD-9") == ["quantity must be > 0 (got 0)", "total_amount must be > 0 (got 0.0)"]
    assert list(quarantine.columns) == list(QUARANTINE_COLUMNS)
    # no date in the window -> the run date's partition
    assert quarantine.set_index("transaction_id").loc["ORD-8", "sale_date"] == "2024-01-15"
    assert summary["rows_received"] == len(records) == summary["rows_written"] + summary["rows_quarantined"]
    assert summary["reasons_by_kind"]["duplicate_id"] == 1


def test_unparseable_money_names_the_source_field_and_value():
    records = [r2("TXN-1", unit_cost="1,10"), r2("TXN-2", amount="N/A"), r2("TXN-3", amount="$3.3"),
               r2("TXN-4", tax_amount="0.23 EUR"), r2("TXN-5")]
    raw, quarantine, *_ = run("retailer_2", records)
    assert raw["transaction_id"].tolist() == ["TXN-5"]
    assert reasons_of(quarantine, "TXN-1") == ["unit_price: unparseable money in unit_cost (got '1,10')"]
    assert reasons_of(quarantine, "TXN-2") == ["total_amount: unparseable money in amount (got 'N/A')"]
    assert reasons_of(quarantine, "TXN-3") == ["total_amount: unparseable money in amount (got '$3.3')"]
    assert reasons_of(quarantine, "TXN-4") == ["tax_amount: unparseable money in tax_amount (got '0.23 EUR')"]


def test_a_cent_of_rounding_is_tolerated_but_not_more():
    records = [r3("SAL-1", count=3, price_per_unit=0.33, revenue=1.0), r3("SAL-2", count=3, price_per_unit=0.33, revenue=1.01)]
    raw, quarantine, *_ = run("retailer_3", records)
    assert raw["transaction_id"].tolist() == ["SAL-1"]
    assert "differs from quantity 3 x unit_price 0.33" in reasons_of(quarantine, "SAL-2")[0]


def test_null_and_missing_values_have_reasons_and_nothing_is_dropped():
    records = [r1("ORD-1", quantity=None), r1("ORD-2", price=None), r1(None), r1("ORD-4", customer_id="")]
    raw, quarantine, summary, _ = run("retailer_1", records)
    assert raw["transaction_id"].tolist() == ["ORD-4"] and pd.isna(raw.iloc[0]["customer_id"])
    assert reasons_of(quarantine, "ORD-1") == ["quantity is missing"]
    assert reasons_of(quarantine, "ORD-2") == ["unit_price is missing"]
    assert list(quarantine[quarantine["transaction_id"].isna()].iloc[0]["reasons"]) == ["transaction_id is missing"]
    assert summary["rows_written"] + summary["rows_quarantined"] == 4


def test_per_day_counts_add_up_and_amounts_are_net_merchandise():
    records = [r1("ORD-1", order_date="2024-01-13T23:59:59"), r1("ORD-2", order_date="2024-01-14T00:00:00"),
               r1("ORD-3", order_date="2024-01-14T08:00:00", quantity=-1, total=-12.5)]
    _, _, summary, stats = run("retailer_1", records)
    days = {d["sale_date"]: d for d in summary["days"]}
    assert list(days) == ["2024-01-13", "2024-01-14", "2024-01-15"]
    assert days["2024-01-13"] == {"sale_date": "2024-01-13", "rows_received": 1, "rows_written": 1,
                                  "rows_quarantined": 0, "total_amount_written": 25.0}
    assert (days["2024-01-14"]["rows_written"], days["2024-01-14"]["rows_quarantined"]) == (1, 1)
    assert days["2024-01-15"]["rows_received"] == 0
    manifest = build_manifest(stats, summary, "run-1")
    assert manifest["rows_received"] == 3 and manifest["source_total_matches"] is True
    assert (manifest["run_date"], manifest["window_start"]) == ("2024-01-15", "2024-01-13")


def test_empty_extraction_gives_empty_frames_with_canonical_columns():
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in declared_fields(REGISTRY["retailer_3"]["source"])})
    frame["source_record"] = pd.Series([], dtype="str")
    frame["source_page"] = pd.Series([], dtype="int64")
    frame.attrs["extraction"] = {"retailer_code": "retailer_3", **WINDOW}
    normalized, stats = normalize_sales(frame, REGISTRY["retailer_3"], "run-1", INGESTED_AT)
    raw, quarantine, summary = split_valid_quarantine(normalized, stats)
    assert len(raw) == len(quarantine) == 0 and list(raw.columns) == list(CANONICAL_COLUMNS)
    assert [d["rows_received"] for d in summary["days"]] == [0, 0, 0]


def test_a_renamed_source_field_fails_loudly():
    records = [{k if k != "sku" else "product_sku": v for k, v in r1().items()}]
    with pytest.raises(KeyError, match="'sku'.*not in the extracted records"):
        run("retailer_1", records)


def test_ingest_sales_node_returns_the_window_as_one_unit():
    records = [r2("TXN-1"), r2("TXN-2", qty=0, amount="0.00"), r2("TXN-3", unit_cost="1,10")]
    frame = api_frame(records, "retailer_2")
    frame.attrs["extraction"].update(attempts=2, consistency="data_version")
    unit = ingest_sales(frame, REGISTRY["retailer_2"], "run-1", INGESTED_AT)
    assert set(unit) == {"raw", "quarantine", "manifest"}
    expected_raw, expected_quarantine, expected_summary, expected_stats = run("retailer_2", records)
    pd.testing.assert_frame_equal(unit["raw"], expected_raw)  # same input, same rows: no clock inside
    assert unit["quarantine"]["reasons"].map(list).tolist() == expected_quarantine["reasons"].map(list).tolist()
    manifest = unit["manifest"]
    assert manifest == {**build_manifest(expected_stats, expected_summary, "run-1"),
                        "attempts": 2, "consistency": "data_version"}
    assert manifest["ingested_at"] == INGESTED_AT and set(unit["raw"]["ingested_at"]) == {INGESTED_AT}
    assert (manifest["rows_received"], manifest["rows_written"], manifest["rows_quarantined"]) == (3, 1, 2)


def test_manifest_copies_the_extraction_consistency_keys_only_when_present():
    _, _, summary, stats = run("retailer_1", [r1()])
    assert "attempts" not in build_manifest(stats, summary, "run-1")
    manifest = build_manifest({**stats, "attempts": 3, "consistency": "verified_reread"}, summary, "run-1")
    assert (manifest["attempts"], manifest["consistency"]) == (3, "verified_reread")


# -- item 5: one row can stop everything --------------------------------------------------------
def test_a_zero_or_negative_zero_price_is_quarantined_with_a_reason():
    records = [r2("TXN-1", unit_cost="0.00", amount="0.00"), r2("TXN-2", unit_cost="-0.00", amount="-0.00"),
               r2("TXN-3")]
    raw, quarantine, summary, _ = run("retailer_2", records)
    assert raw["transaction_id"].tolist() == ["TXN-3"]
    assert reasons_of(quarantine, "TXN-1") == ["unit_price must be > 0 (got 0.0)", "total_amount must be > 0 (got 0.0)"]
    assert reasons_of(quarantine, "TXN-2") == ["unit_price must be > 0 (got -0.0)", "total_amount must be > 0 (got -0.0)"]
    assert summary["reasons_by_kind"] == {"out_of_range": 4}
    raw1, quarantine1, *_ = run("retailer_1", [r1("ORD-1", price=0.0, total=0.0)])
    assert raw1.empty and reasons_of(quarantine1, "ORD-1")[0] == "unit_price must be > 0 (got 0.0)"


@pytest.mark.parametrize("code, record, column, shown", [
    ("retailer_2", r2("T", unit_cost="12.345", amount="37.04"), "unit_price", "'12.345'"),      # text
    ("retailer_2", r2("T", unit_cost="1.10", amount="3.30", tax_amount="0.231"), "tax_amount", "'0.231'"),
    ("retailer_1", r1("T", price=12.345, total=24.69), "unit_price", "'12.345'"),              # JSON number
    ("retailer_3", r3("T", price_per_unit=40.0, revenue=40.0, shipping_cost=4.999), "shipping_cost", "'4.999'"),
    ("retailer_1", r1("T", price=12.5, total=25.0, discount_percentage=12.345), "discount_percentage", "'12.345'"),
])
def test_more_than_two_decimals_is_quarantined_never_rounded(code, record, column, shown):
    raw, quarantine, summary, _ = run(code, [record])
    assert raw.empty
    reasons = reasons_of(quarantine, "T")
    assert any(r.startswith(f"{column} has more than 2 decimals") and shown in r and "never rounded" in r
               for r in reasons), reasons
    assert summary["reasons_by_kind"].get("excess_decimals") == 1
    if column == "unit_price":  # the value is kept as read, not rounded to 12.34 / 12.35
        assert quarantine.iloc[0]["unit_price"] == 12.345


def test_trailing_zeros_are_not_extra_decimals():
    raw, quarantine, *_ = run("retailer_2", [r2("T", unit_cost="1.100", amount="3.3000")])
    assert quarantine.empty and raw.iloc[0]["total_amount"] == 3.3


@pytest.mark.parametrize("overrides, expected", [
    ({"amount": "1234567890123456789012345678901234567890.00"},
     "total_amount must be <= 10000000000 (got 1.2345678901234568e+39)"),
    ({"amount": "1" * 400}, "total_amount: out of range in amount (got '1111111111111111111111111111111111111111...')"),
    ({"qty": 10_001, "amount": "11001.10"}, "quantity must be <= 10000 (got '10001')"),
    ({"unit_cost": "1000000.01", "qty": 1, "amount": "1000000.01"}, "unit_price must be <= 1000000 (got 1000000.01)"),
    ({"tax_amount": "1000000000.01"}, "tax_amount must be <= 1000000000 (got 1000000000.01)"),
])
def test_out_of_bounds_values_get_a_readable_reason(overrides, expected):
    raw, quarantine, summary, _ = run("retailer_2", [r2("T", **overrides), r2("OK")])
    assert raw["transaction_id"].tolist() == ["OK"]
    assert expected in reasons_of(quarantine, "T")
    assert summary["reasons_by_kind"]["out_of_range"] >= 1


def test_a_huge_quantity_is_quarantined_not_wrapped_around():
    raw, quarantine, *_ = run("retailer_1", [r1("T", quantity=1e30, total=1.25e31)])
    assert raw.empty
    assert reasons_of(quarantine, "T")[0] == "quantity must be <= 10000 (got '1e+30')"


def test_values_at_the_bounds_are_accepted():
    from retail_pipeline.schemas.rules import MAX_EXTRA_AMOUNT, MAX_QUANTITY, MAX_TOTAL_AMOUNT, MAX_UNIT_PRICE

    record = r2("T", qty=MAX_QUANTITY, unit_cost=f"{MAX_UNIT_PRICE}.00", amount=f"{MAX_TOTAL_AMOUNT}.00",
                tax_amount=f"{MAX_EXTRA_AMOUNT}.00")
    raw, quarantine, summary, _ = run("retailer_2", [record, r2("U", unit_cost="0.01", amount="0.03")])
    assert quarantine.empty, quarantine["reasons"].tolist()
    assert raw.iloc[0][["quantity", "unit_price", "total_amount", "tax_amount"]].tolist() == [
        MAX_QUANTITY, MAX_UNIT_PRICE, MAX_TOTAL_AMOUNT, MAX_EXTRA_AMOUNT]
    day = next(d for d in summary["days"] if d["sale_date"] == "2024-01-14")
    assert day["total_amount_written"] == 10_000_000_000.03  # summed in cents, exact


def test_retailer_code_is_any_safe_identifier_not_a_retailer_name_pattern():
    # the code comes with the records (the dataset's attrs), the entry says how to read them
    normalized, stats = normalize_sales(api_frame([r1()], "acme-eu_2"), REGISTRY["retailer_1"], "run-1", INGESTED_AT)
    raw, quarantine, _ = split_valid_quarantine(normalized, stats)
    assert quarantine.empty and raw.iloc[0]["retailer_code"] == "acme-eu_2"
    normalized, stats = normalize_sales(api_frame([r1()], "../etc"), REGISTRY["retailer_1"], "run-1", INGESTED_AT)
    raw, quarantine, _ = split_valid_quarantine(normalized, stats)
    assert raw.empty and "retailer_code is not a safe identifier" in reasons_of(quarantine, "ORD-20240115-000001")[0]
