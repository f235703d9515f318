"""A tiny client speaking each retailer's own dialect, for the tests."""

from __future__ import annotations

import requests

from retail_pipeline.devstack.ports import free_port  # noqa: F401  (re-exported for the tests here)
from retailers.common.registry import API_KEY, RETAILERS

# The styles with an API key and one row per record (retailer 4 has its own helpers below).
KEY_CODES = [code for code, s in RETAILERS.items() if s.auth == API_KEY]

ENDPOINT = {"retailer_1": "/sales", "retailer_2": "/transactions", "retailer_3": "/sales/query"}
RECORDS = {"retailer_1": "data", "retailer_2": "transactions", "retailer_3": "results"}
ID = {"retailer_1": "order_id", "retailer_2": "transaction_number", "retailer_3": "sale_id"}
TS = {"retailer_1": "order_date", "retailer_2": "date", "retailer_3": "timestamp"}


def auth_headers(code: str, key: str | None) -> dict[str, str]:
    if key is None:
        return {}
    return {"retailer_1": {"Authorization": f"Bearer {key}"},
            "retailer_2": {"X-API-Key": key},
            "retailer_3": {"apikey": key}}[code]


def request(code: str, api: dict, start: str, end: str, key: str | None = "default", **paging) -> requests.Response:
    """One request for [start, end] with optional paging params in the retailer's own names."""
    headers = auth_headers(code, api["api_key"] if key == "default" else key)
    url = api["base_url"] + ENDPOINT[code]
    if code == "retailer_1":
        return requests.get(url, params={"start_date": start, "end_date": end, **paging}, headers=headers, timeout=30)
    if code == "retailer_2":
        return requests.get(url, params={"from": start, "to": end, **paging}, headers=headers, timeout=30)
    return requests.post(url, json={"dateFrom": start, "dateTo": end, **paging}, headers=headers, timeout=30)


def walk(code: str, api: dict, start: str, end: str, size: int) -> tuple[list[dict], int]:
    """Every record of the window, following the retailer's own paging; returns (records, requests)."""
    records, calls = [], 0
    state: dict = {}
    while True:
        if code == "retailer_1":
            body = request(code, api, start, end, page=state.get("page", 1), page_size=size).json()
        elif code == "retailer_2":
            body = request(code, api, start, end, offset=state.get("offset", 0), limit=size).json()
        else:
            extra = {"cursor": state["cursor"]} if "cursor" in state else {}
            body = request(code, api, start, end, limit=size, **extra).json()
        calls += 1
        records.extend(body[RECORDS[code]])
        assert body["count"] == len(body[RECORDS[code]])
        if code == "retailer_1":
            if body["page"] >= body["total_pages"]:
                return records, calls
            state["page"] = body["page"] + 1
        elif code == "retailer_2":
            if body["next_offset"] is None:
                return records, calls
            state["offset"] = body["next_offset"]
        else:
            if body["next_cursor"] is None:
                return records, calls
            state["cursor"] = body["next_cursor"]
        assert calls < 10_000, "paging does not terminate"


# -- retailer 4: OAuth2 client credentials, Link paging ---------------------------------------

def token(api: dict, client_id: str | None = None, client_secret: str | None = None) -> str:
    """A fresh access token (HTTP Basic client authentication)."""
    response = requests.post(api["base_url"] + "/oauth/token", data={"grant_type": "client_credentials"},
                             auth=(client_id or api["client_id"], client_secret or api["client_secret"]), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def orders(api: dict, since: str, until: str, access_token: str | None, url: str | None = None,
           **extra) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    if url:
        return requests.get(url, headers=headers, timeout=30)
    return requests.get(api["base_url"] + "/v2/orders", params={"since": since, "until": until, **extra},
                        headers=headers, timeout=30)


def walk_orders(api: dict, since: str, until: str, max_pages: int = 1000) -> tuple[list[dict], list[requests.Response]]:
    """Every order of the window, following Link rel="next"; (orders, responses)."""
    access_token = token(api)
    found, responses, url = [], [], None
    for _ in range(max_pages):
        response = orders(api, since, until, access_token, url)
        assert response.status_code == 200, response.text
        responses.append(response)
        found.extend(response.json()["orders"])
        url = response.links.get("next", {}).get("url")
        if url is None:
            return found, responses
    raise AssertionError(f"paging did not end within {max_pages} pages")
