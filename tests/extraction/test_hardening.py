"""The hardening items of issue 10, each reproduced first against a loopback server: a redirect
to another host, an API trickling bytes, contradictory paging metadata, a password in base_url."""

from __future__ import annotations

import logging
import time

import pytest

from retail_pipeline.datasets.retailer_api import RetailerApiError
from tests.extraction.conftest import KEY, make_dataset
from tests.extraction.servers import Answer, Seen, page_of

PAGE_API = {"endpoint": "/sales", "records_key": "data",
            "auth": {"style": "api_key", "header": "Authorization", "scheme": "Bearer"},
            "paging": {"style": "page_number", "page_size": 2}}
VERSION = {"X-Data-Version": "1"}


def records(n: int, start: int = 0) -> list[dict]:
    return [{"order_id": f"ORD-{i}"} for i in range(start, start + n)]


# -- credentials never leave the configured host ---------------------------------------------------
@pytest.mark.parametrize("auth", [{"style": "api_key", "header": "X-API-Key"},
                                  {"style": "api_key", "header": "Authorization", "scheme": "Bearer"}])
def test_a_redirect_to_another_host_fails_and_the_key_never_reaches_it(loopback, auth):
    elsewhere = loopback(lambda seen: Answer(200, page_of(records(1), total=1, total_pages=1), VERSION))
    api = loopback(lambda seen: Answer(307, b"", {"Location": f"{elsewhere.base_url}/sales?page=1"}))
    with pytest.raises(RetailerApiError) as error:
        make_dataset(api.base_url, {**PAGE_API, "auth": auth}).load()
    text = str(error.value)
    assert text.startswith("acme_foods: GET ") and "was redirected (HTTP 307) to " + elsewhere.base_url in text
    assert KEY not in text and len(api.seen) == 1
    assert elsewhere.seen == []  # not even contacted, so no key and no Authorization header there


def test_a_next_link_to_another_host_fails_before_any_request_there(loopback):
    elsewhere = loopback(lambda seen: Answer(200, {"orders": records(1)}, VERSION))
    api = loopback(lambda seen: Answer(200, {"orders": records(2)},
                                       {**VERSION, "Link": f'<{elsewhere.base_url}/v2/orders?cursor=2>; rel="next"'}))
    dataset = make_dataset(api.base_url, {"endpoint": "/v2/orders", "records_key": "orders",
                                          "auth": {"style": "api_key", "header": "X-API-Key"},
                                          "paging": {"style": "next_link"}})
    with pytest.raises(RetailerApiError, match="acme_foods: malformed response from GET .* the next link leads to "
                                               "another host"):
        dataset.load()
    assert elsewhere.seen == [] and len(api.seen) == 1


# -- deadlines ----------------------------------------------------------------------------------
def trickling(seen: Seen) -> Answer:
    return Answer(200, page_of(records(1), total=1, total_pages=1), VERSION, trickle_seconds=0.2)


def test_a_trickling_api_fails_at_the_request_deadline_after_the_retries(loopback):
    api = loopback(trickling)
    dataset = make_dataset(api.base_url, PAGE_API, deadline={"request_seconds": 1, "extraction_seconds": 60},
                           timeout=[5, 30])
    started = time.monotonic()
    with pytest.raises(RetailerApiError) as error:
        dataset.load()
    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 6, elapsed  # two attempts of 1 s; the read timeout (30 s) never tripped
    text = str(error.value)
    assert text.startswith("acme_foods: GET ") and "failed after 2 attempts" in text
    assert "no complete response within the request deadline of 1 s (deadline.request_seconds)" in text
    assert len(api.seen) == 2


def test_a_trickling_api_fails_at_the_extraction_deadline_at_once(loopback):
    api = loopback(trickling)
    dataset = make_dataset(api.base_url, PAGE_API, deadline={"request_seconds": 60, "extraction_seconds": 1.5},
                           retry={"max_attempts": 5, "backoff_seconds": 0.01})
    started = time.monotonic()
    with pytest.raises(RetailerApiError) as error:
        dataset.load()
    assert time.monotonic() - started < 4
    assert str(error.value).startswith("acme_foods: the extraction did not finish within its deadline of 1.5 s "
                                       "(deadline.extraction_seconds); stopped at GET ")
    assert len(api.seen) == 1  # not retried: the extraction's time is up


# -- contradictory paging metadata ----------------------------------------------------------------
def page_number_2000(seen: Seen) -> Answer:
    return Answer(200, page_of(records(1), total=1, total_pages=2000), VERSION)


