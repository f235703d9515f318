"""The three real APIs (waitress subprocesses) against real databases: auth, envelope, types,
paging (no row skipped or repeated, also across equal timestamps), errors, health, faults."""

from __future__ import annotations

import datetime as dt
import http.client
import re
from contextlib import closing
from urllib.parse import urlparse

import psycopg2
import pytest
import requests

from retailers.common.registry import RETAILERS
from tests.retailers.client import ID, KEY_CODES, RECORDS, TS, request, walk

CODES = KEY_CODES  # retailer 4 (OAuth2, Link paging, nested lines): test_retailer_4_api.py
DAY = "2024-01-15"


@pytest.fixture(scope="module")
def seeded(retailer_apis, retailer_databases):
    """One seeded day (with bad and late rows) plus a big group of rows sharing one timestamp."""
    from tests.fixtures.retailers import truncate_retailers
    from retailers.generator import seed

    truncate_retailers(retailer_databases, CODES)
    seed(retailer_databases, "2024-01-14", "2024-01-16", 150, 0.1, 0.1, 21, "2030-01-01", CODES)
    for code in CODES:
        dsn, s = retailer_databases[code], RETAILERS[code]
        with closing(psycopg2.connect(dsn)) as conn, conn, conn.cursor() as cur:
            cur.execute(f'UPDATE {s.table} SET "{s.ts_column}" = %s WHERE {s.id_column} IN '
                        f"(SELECT {s.id_column} FROM {s.table} WHERE {s.id_column} LIKE %s "
                        f"ORDER BY {s.id_column} LIMIT 40)", ("2024-01-15 12:00:00", f"{s.id_prefix}-20240115-%"))
    return retailer_apis


def _day_ids(dsn: str, code: str, day: str) -> list[str]:
    s = RETAILERS[code]
    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(f'SELECT {s.id_column} FROM {s.table} WHERE "{s.ts_column}" >= %s '
                    f"AND \"{s.ts_column}\" < %s::date + 1 ORDER BY \"{s.ts_column}\", {s.id_column}", (day, day))
        return [row[0] for row in cur.fetchall()]


@pytest.mark.parametrize("code", CODES)
def test_auth_right_wrong_missing_key(code, seeded):
    api = seeded[code]
    assert request(code, api, DAY, DAY).status_code == 200
    for key in ("wrong-key", None, api["api_key"] + "x"):
        response = request(code, api, DAY, DAY, key=key)
        assert response.status_code == 401
        assert response.headers["Content-Type"].startswith("application/json")
        assert "error" in response.json()
        assert api["api_key"] not in response.text and "Traceback" not in response.text
    if code == "retailer_1":  # right key, wrong scheme
        r = requests.get(api["base_url"] + "/sales", params={"start_date": DAY, "end_date": DAY},
                         headers={"Authorization": f"Basic {api['api_key']}"}, timeout=10)
        assert r.status_code == 401


@pytest.mark.parametrize("code", CODES)
def test_first_page_without_paging_params_is_the_whole_small_day(code, seeded, retailer_databases):
    body = request(code, seeded[code], DAY, DAY).json()
    records = body[RECORDS[code]]
    assert body["retailer"] == code and body["count"] == len(records)
    assert [r[ID[code]] for r in records] == _day_ids(retailer_databases[code], code, DAY)
    if code == "retailer_1":
        assert (body["page"], body["page_size"], body["total"], body["total_pages"]) == (1, 1000, len(records), 1)
    elif code == "retailer_2":
        assert body["next_offset"] is None and body["total"] == len(records)
    else:
        assert body["next_cursor"] is None


