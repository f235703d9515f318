"""A tiny client speaking each retailer's own dialect, for the tests."""

from __future__ import annotations

import requests

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
