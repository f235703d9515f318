"""OAuth2 client credentials, next-link paging and nested order lines, against a loopback API
shaped like retailer 4 (tokens that expire, `Link: <...>; rel="next"`, orders with lines)."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs

import orjson
import pytest

from retail_pipeline.datasets.retailer_api import RetailerApiError
from tests.extraction.conftest import make_dataset
from tests.extraction.servers import Answer, Seen

CLIENT = ("acme-client", "acme-secret-9931")
API = {"endpoint": "/v2/orders", "method": "GET", "records_key": "orders", "lines": "lines",
       "auth": {"style": "oauth2_client_credentials", "token_endpoint": "/oauth/token"},
       "dates": {"start": "since", "end": "until", "in": "query"}, "paging": {"style": "next_link"}}
FIELDS = {"transaction_id": ["order_ref", "line_no"], "transaction_ts": "placed_at", "product_sku": "sku",
          "quantity": "units", "total_amount": "line_total_cents"}


def orders(n: int, lines_per_order: int = 2) -> list[dict]:
    return [{"order_ref": f"WEB-20240331-{i:06d}", "placed_at": "2024-03-31T03:15:00+02:00",
             "lines": [{"line_no": j + 1, "sku": f"SKU-{i}-{j}", "units": j + 1, "line_total_cents": 1250 * (j + 1)}
                       for j in range(lines_per_order)]} for i in range(n)]


class OrdersApi:
    """Tokens by client credentials (HTTP Basic); orders paged by a Link header (cursor = index)."""

    def __init__(self, records: list[dict], page_size: int = 2, ttl: float = 60.0,
                 uses_per_token: int | None = None, latency: float = 0.0) -> None:
        self.records, self.page_size, self.ttl = records, page_size, ttl
        self.uses_per_token, self.latency = uses_per_token, latency
        self.tokens: dict[str, list] = {}  # token -> [expires (monotonic), data requests served]
        self.refused: list[str] = []

    def __call__(self, seen: Seen) -> Answer:
        if seen.path == "/oauth/token":
            return self.token(seen)
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        state = self.tokens.get(token)
        spent = state is not None and self.uses_per_token is not None and state[1] >= self.uses_per_token
        if state is None or time.monotonic() > state[0] or spent:
            self.refused.append(token)
            return Answer(401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        state[1] += 1
        time.sleep(self.latency)
        start = int(seen.query.get("cursor", 0))
        page = self.records[start:start + self.page_size]
        headers = {"X-Data-Version": "1"}
        if start + self.page_size < len(self.records):
            headers["Link"] = (f"<http://{seen.headers['host']}/v2/orders?since={seen.query['since']}"
                               f"&until={seen.query['until']}&cursor={start + self.page_size}>; rel=\"next\"")
        return Answer(200, {"orders": page}, headers)

    def token(self, seen: Seen) -> Answer:
        basic = base64.b64decode(seen.headers.get("authorization", "Basic ").split()[1] or b"").decode()
        form = {k: v[-1] for k, v in parse_qs(seen.body.decode()).items()}
        if seen.method != "POST" or form.get("grant_type") != "client_credentials" or basic != ":".join(CLIENT):
            return Answer(401, {"error": "invalid_client"})
        token = f"token-{len(self.tokens) + 1}"
        self.tokens[token] = [time.monotonic() + self.ttl, 0]
        return Answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.ttl})


def oauth_dataset(base_url: str, client: tuple[str, str] = CLIENT, **options):
    creds = {"base_url": base_url, "client_id": client[0], "client_secret": client[1]}
    return make_dataset(base_url, API, FIELDS, creds, **options)


def test_nested_lines_over_next_links_one_row_per_line(loopback):
    records = orders(5)
    records[2]["lines"] = []  # an order without lines: no row, counted
    api = loopback(OrdersApi(records, page_size=2))
    frame = oauth_dataset(api.base_url).load()
    stats = frame.attrs["extraction"]
    assert len(frame) == 8 and stats["orders"] == 5 and stats["orders_without_lines"] == 1
    assert (stats["pages"], stats["requests"], stats["auth"], stats["paging"]) == (3, 3, "oauth2_client_credentials",
                                                                                     "next_link")
    assert frame["source_page"].tolist() == [1, 1, 1, 1, 2, 2, 3, 3]
    assert list(frame.columns[:2]) == ["order_ref", "line_no"] and frame["line_no"].tolist() == [1, 2] * 4
    first = orjson.loads(frame["source_record"][1])
    assert first == {**records[0], "lines": [records[0]["lines"][1]]}  # the order with only that line
    # accounting: every line served is one row, once
    served = {(o["order_ref"], line["line_no"]) for o in records for line in o["lines"]}
    assert set(zip(frame["order_ref"], frame["line_no"], strict=True)) == served and len(served) == len(frame)
    data_requests = [s for s in api.seen if s.path == "/v2/orders"]
    assert [s.query.get("cursor") for s in data_requests] == [None, "2", "4"]
    assert data_requests[0].query == {"since": "2024-03-30", "until": "2024-03-31"}


def test_a_token_refused_mid_extraction_is_fetched_again_once_and_the_run_carries_on(loopback):
    api = OrdersApi(orders(10), page_size=2, uses_per_token=2)
    frame = oauth_dataset(loopback(api).base_url).load()
    assert len(frame) == 20 and api.refused == ["token-1", "token-2"]  # each after 2 pages
    assert len(api.tokens) == 3
    stats = frame.attrs["extraction"]
    assert (stats["pages"], stats["requests"], stats["tokens_fetched"]) == (5, 7, 3)  # 2 pages repeated after a 401


def test_a_token_is_renewed_before_it_expires(loopback):
    api = OrdersApi(orders(8), page_size=2, ttl=1.0, latency=0.4)
    frame = oauth_dataset(loopback(api).base_url).load()
    assert len(frame) == 16 and api.refused == [] and len(api.tokens) >= 2


def test_wrong_client_credentials_fail_naming_the_retailer_without_the_secret(loopback):
    api = loopback(OrdersApi(orders(1)))
    with pytest.raises(RetailerApiError) as error:
        oauth_dataset(api.base_url, client=("acme-client", "wrong-secret-123")).load()
    text = str(error.value)
    assert text.startswith("acme_foods: the token request POST ") and "/oauth/token" in text
    assert "HTTP 401 (invalid_client)" in text and "client_id and client_secret" in text
    assert "wrong-secret-123" not in text


def test_a_token_refused_twice_in_a_row_fails(loopback):
    api = OrdersApi(orders(4), page_size=2, uses_per_token=0)
    with pytest.raises(RetailerApiError, match=r"acme_foods: GET .*/v2/orders\?since=2024-03-30&until=2024-03-31 "
                                               r"was refused with HTTP 401 \(invalid_token\) \(check client_id"):
        oauth_dataset(loopback(api).base_url).load()
    assert api.refused == ["token-1", "token-2"]


def test_a_field_on_both_the_order_and_its_line_is_a_configuration_error(loopback):
    records = orders(1)
    records[0]["sku"] = "ORDER-LEVEL"
    api = loopback(OrdersApi(records))
    with pytest.raises(RetailerApiError, match="acme_foods: the order and its 'lines' both have the field.s. sku"):
        oauth_dataset(api.base_url).load()


def test_a_declared_field_missing_from_every_record_fails_the_shape_check(loopback):
    api = loopback(OrdersApi(orders(2)))
    dataset = make_dataset(api.base_url, API, {**FIELDS, "store_id": "shop_ref"},
                           {"base_url": api.base_url, "client_id": CLIENT[0], "client_secret": CLIENT[1]})
    with pytest.raises(Exception, match="acme_foods: the extraction does not have the declared source shape.*shop_ref"):
        dataset.load()
