"""Retailer 4's real API (waitress subprocess, real PostgreSQL): OAuth2 client credentials with
expiring tokens, RFC 8288 Link paging, nested lines, cents, local time across DST, faults."""

from __future__ import annotations

import datetime as dt
import http.client
import time
from urllib.parse import urlparse

import pytest
import requests

from tests.retailers.client import orders, token, walk_orders
from tests.retailers.conftest import R4_PAGE_SIZE, r4_query

WINDOW = ("2024-03-30", "2024-04-01")


def _token_response(api: dict, **kwargs) -> requests.Response:
    data = {"grant_type": "client_credentials", **kwargs.pop("data", {})}
    return requests.post(api["base_url"] + "/oauth/token", data=data, timeout=10, **kwargs)


def _db_orders(dsn: str, since: str, until: str) -> list[str]:
    """The window's order refs in paging order, by the local (Europe/Paris) day of placed_at."""
    rows = r4_query(dsn, "SELECT order_ref FROM orders WHERE (placed_at AT TIME ZONE 'Europe/Paris')::date "
                         "BETWEEN %s AND %s ORDER BY placed_at, order_ref", (since, until))
    return [ref for ref, in rows]


# -- OAuth2 ----------------------------------------------------------------------------------

def test_token_by_basic_auth_or_form_fields(r4_api):
    basic = _token_response(r4_api, auth=(r4_api["client_id"], r4_api["client_secret"]))
    assert basic.status_code == 200
    body = basic.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 60
    assert basic.headers["Cache-Control"] == "no-store"
    form = _token_response(r4_api, data={"client_id": r4_api["client_id"], "client_secret": r4_api["client_secret"]})
    assert form.status_code == 200 and form.json()["access_token"] != body["access_token"]
    for access_token in (body["access_token"], form.json()["access_token"]):
        assert orders(r4_api, *WINDOW, access_token).status_code == 200


@pytest.mark.parametrize("case", ["wrong_secret", "unknown_client", "no_client", "both_methods", "grant"])
def test_a_wrong_client_gets_no_token(r4_api, case):
    cid, secret = r4_api["client_id"], r4_api["client_secret"]
    kwargs = {"wrong_secret": {"auth": (cid, secret + "x")}, "unknown_client": {"auth": ("other", secret)},
              "no_client": {},
              "both_methods": {"auth": (cid, secret), "data": {"client_id": cid, "client_secret": secret}},
              "grant": {"auth": (cid, secret), "data": {"grant_type": "password"}}}[case]
    response = _token_response(r4_api, **kwargs)
    expected = {"wrong_secret": (401, "invalid_client"), "unknown_client": (401, "invalid_client"),
                "no_client": (401, "invalid_client"), "both_methods": (400, "invalid_request"),
                "grant": (400, "unsupported_grant_type")}[case]
    assert (response.status_code, response.json()["error"]) == expected
    assert "access_token" not in response.json() and secret not in response.text


@pytest.mark.parametrize("presented", [None, "not-a-token", "forged"])
def test_data_needs_a_valid_bearer_token(r4_api, presented):
    if presented == "forged":  # well-formed, signed by another server's key
        from retailers.common.faults import Faults
        from retailers.retailer_4.tokens import TokenIssuer

        presented = TokenIssuer("a", "b", 60, Faults()).issue()[0]
    response = orders(r4_api, *WINDOW, presented)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"] == "invalid_token"
    basic = requests.get(r4_api["base_url"] + "/v2/orders", params={"since": WINDOW[0], "until": WINDOW[1]},
                         auth=(r4_api["client_id"], r4_api["client_secret"]), timeout=10)
    assert basic.status_code == 401  # client credentials are not a bearer token


