"""Issue 13 §1 end to end: the simulated retailers (Flask apps over loopback, their own
PostgreSQL) rename, move and reprice products on given days; after `kedro run` (ingestion,
transformation, quality) every fact's version carries the name and category the retailer sold it
under that day, the category marts are historically correct, and the product_versions check
passes."""

from __future__ import annotations

import datetime as dt

from retailers.common import catalogues
from retailers.common.registry import spec

START, END = "2024-03-01", "2024-03-05"


def test_versions_follow_the_retailers_catalogue_changes(tmp_path, pg_server, warehouse_template, loader_password,
                                                         retailer_apis, retailer_databases):
    from retailers.generator import seed
    from tests.fixtures.retailers import truncate_retailers
    from tests.fixtures.warehouse import copy_warehouse
    from tests.production.conftest import make_prod_conf

    wh = copy_warehouse(pg_server, warehouse_template, loader_password, prefix="scd_wh")
    try:
        conf = make_prod_conf(tmp_path, wh, retailer_apis, retailer_databases)
        truncate_retailers(retailer_databases)
        seed(retailer_databases, START, END, 120, 0.0, 0.05, 7, "2030-01-01")
        conf.run("--params", f"run_date={END},lookback_days=4,run_id=scd2-e2e")

        changed = wh.query("SELECT count(DISTINCT product_key) FROM dim_product WHERE NOT is_current")[0][0]
        assert changed > 0, "the seeded days hold catalogue changes, so some products have several versions"
        index = {sku: i for i, sku in enumerate(catalogues.products().sku)}
        for code in ("retailer_1", "retailer_4"):  # a flat-rows retailer and an orders retailer
            rows = wh.query("""SELECT DISTINCT d.date, p.product_sku, p.product_name, p.category
                               FROM fact_sales f JOIN dim_product p USING (product_id)
                               JOIN dim_date d USING (date_id) JOIN dim_retailer r ON r.retailer_id = f.retailer_id
                               WHERE r.retailer_code = %s""", (code,))
            assert rows
            wrong = []
            for day, sku, name, category in rows:
                names, categories, _ = catalogues.on_day(spec(code).number, day)
                if (name, category) != (names[index[sku]], categories[index[sku]]):
                    wrong.append((day, sku, name, category, names[index[sku]], categories[index[sku]]))
            assert not wrong, f"{code}: facts on a version that is not their day's: {wrong[:3]}"
        # the category marts are by category at sale time
        assert wh.query("SELECT date_id, retailer_id, category, revenue FROM mart_daily_category_sales ORDER BY 1, 2, 3") \
            == wh.query("""SELECT f.date_id, f.retailer_id, coalesce(p.category, '(none)'), sum(f.total_amount)
                           FROM fact_sales f JOIN dim_product p USING (product_id) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")
        checks = wh.query("SELECT retailer_code, passed FROM dq_check_results WHERE run_id = 'scd2-e2e' "
                          "AND check_name = 'product_versions' ORDER BY 1")
        assert checks and all(passed for _, passed in checks), checks
        assert dt.date.fromisoformat(END) in {r[0] for r in wh.query("SELECT date FROM dim_date")}
    finally:
        pg_server.drop_database(wh.dbname)
