"""Issue 13 §1: the product_versions check (sql/quality/product_versions.sql) passes on clean
product history and fails, critically, on a hand-made overlap and on a fact pointing to a version
not valid on its day (real PostgreSQL, the quality pipeline)."""

from __future__ import annotations

import pytest

from tests.quality.test_quality_pipeline import RUN_DATE, by_check, failed, run_quality


def test_clean_history_passes(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # retailer_1's product got a second version on the 14th, its facts from then point to it
    warehouse.execute("UPDATE dim_product SET valid_from = '2023-01-01', valid_to = '2024-01-14' WHERE product_id = 1001")
    warehouse.execute("INSERT INTO dim_product (product_id, product_key, retailer_id, product_sku, product_name, "
                      "category, valid_from) VALUES (1999, 1001, 1, 'SKU-1', 'Widget v2', 'Garden', '2024-01-14')")
    warehouse.execute("UPDATE fact_sales SET product_id = 1999 WHERE retailer_id = 1 AND date_id >= 20240114")
    warehouse.execute("UPDATE dim_product SET valid_from = '2023-01-01' WHERE product_id <> 1999 AND product_id <> 1001")
    run_quality(kedro_project, run_id="dq-versions-clean")
    results = warehouse.results("dq-versions-clean")
    assert failed(results) == set()
    assert by_check(results, "product_versions", "retailer_1")["severity"] == "critical"


def test_an_overlap_and_a_fact_on_the_wrong_version_fail(warehouse, kedro_project):
    warehouse.load_clean(RUN_DATE)
    # retailer_1: a second version overlapping the first (both current)
    warehouse.execute("INSERT INTO dim_product (product_id, product_key, retailer_id, product_sku, product_name, "
                      "category, valid_from) VALUES (1999, 1001, 1, 'SKU-1', 'Widget v2', 'Garden', '2024-01-14')")
    # retailer_2: its only version starts on the 14th, so the facts of the 12th and 13th point to a
    # version not valid on their day
    warehouse.execute("UPDATE dim_product SET valid_from = '2024-01-14' WHERE product_id = 2001")
    with pytest.raises(Exception) as err:
        run_quality(kedro_project, run_id="dq-versions")
    assert "product_versions (retailer_1)" in str(err.value) and "product_versions (retailer_2)" in str(err.value)
    results = warehouse.results("dq-versions")
    assert {c for c in failed(results) if c[0] == "product_versions"} == {("product_versions", "retailer_1"),
                                                                           ("product_versions", "retailer_2")}
    overlap = by_check(results, "product_versions", "retailer_1")["details"]
    assert overlap["problems"] == {"overlap": 1, "not_one_current": 1}
    wrong = by_check(results, "product_versions", "retailer_2")["details"]
    assert wrong["problems"] == {"wrong_version": 10}  # 5 facts on each of the 12th and 13th
    assert wrong["sample"][0]["problem"] == "wrong_version" and "2024-01-12" in wrong["sample"][0]["detail"]
