"""Staging and the star schema read the retailer registry: dim_retailer, known codes, and the
business day as the local date in the retailer's time zone."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from retail_pipeline.pipelines.transformation.nodes import build_star_schema, stage_sales
from retail_pipeline.schemas.warehouse import StarSchemaValidator
from tests.fixtures.kedro_project import PROJECT_ROOT
from tests.transformation.conftest import sale

REGISTRY = yaml.safe_load((PROJECT_ROOT / "conf/base/retailers.yml").read_text())["retailers"]
WAREHOUSE = {"max_fact_loss_share": 0.5}


def paris(txn: str, ts: str, day: str, **extra) -> dict:
    return sale("retailer_4", txn, "SKU-1", day, transaction_ts=ts, **extra)


def test_dim_retailer_is_the_registry():
    raw = pd.DataFrame([sale("retailer_1", "A", "SKU", "2024-03-31")])
    staged, quarantine = stage_sales(REGISTRY, "2024-03-31", 0, "r", raw)
    load = build_star_schema(staged, quarantine, REGISTRY, WAREHOUSE, "2024-03-31", 0, "r")
    StarSchemaValidator().validate(load)
    dim = load["dimensions"]["dim_retailer"]
    assert list(zip(dim["retailer_code"], dim["retailer_id"], dim["retailer_name"])) == [
        (code, entry["retailer_id"], entry["name"]) for code, entry in REGISTRY.items()]
    # the audit has a row per registry retailer and window day, so a silent retailer shows
    assert sorted(load["audit"]["retailer_code"]) == sorted(REGISTRY)
    assert load["fact_loss"]["max_share"] == 0.5


def test_a_fifth_retailer_is_an_entry_not_code():
    registry = {**REGISTRY, "acme_foods": {**REGISTRY["retailer_2"], "name": "Acme Foods", "retailer_id": 5}}
    raw = pd.DataFrame([sale("acme_foods", "A", "SKU", "2024-03-31")])
    staged, quarantine = stage_sales(registry, "2024-03-31", 0, "r", raw)
    assert quarantine.empty
    load = build_star_schema(staged, quarantine, registry, WAREHOUSE, "2024-03-31", 0, "r")
    assert load["facts"]["retailer_id"].tolist() == [5]
    assert "Acme Foods" in load["dimensions"]["dim_retailer"]["retailer_name"].tolist()


def test_an_unknown_retailer_is_quarantined_naming_the_registry():
    raw = pd.DataFrame([sale("retailer_9", "A", "SKU", "2024-03-31")])
    staged, quarantine = stage_sales(REGISTRY, "2024-03-31", 0, "r", raw)
    assert staged.empty
    assert quarantine.iloc[0]["reason"] == "retailer_code not in conf/base/retailers.yml"


def test_the_business_day_is_the_local_date_in_the_retailer_time_zone():
    raw = pd.DataFrame([
        paris("A", "2024-03-30T23:30:00Z", "2024-03-31"),   # 00:30 in Paris: day 31
        paris("B", "2024-03-30T23:30:00Z", "2024-03-30"),   # the UTC date: wrong for Paris
        paris("C", "2024-03-31T21:59:59Z", "2024-03-31"),   # 23:59:59 CEST
        paris("D", "2024-03-31T22:00:00Z", "2024-03-31"),   # already April 1st in Paris
        sale("retailer_1", "E", "SKU", "2024-03-31", transaction_ts="2024-03-31T23:30:00Z"),  # UTC retailer
    ])
    staged, quarantine = stage_sales(REGISTRY, "2024-03-31", 1, "r", raw)
    assert staged["transaction_id"].tolist() == ["A", "C", "E"]
    reasons = dict(zip(quarantine["transaction_id"], quarantine["reason"], strict=True))
    assert reasons == {"B": "sale_date is not the date of transaction_ts in the retailer's time zone",
                       "D": "sale_date is not the date of transaction_ts in the retailer's time zone"}
    load = build_star_schema(staged, quarantine, REGISTRY, WAREHOUSE, "2024-03-31", 1, "r")
    StarSchemaValidator().validate(load)
    assert load["facts"]["date_id"].tolist() == [20240331, 20240331, 20240331]
    audit = load["audit"].set_index(["retailer_code", "sale_date"])
    assert audit.loc[("retailer_4", "2024-03-31"), "rows_loaded"] == 2
    assert audit["rows_loaded"].sum() + audit["rows_quarantined"].sum() == len(raw)


def test_staging_reasons_read_as_ingestion_reasons():
    raw = pd.DataFrame([
        sale("retailer_1", "A", "SKU", "2024-03-31", quantity=0),
        sale("retailer_1", "B", "SKU", "2024-03-31", store=None),
        sale("retailer_1", "C", "SKU", "2024-03-31", unit_price=10.0, total_amount=30.0),
        sale("retailer_1", "D", "S" * 65, "2024-03-31"),
    ])
    staged, quarantine = stage_sales(REGISTRY, "2024-03-31", 0, "r", raw)
    assert staged.empty
    reasons = dict(zip(quarantine["transaction_id"], quarantine["reason"], strict=True))
    assert reasons["A"] == "quantity must be > 0 (got 0.0); total_amount must be > 0 (got 0.0)"
    assert reasons["B"] == "store_external_id is missing"
    assert reasons["C"] == "total_amount 30.00 differs from quantity 1 x unit_price 10.00 = 10.00 by more than a cent"
    assert reasons["D"] == "product_sku is longer than 64 characters (got 65)"


@pytest.mark.parametrize("registry, message", [
    ({}, "params:retailers must be the retailer registry"),
    ({"retailer_1": {"retailer_id": 1}}, "retailer retailer_1 has no name in conf/base/retailers.yml"),
])
def test_a_registry_without_what_the_warehouse_needs_fails_before_any_row(registry, message):
    with pytest.raises(ValueError, match=message):
        stage_sales(registry, "2024-03-31", 0, "r", pd.DataFrame([sale("retailer_1", "A", "SKU", "2024-03-31")]))