def test_expired_token_gets_401_and_a_new_token_carries_on(r4_api, r4_seeded, r4_faults):
    r4_faults(token_ttl=1)
    short = _token_response(r4_api, auth=(r4_api["client_id"], r4_api["client_secret"])).json()
    assert short["expires_in"] == 1
    first = orders(r4_api, *WINDOW, short["access_token"])
    assert first.status_code == 200
    time.sleep(1.3)
    expired = orders(r4_api, *WINDOW, short["access_token"], url=first.links["next"]["url"])
    assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"
    r4_faults(token_ttl=None)  # back to the app's lifetime
    fresh = _token_response(r4_api, auth=(r4_api["client_id"], r4_api["client_secret"])).json()
    assert fresh["expires_in"] == 60
    resumed = orders(r4_api, *WINDOW, fresh["access_token"], url=first.links["next"]["url"])
    assert resumed.status_code == 200 and resumed.json()["orders"]
    r4_faults(token_ttl=0)  # a token that is born expired
    assert orders(r4_api, *WINDOW, token(r4_api)).status_code == 401


# -- paging ----------------------------------------------------------------------------------

def test_link_paging_walks_every_order_once_in_order(r4_api, r4_seeded):
    dsn = r4_api["dsn"]
    # A group of orders sharing one instant, spanning pages.
    r4_query(dsn, "UPDATE orders SET placed_at = '2024-03-31 10:00:00+00' WHERE order_ref IN "
                  "(SELECT order_ref FROM orders WHERE order_ref LIKE 'WEB-20240331-%%' ORDER BY order_ref LIMIT 12)")
    found, responses = walk_orders(r4_api, *WINDOW)
    refs = [o["order_ref"] for o in found]
    expected = _db_orders(dsn, *WINDOW)
    assert refs == expected and len(set(refs)) == len(refs)  # nothing skipped, nothing repeated
    assert len(responses) == -(-len(expected) // R4_PAGE_SIZE)
    assert all(len(r.json()["orders"]) == R4_PAGE_SIZE for r in responses[:-1])
    assert "Link" not in responses[-1].headers and all("Link" in r.headers for r in responses[:-1])
    assert sum(1 for o in found if o["placed_at"] == "2024-03-31T12:00:00+02:00") >= 12
    # Accounting: every line of those orders came, nested in its order.
    (lines,), = r4_query(dsn, "SELECT count(*) FROM order_lines WHERE order_ref = ANY(%s)", (refs,))
    assert sum(len(o["lines"]) for o in found) == lines


def test_a_small_window_is_one_page_without_link_and_an_empty_one_is_empty(r4_api, r4_seeded):
    access_token = token(r4_api)
    placed = r4_seeded["placed_at"]
    future = r4_seeded[(placed > "2024-06-01T00:00:00+02:00") & (placed < "2024-07-01T00:00:00+02:00")]["order_ref"].nunique()
    assert 0 < future <= R4_PAGE_SIZE  # the March days' future orders, moved after as_of 2024-06-01
    for since, until, expected in (("2024-06-01", "2024-06-30", future), ("2025-01-01", "2025-01-01", 0)):
        response = orders(r4_api, since, until, access_token)
        assert response.status_code == 200 and "Link" not in response.headers
        body = response.json()
        assert list(body) == ["orders"] and len(body["orders"]) == expected


def test_link_is_absolute_on_the_host_the_client_asked(r4_api, r4_seeded):
    port = urlparse(r4_api["base_url"]).port
    access_token = token(r4_api)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "shop.example:8443"):
        response = requests.get(r4_api["base_url"] + "/v2/orders", params={"since": WINDOW[0], "until": WINDOW[1]},
                                headers={"Authorization": f"Bearer {access_token}", "Host": host}, timeout=10)
        link = urlparse(response.links["next"]["url"])
        assert (link.scheme, link.netloc, link.path) == ("http", host, "/v2/orders")
        assert f"since={WINDOW[0]}" in link.query and f"until={WINDOW[1]}" in link.query and "cursor=" in link.query


def test_forged_cursor_and_bad_dates_get_400(r4_api, r4_seeded):
    access_token = token(r4_api)
    for extra, since, until in (({"cursor": "bm9wZQ"}, *WINDOW), ({}, "2024-13-01", "2024-12-01"),
                                ({}, "2024-04-02", "2024-04-01"), ({}, "", "2024-04-01")):
        response = orders(r4_api, since, until, access_token, **extra)
        assert response.status_code == 400 and response.json()["message"]