def test_retailer_1_types(seeded):
    record = request("retailer_1", seeded["retailer_1"], DAY, DAY).json()["data"][0]
    assert list(record) == ["order_id", "order_date", "customer_id", "store_id", "sku", "product_name",
                            "category", "quantity", "price", "total", "discount_percentage",
                            "payment_method", "created_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", record["order_date"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", record["created_at"])
    for money in ("price", "total", "discount_percentage"):
        assert isinstance(record[money], (int, float))
    assert isinstance(record["quantity"], int)


def test_retailer_2_types(seeded):
    records = request("retailer_2", seeded["retailer_2"], DAY, DAY).json()["transactions"]
    record = records[0]
    assert list(record) == ["transaction_number", "date", "member_id", "location_id", "item_code",
                            "item_name", "department", "qty", "unit_cost", "amount", "tax_amount",
                            "loyalty_points_earned", "promotion_code", "sales_rep_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", record["date"])
    assert all(isinstance(r[m], str) for r in records for m in ("unit_cost", "amount", "tax_amount"))
    assert any(re.fullmatch(r"-?\d+\.\d\d", r["amount"]) is None for r in records)  # unparseable ones exist


def test_retailer_3_types(seeded):
    record = request("retailer_3", seeded["retailer_3"], DAY, DAY).json()["results"][0]
    assert list(record) == ["sale_id", "timestamp", "buyer_id", "outlet_id", "product_code", "name",
                            "type", "count", "price_per_unit", "revenue", "shipping_cost",
                            "warranty_months", "return_policy_days", "supplier_id"]
    assert isinstance(record["timestamp"], int)
    when = dt.datetime.fromtimestamp(record["timestamp"] / 1000, dt.timezone.utc)
    assert when.date() == dt.date(2024, 1, 15)
    assert isinstance(record["revenue"], (int, float))


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("size", [1, 7, 40])
def test_paging_walks_every_row_once_in_order(code, size, seeded, retailer_databases):
    records, calls = walk(code, seeded[code], "2024-01-14", "2024-01-15", size)
    ids = [r[ID[code]] for r in records]
    expected = _day_ids(retailer_databases[code], code, "2024-01-14") + _day_ids(retailer_databases[code], code, DAY)
    assert ids == expected  # same rows, same order: nothing skipped, nothing repeated
    assert len(set(ids)) == len(ids) and calls >= len(ids) // size
    # The equal-timestamp group (40 rows at 12:00:00) spans page boundaries.
    assert sum(1 for r in records if str(r[TS[code]]) in ("2024-01-15T12:00:00", "2024-01-15 12:00:00",
                                                             "1705320000000")) >= 40


def test_non_ascii_and_sql_text_round_trip(seeded, retailer_databases):
    records = request("retailer_1", seeded["retailer_1"], DAY, DAY).json()["data"]
    names = {r["product_name"] for r in records}
    assert any(not n.isascii() for n in names)
    assert any(len(n) > 255 for n in names)
    assert any("DROP TABLE" in r["sku"] for r in records)
    assert any(r["sku"] == "" for r in records)
    assert any(r["order_id"].endswith(" ") for r in records)


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("params", [
    {"dates": ("2024-13-01", DAY)}, {"dates": ("", DAY)}, {"dates": (DAY, "2024-01-01")},
    {"dates": ("20240115", DAY)}, {"paging": "negative"}, {"paging": "too_big"}, {"paging": "text"},
])
def test_bad_requests_get_400_json(code, params, seeded):
    start, end = params.get("dates", (DAY, DAY))
    paging = {"negative": -1, "too_big": 10_001, "text": "abc"}.get(params.get("paging"))
    extra = {}
    if paging is not None:
        extra = {"retailer_1": {"page_size": paging}, "retailer_2": {"limit": paging},
                 "retailer_3": {"limit": paging}}[code]
    response = request(code, seeded[code], start, end, **extra)
    assert response.status_code == 400
    assert "message" in response.json()


def test_retailer_3_rejects_a_forged_cursor_and_a_non_json_body(seeded):
    api = seeded["retailer_3"]
    assert request("retailer_3", api, DAY, DAY, cursor="not-a-cursor").status_code == 400
    r = requests.post(api["base_url"] + "/sales/query", data="dateFrom=2024-01-15",
                      headers={"apikey": api["api_key"]}, timeout=10)
    assert r.status_code == 400


def test_retailer_1_page_past_the_end_is_empty(seeded):
    body = request("retailer_1", seeded["retailer_1"], DAY, DAY, page=99, page_size=100).json()
    assert body["count"] == 0 and body["data"] == [] and body["page"] == 99


@pytest.mark.parametrize("code", CODES)
def test_health_needs_no_key(code, seeded):
    response = requests.get(seeded[code]["base_url"] + "/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "retailer": code}


def test_unknown_path_is_json_404(seeded):
    response = requests.get(seeded["retailer_1"]["base_url"] + "/nope", timeout=5)
    assert response.status_code == 404 and response.json()["error"]


# -- faults ----------------------------------------------------------------------------------

def test_fault_500_then_normal(seeded, retailer_faults):
    api = seeded["retailer_1"]
    retailer_faults("retailer_1", fail_500=2)
    assert [request("retailer_1", api, DAY, DAY).status_code for _ in range(3)] == [500, 500, 200]
    state = requests.get(api["base_url"] + "/_admin/faults", timeout=5).json()
    assert state["knobs"]["fail_500"] == 0 and state["injected"]["fail_500"] >= 2 and state["requests"] >= 3


def test_fault_429_with_retry_after(seeded, retailer_faults):
    api = seeded["retailer_2"]
    retailer_faults("retailer_2", fail_429=1, retry_after=3)
    first = request("retailer_2", api, DAY, DAY)
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert request("retailer_2", api, DAY, DAY).status_code == 200


def test_fault_latency(seeded, retailer_faults):
    api = seeded["retailer_3"]
    retailer_faults("retailer_3", latency_ms=400, slow=1)
    first = request("retailer_3", api, DAY, DAY)
    second = request("retailer_3", api, DAY, DAY)
    assert first.elapsed.total_seconds() >= 0.4 and second.elapsed.total_seconds() < 0.4


def test_fault_cut_gives_an_incomplete_read(seeded, retailer_faults):
    api = seeded["retailer_1"]
    retailer_faults("retailer_1", cut=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        request("retailer_1", api, DAY, DAY)
    assert request("retailer_1", api, DAY, DAY).status_code == 200
    # At the socket level: the declared length is not delivered.
    retailer_faults("retailer_1", cut=1)
    host = urlparse(api["base_url"])
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    conn.request("GET", f"/sales?start_date={DAY}&end_date={DAY}",
                 headers={"Authorization": f"Bearer {api['api_key']}"})
    response = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()


def test_health_and_admin_are_never_faulted_and_bad_knobs_refused(seeded, retailer_faults):
    api = seeded["retailer_2"]
    retailer_faults("retailer_2", fail_500=5)
    assert requests.get(api["base_url"] + "/health", timeout=5).status_code == 200
    assert requests.post(api["base_url"] + "/_admin/faults", json={"explode": 1}, timeout=5).status_code == 400
    assert requests.post(api["base_url"] + "/_admin/faults", json={"fail_500": -1}, timeout=5).status_code == 400
    assert requests.delete(api["base_url"] + "/_admin/faults", timeout=5).json()["knobs"]["fail_500"] == 0
    assert request("retailer_2", api, DAY, DAY).status_code == 200