def offset_backwards(seen: Seen) -> Answer:
    offset = int(seen.query["offset"])
    return Answer(200, {"transactions": records(2, offset), "count": 2, "total": 10,
                        "next_offset": 2 if offset == 0 else 1}, VERSION)


def offset_beyond_total(seen: Seen) -> Answer:
    return Answer(200, {"transactions": records(2), "count": 2, "total": 2, "next_offset": 2}, VERSION)


def cursor_repeats(seen: Seen) -> Answer:
    return Answer(200, {"results": records(2), "count": 2, "next_cursor": "c1"}, VERSION)


def cursor_empty_page_with_next(seen: Seen) -> Answer:
    return Answer(200, {"results": [], "count": 0, "next_cursor": f"c{len(seen.body)}"}, VERSION)


def link_back_to_a_page_read(seen: Seen) -> Answer:
    target = "/v2/orders?page=2" if "page" not in seen.query else "/v2/orders?page=1"
    first_again = f"http://{seen.headers['host']}/v2/orders?since=2024-03-30&until=2024-03-31"
    link = first_again if seen.query.get("page") == "2" else f"http://{seen.headers['host']}{target}"
    return Answer(200, {"orders": records(1)}, {**VERSION, "Link": f'<{link}>; rel="next"'})


OFFSET = {"endpoint": "/transactions", "records_key": "transactions", "paging": {"style": "offset", "page_size": 2}}
CURSOR = {"endpoint": "/sales/query", "method": "POST", "records_key": "results",
          "paging": {"style": "cursor", "page_size": 2}}
LINK = {"endpoint": "/v2/orders", "records_key": "orders", "paging": {"style": "next_link"},
        "dates": {"start": "since", "end": "until"}}


@pytest.mark.parametrize("route, api, problem, requests_", [
    (page_number_2000, PAGE_API, "total_pages=2000 with total=1 and 1 records on the first page", 1),
    (offset_backwards, OFFSET, "next_offset=1 after 2 records at offset 2 of total 10", 2),
    (offset_beyond_total, OFFSET, "next_offset=2 after 2 records at offset 0 of total 2", 1),
    (cursor_repeats, CURSOR, "next_cursor repeated a cursor it had already returned", 2),
    (cursor_empty_page_with_next, CURSOR, "a page without records but a next_cursor", 1),
    (link_back_to_a_page_read, LINK, "the next link leads back to a page already read", 2),
], ids=["total_pages_2000_total_1", "offset_backwards", "offset_beyond_total", "cursor_repeats",
        "empty_page_with_next", "link_to_a_page_read"])
def test_inconsistent_paging_metadata_fails_at_once(loopback, route, api, problem, requests_):
    server = loopback(route)
    with pytest.raises(RetailerApiError) as error:
        make_dataset(server.base_url, {"auth": {"style": "api_key", "header": "apikey"}, **api}).load()
    text = str(error.value)
    assert text.startswith("acme_foods: malformed response from ") and problem in text, text
    assert len(server.seen) == requests_


# -- a password in base_url ---------------------------------------------------------------------
def test_a_password_in_base_url_never_reaches_a_log_line_or_an_error(loopback, caplog):
    caplog.set_level(logging.DEBUG)
    failing = loopback(lambda seen: Answer(503, {"error": "down"}))
    working = loopback(lambda seen: Answer(200, page_of(records(1), total=1, total_pages=1), VERSION))
    password = "pw-Secret-77"

    def with_password(url: str) -> str:
        return url.replace("http://", f"http://svc-user:{password}@")

    bad = make_dataset(with_password(failing.base_url), PAGE_API,
                       credentials={"base_url": with_password(failing.base_url), "api_key": KEY})
    with pytest.raises(RetailerApiError) as error:
        bad.load()
    assert "failed after 2 attempts; last error: HTTP 503 (down)" in str(error.value)
    good = make_dataset(with_password(working.base_url), PAGE_API,
                        credentials={"base_url": with_password(working.base_url), "api_key": KEY})
    frame = good.load()
    assert len(frame) == 1 and frame.attrs["extraction"]["url"] == f"{working.base_url}/sales"
    shown = [caplog.text, str(error.value), str(bad), str(good), repr(good._describe()), str(frame.attrs)]
    assert not [text for text in shown if password in text or "svc-user" in text or KEY in text]
    assert f"{failing.base_url}/sales?" in caplog.text  # the URL is shown, without its userinfo