# -- shape, cents, local time ----------------------------------------------------------------

def test_orders_nest_their_lines_with_money_in_integer_cents(r4_api, r4_seeded):
    found, _ = walk_orders(r4_api, *WINDOW)
    by_ref = {o["order_ref"]: o for o in found}
    frame = r4_seeded[r4_seeded["order_ref"].isin(by_ref)]
    assert len(frame) == sum(len(o["lines"]) for o in found)
    order = found[0]
    assert list(order) == ["order_ref", "placed_at", "customer_ref", "shop_ref", "currency", "lines"]
    assert list(order["lines"][0]) == ["line_no", "sku", "title", "family", "units", "unit_price_cents",
                                       "line_total_cents"]
    kinds = set()
    for (ref, position), row in frame.set_index(["order_ref", "position"]).iterrows():
        line = by_ref[ref]["lines"][position - 1]
        assert (line["line_no"], line["sku"], line["title"], line["units"]) == \
            (row["line_no"], row["sku"], row["title"], row["units"])
        assert by_ref[ref]["currency"] == "EUR"
        unit, total = line["unit_price_cents"], line["line_total_cents"]
        if row["bad_kind"] == "fractional_cents":
            kinds.add("fractional_cents")
            assert any(isinstance(v, float) and v % 1 == 0.5 for v in (unit, total))
        else:
            assert type(unit) is int and type(total) is int  # JSON integers, not 1250.0
            if row["bad_kind"] is None:
                assert total == line["units"] * unit
    assert "fractional_cents" in kinds


def test_local_time_and_day_windows_across_both_dst_changes(r4_api, r4_seeded):
    """Orders counted per local day equal what was seeded; offsets +01:00 / +02:00 right."""
    orders_frame = r4_seeded.drop_duplicates("order_ref")
    local_day = orders_frame["placed_at"].dt.date
    access_token = token(r4_api)
    for day in [d.isoformat() for d in (dt.date(2024, 3, 30), dt.date(2024, 3, 31), dt.date(2024, 4, 1),
                                        dt.date(2024, 10, 26), dt.date(2024, 10, 27), dt.date(2024, 10, 28))]:
        found, _ = walk_orders(r4_api, day, day)
        expected = orders_frame[local_day == dt.date.fromisoformat(day)]
        assert sorted(o["order_ref"] for o in found) == sorted(expected["order_ref"]), day
        instants = dict(zip(expected["order_ref"], expected["placed_at"]))
        for o in found:
            when = dt.datetime.fromisoformat(o["placed_at"])
            assert when == instants[o["order_ref"]].to_pydatetime()  # the same instant
            assert when.date().isoformat() == day
            summer = dt.datetime(2024, 3, 31, 1, tzinfo=dt.timezone.utc) <= when < dt.datetime(2024, 10, 27, 1, tzinfo=dt.timezone.utc)
            assert o["placed_at"].endswith("+02:00" if summer else "+01:00"), o["placed_at"]
    assert orders(r4_api, "2024-03-31", "2024-03-31", access_token).status_code == 200


@pytest.mark.parametrize("instant, local", [
    ("2024-03-30 22:59:59+00", "2024-03-30T23:59:59+01:00"),
    ("2024-03-30 23:00:00+00", "2024-03-31T00:00:00+01:00"),
    ("2024-03-31 00:59:59+00", "2024-03-31T01:59:59+01:00"),
    ("2024-03-31 01:00:00+00", "2024-03-31T03:00:00+02:00"),
    ("2024-03-31 21:59:59+00", "2024-03-31T23:59:59+02:00"),
    ("2024-03-31 22:00:00+00", "2024-04-01T00:00:00+02:00"),
    ("2024-10-26 22:00:00+00", "2024-10-27T00:00:00+02:00"),
    ("2024-10-27 00:30:00+00", "2024-10-27T02:30:00+02:00"),
    ("2024-10-27 01:30:00+00", "2024-10-27T02:30:00+01:00"),
    ("2024-10-27 22:59:59+00", "2024-10-27T23:59:59+01:00"),
    ("2024-10-27 23:00:00+00", "2024-10-28T00:00:00+01:00"),
])
def test_boundary_instants_fall_on_their_local_day(r4_api, instant, local):
    dsn = r4_api["dsn"]
    r4_query(dsn, "TRUNCATE orders")
    r4_query(dsn, "INSERT INTO orders (order_ref, placed_at) VALUES ('WEB-19990101-000001', %s)", (instant,))
    day = local[:10]
    before = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
    access_token = token(r4_api)
    assert [o["placed_at"] for o in orders(r4_api, day, day, access_token).json()["orders"]] == [local]
    assert orders(r4_api, before, before, access_token).json()["orders"] == []
    r4_query(dsn, "TRUNCATE orders")


