"""021_fact_sales_member_keys.sql: fact_sales has no foreign key to dim_customer and dim_store
(ATTACH validated them against the whole dimension, ~0.3 s of every 1,000,000-fact load). Every
fact still has its customer and store: the loader refuses a chunk naming members it does not
list, the dimensions refuse removing or re-keying a member a fact names, and the quality
pipeline's referential-integrity query still finds an orphan written around both."""

from __future__ import annotations

import psycopg2
import pytest
from kedro.io.core import DatasetError

from tests.transformation.exactly_once_checks import assert_ranges_cover, marts_agree
from tests.transformation.test_attach_implied_keys import orphans
from tests.transformation.test_streamed_load import dataset, order_lines, snapshot, streamed_load, whole_load

FACT_COLUMNS = ("sale_id, date_id, product_id, customer_id, store_id, retailer_id, transaction_id, quantity, "
                "unit_price, total_amount, transaction_ts, run_id")


def without_member(load: dict, name: str, key: str, in_chunk: int) -> dict:
    """The streamed load with one member its facts name dropped from chunk `in_chunk`."""
    chunks = load["chunks"]

    def dropped():
        for n, chunk in enumerate(chunks):
            if n == in_chunk:
                named = chunk["facts"][key].iloc[-1]
                members = chunk["dimensions"][name]
                chunk = {**chunk, "dimensions": {**chunk["dimensions"], name: members[members[key] != named]}}
            yield chunk

    return {**load, "chunks": dropped()}


@pytest.mark.parametrize("name,key", [("dim_customer", "customer_id"), ("dim_store", "store_id")])
def test_a_chunk_naming_a_member_it_does_not_list_is_refused_and_the_old_days_stay(warehouse, name, key):
    wh, rows = warehouse, order_lines()
    dataset(wh).save(whole_load(rows, "first"))
    before = snapshot(wh)
    changed = [dict(r, unit_price=r["unit_price"] + 1, total_amount=round(r["quantity"] * (r["unit_price"] + 1), 2))
               for r in rows]
    with pytest.raises(DatasetError, match=rf"naming 1 {key}\(s\) missing from the chunk's {name} members"):
        dataset(wh).save(without_member(streamed_load(changed, "second", pieces=3), name, key, in_chunk=2))
    assert snapshot(wh) == before
    assert wh.scalar("SELECT count(*) FROM load_audit WHERE run_id = 'second'") == 0
    # accounting of the day that stayed: every valid row a fact or held, to the cent
    held = wh.scalar("SELECT count(*) FROM warehouse_quarantine")
    loaded = wh.query("SELECT count(*), sum(total_amount) FROM fact_sales")[0]
    assert loaded[0] + held == len(rows)
    assert float(loaded[1]) == round(sum(r["total_amount"] for r in rows if r["quantity"] > 0), 2)
    assert_ranges_cover(wh)
    marts_agree(wh)


def test_a_member_a_fact_names_cannot_be_deleted_rekeyed_or_truncated(warehouse):
    wh = warehouse
    dataset(wh).save(whole_load(order_lines(), "first"))
    customer = wh.scalar("SELECT min(customer_id) FROM fact_sales")
    store = wh.scalar("SELECT min(store_id) FROM fact_sales")
    with pytest.raises(psycopg2.errors.ForeignKeyViolation, match=f"customer_id={customer} is still named"):
        wh.query("DELETE FROM dim_customer WHERE customer_id = %s", (customer,))
    wh.query("DELETE FROM mart_daily_sales WHERE store_id = %s", (store,))  # its foreign key keeps stores too
    with pytest.raises(psycopg2.errors.ForeignKeyViolation, match=f"store_id={store} is still named"):
        wh.query("UPDATE dim_store SET store_id = store_id + 1 WHERE store_id = %s", (store,))
    for dim, also in (("dim_customer", ""), ("dim_store", ", mart_daily_sales")):
        with pytest.raises(psycopg2.errors.ForeignKeyViolation, match=f"TRUNCATE on {dim}"):
            wh.query(f"TRUNCATE {dim}{also}")
    # members no fact names can go, and an update that keeps the key is no removal
    wh.query("INSERT INTO dim_customer (customer_id, retailer_id, customer_external_id, run_id) "
             "VALUES (-7, 4, 'C-UNSOLD', 'x')")
    wh.query("UPDATE dim_customer SET customer_external_id = customer_external_id || '' ")
    wh.query("DELETE FROM dim_customer WHERE customer_id = -7")
    assert wh.scalar("SELECT count(*) FROM fact_sales f LEFT JOIN dim_customer c USING (customer_id) "
                     "WHERE c.customer_id IS NULL") == 0


def test_the_referential_integrity_check_still_finds_a_fact_without_its_customer_or_store(warehouse):
    wh = warehouse
    dataset(wh).save(whole_load(order_lines(), "first"))
    assert orphans(wh, "2024-01-14", "2024-01-15") == []
    wh.query(f"INSERT INTO fact_sales ({FACT_COLUMNS}) SELECT 9001, date_id, product_id, -1, store_id, retailer_id, "
             "'NO-CUSTOMER', 1, 10, 10, transaction_ts, 'x' FROM fact_sales WHERE transaction_id = 'WEB-000-1'")
    wh.query(f"INSERT INTO fact_sales ({FACT_COLUMNS}) SELECT 9002, date_id, product_id, customer_id, -2, retailer_id, "
             "'NO-STORE', 1, 10, 10, transaction_ts, 'x' FROM fact_sales WHERE transaction_id = 'WEB-000-1'")
    found = orphans(wh, "2024-01-14", "2024-01-15")
    assert ("retailer_4", "customer_id -> dim_customer", 1) in found
    assert ("retailer_4", "store_id -> dim_store", 1) in found