def test_every_bad_kind_is_served(r4_api, r4_seeded):
    found, _ = walk_orders(r4_api, *WINDOW)
    lines = [(o, line) for o in found for line in o["lines"]]
    assert any(line["sku"] == "" for _, line in lines)
    assert any("DROP TABLE" in line["sku"] for _, line in lines)
    assert any(len(line["title"]) > 255 and not line["title"].isascii() for _, line in lines)
    assert any(line["units"] <= 0 for _, line in lines)
    assert any(isinstance(line["unit_price_cents"], int) and isinstance(line["line_total_cents"], int)
               and line["units"] > 0 and line["line_total_cents"] != line["units"] * line["unit_price_cents"]
               for _, line in lines)
    assert any(len({line["line_no"] for line in o["lines"]}) < len(o["lines"]) for o in found)  # a line twice
    future, _ = walk_orders(r4_api, "2024-06-02", "2024-06-08")  # as_of 2024-06-01
    expected = r4_seeded[r4_seeded["bad_kind"] == "future_date"]["order_ref"].unique()
    march = [ref for ref in expected if ref < "WEB-20240401-~"]
    assert sorted(o["order_ref"] for o in future) == sorted(march) and march


# -- data version and faults -----------------------------------------------------------------

def test_every_page_carries_the_data_version_and_a_line_write_moves_it(r4_api, r4_seeded):
    (version,), = r4_query(r4_api["dsn"], "SELECT version FROM orders_version")
    _, responses = walk_orders(r4_api, *WINDOW)
    assert {r.headers["X-Data-Version"] for r in responses} == {str(version)}
    r4_query(r4_api["dsn"], "UPDATE order_lines SET units = units WHERE false")  # lines are data too
    (after,), = r4_query(r4_api["dsn"], "SELECT version FROM orders_version")
    assert after > version
    assert orders(r4_api, *WINDOW, token(r4_api)).headers["X-Data-Version"] == str(after)


def test_fault_knobs_apply_to_retailer_4(r4_api, r4_seeded, r4_faults):
    access_token = token(r4_api)
    before = requests.get(r4_api["base_url"] + "/_admin/faults", timeout=5).json()["injected"]
    r4_faults(fail_500=1, fail_429=1, retry_after=2)
    assert _token_response(r4_api, auth=(r4_api["client_id"], r4_api["client_secret"])).status_code == 500
    limited = orders(r4_api, *WINDOW, access_token)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert orders(r4_api, *WINDOW, access_token).status_code == 200
    r4_faults(cut=1)
    host = urlparse(r4_api["base_url"])
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    conn.request("GET", f"/v2/orders?since={WINDOW[0]}&until={WINDOW[1]}",
                 headers={"Authorization": f"Bearer {access_token}"})
    with pytest.raises(http.client.IncompleteRead):
        conn.getresponse().read()
    conn.close()
    state = requests.get(r4_api["base_url"] + "/_admin/faults", timeout=5).json()
    assert {k: state["injected"][k] - before[k] for k in before} == {"fail_500": 1, "fail_429": 1, "cut": 1, "slow": 0}
    assert requests.get(r4_api["base_url"] + "/health", timeout=5).json() == {"status": "healthy", "retailer": "retailer_4"}
