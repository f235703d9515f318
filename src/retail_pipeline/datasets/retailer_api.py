"""`RetailerApiDataset`: one retailer's sales for a date window, from its REST API (load only).

Declared per retailer in the catalog (conf/base/catalog_ingestion.yml): base URL and key from
credentials, endpoint, method, auth header, date parameter names (query or JSON body), paging
(page number, offset or cursor), page size, timeouts and retries. Like dlt's declarative REST
source, everything a retailer does differently is configuration.

Load returns a DataFrame of the records as served (source field names, raw values: the
declared `fields` when given, every field otherwise; anything else stays in `source_record`)
plus `source_page` (page number, or request number for offset/cursor paging) and
`source_record` (the record as a JSON string, re-serialized by orjson). Extraction statistics
are in `df.attrs["extraction"]`. Each page is turned into compact Arrow-backed columns as it
arrives (text as `str`, numbers as int64/float64, mixed values as Python objects: the dtypes
pandas would infer), so a big window never holds its records as Python objects; the next
request is in flight meanwhile (`concurrency` requests for page/offset paging, one ahead for
sequential offset and cursor paging).

Consistency (`consistency:` in the catalog; extraction/consistency.py): the source may change
while it is paged, which makes paging skip or miss rows. An extraction is accepted at once when
every page carried the same data version (`version_header`); otherwise it is repeated until two
agree record for record (or a repeat's own version holds), at most `max_attempts` extractions,
then the load fails naming the retailer. `attrs["extraction"]` says how: `consistency`
(`data_version` | `verified_reread`) and `attempts`.

Failures:
- connection errors, timeouts, incomplete reads, 5xx and 429 are retried with exponential
  backoff (429/503 honour `Retry-After`), up to `retry.max_attempts` per request; then
  `RetailerApiError` names the retailer, the request and the last failure, and the run fails.
- 4xx other than 429 fail at once (a wrong key or a bad request will not heal by retrying).
- a malformed response (not JSON, wrong envelope, missing paging fields, count mismatch) fails
  at once with the retailer and URL named.
- a source that keeps changing during extraction fails after `consistency.max_attempts`.
The API key is sent in a header only; it is never logged nor put in an error message.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import pandas as pd
import pyarrow as pa
import requests
from kedro.io.core import AbstractDataset, DatasetError

from retail_pipeline.extraction.consistency import Consistency, Extraction, extract_consistently
from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.extraction.frames import page_frame, to_frame
from retail_pipeline.extraction.paging import PageWalk
from retail_pipeline.extraction.responses import ResponseShape, error_text, retry_after
from retail_pipeline.run_window import parse_run_date

__all__ = ["RetailerApiDataset", "RetailerApiError"]

log = logging.getLogger(__name__)

RETRYABLE_EXCEPTIONS = (
    requests.exceptions.ConnectionError,  # refused, reset, cut mid-response
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,  # incomplete read
    requests.exceptions.ContentDecodingError,
)
DEFAULT_RETRY = {
    "max_attempts": 6,  # per request, the first try included
    "backoff_seconds": 0.5,  # 0.5, 1, 2, 4, 8 ... between attempts
    "backoff_max_seconds": 30.0,
    "max_retry_after_seconds": 120.0,  # a Retry-After beyond this is capped
}
PAGING_DEFAULTS = {
    "page": {"page_param": "page", "size_param": "page_size", "first_page": 1,
             "total_field": "total", "total_pages_field": "total_pages"},
    "offset": {"offset_param": "offset", "size_param": "limit", "next_field": "next_offset",
               "total_field": "total"},
    "cursor": {"cursor_param": "cursor", "size_param": "limit", "next_field": "next_cursor",
               "total_field": None},
}


class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.retries = 0

    def add(self, requests_: int = 0, retries: int = 0) -> None:
        with self.lock:
            self.requests += requests_
            self.retries += retries


class RetailerApiDataset(AbstractDataset[None, pd.DataFrame]):
    """Extract a retailer's records for [window_start, window_end] from its REST API.

    Example (catalog):

        retailer_2.api_sales:
          type: retail_pipeline.datasets.retailer_api.RetailerApiDataset
          retailer: retailer_2
          credentials: retailer_2_api          # {base_url, api_key}
          endpoint: /transactions
          method: GET
          auth: {header: X-API-Key}             # or {header: Authorization, scheme: Bearer}
          window_start: ${window_start:...}
          window_end: ${run_date:...}
          dates: {start: from, end: to, in: query}
          records_key: transactions
          paging: {style: offset, page_size: 10000}
          consistency: {version_header: X-Data-Version, max_attempts: 4}
          fields: [transaction_number, date, ...]
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        retailer: str,
        endpoint: str,
        window_start: str,
        window_end: str,
        records_key: str,
        credentials: dict[str, Any] | None = None,
        method: str = "GET",
        auth: dict[str, Any] | None = None,
        dates: dict[str, Any] | None = None,
        paging: dict[str, Any] | None = None,
        count_field: str | None = "count",
        fields: list[str] | None = None,
        timeout: float | list[float] | tuple[float, float] = (5.0, 120.0),
        retry: dict[str, Any] | None = None,
        concurrency: int = 1,
        consistency: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        credentials = dict(credentials or {})
        self._retailer = retailer
        base_url = credentials.get("base_url")
        if not base_url:
            raise DatasetError(
                f"{retailer}: no base_url in its API credentials; add "
                f"{retailer}_api: {{base_url: ..., api_key: ...}} to conf/<env>/credentials.yml"
            )
        self._api_key = credentials.get("api_key")
        if not self._api_key:
            raise DatasetError(
                f"{retailer}: no api_key in its API credentials ({retailer}_api in credentials.yml)"
            )
        self._url = base_url.rstrip("/") + "/" + endpoint.lstrip("/")
        self._method = method.upper()
        if self._method not in ("GET", "POST"):
            raise DatasetError(f"{retailer}: method must be GET or POST, got {method!r}")
        self._auth = {"header": "Authorization", "scheme": "Bearer", **(auth or {})}
        if "scheme" not in (auth or {}) and self._auth["header"].lower() != "authorization":
            self._auth["scheme"] = None
        # A malformed window is refused here, before any request.
        self._window = (parse_run_date(window_start), parse_run_date(window_end))
        if self._window[1] < self._window[0]:
            raise DatasetError(f"{retailer}: window_end {window_end} is before window_start {window_start}")
        default_in = "body" if self._method == "POST" else "query"
        self._dates = {"start": "start_date", "end": "end_date", "in": default_in, **(dates or {})}
        paging = dict(paging or {"style": "page"})
        style = paging.get("style", "page")
        if style not in PAGING_DEFAULTS:
            raise DatasetError(f"{retailer}: paging style must be one of {', '.join(PAGING_DEFAULTS)}, got {style!r}")
        self._paging = {"style": style, "page_size": 10_000, "in": self._dates["in"],
                        **PAGING_DEFAULTS[style], **paging}
        self._records_key = records_key
        self._fields = list(fields or [])
        self._timeout = tuple(timeout) if isinstance(timeout, list | tuple) else (float(timeout), float(timeout))
        self._retry = {**DEFAULT_RETRY, **(retry or {})}
        self._concurrency = max(1, int(concurrency))
        self._consistency = Consistency.from_config(retailer, consistency)
        self._shape = ResponseShape(retailer, self._url, records_key, count_field, self._paging)
        self.metadata = metadata
        self._sleep = time.sleep  # tests may replace it

    # -- kedro ---------------------------------------------------------------------------------
    def _describe(self) -> dict[str, Any]:
        # Never the key: this is what Kedro prints in logs and errors.
        return {
            "retailer": self._retailer,
            "url": self._url,
            "method": self._method,
            "window": [d.isoformat() for d in self._window],
            "paging": self._paging["style"],
            "page_size": self._paging["page_size"],
            "version_header": self._consistency.version_header,
        }

    def save(self, data: None) -> None:
        raise DatasetError(f"{self._retailer}: RetailerApiDataset is read-only (the retailer's API)")

    def load(self) -> pd.DataFrame:
        pa.default_memory_pool().release_unused()  # what earlier nodes freed, before a big window
        started = time.perf_counter()
        stats = _Stats()
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=self._concurrency + 1)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        what = f"{self._url} for {self._window[0]}..{self._window[1]}"
        try:
            extraction, attempts, how = extract_consistently(
                lambda: self._extract_once(session, stats), self._consistency, self._retailer, what, self._sleep)
        finally:
            session.close()
        pages, source_total, version = len(extraction.pages), extraction.total, extraction.version
        data = to_frame(extraction.pages, self._fields)
        extraction.release()  # page buffers: back to the OS
        data.attrs["extraction"] = {
            "retailer_code": self._retailer,
            "url": self._url,
            "window_start": self._window[0].isoformat(),
            "window_end": self._window[1].isoformat(),
            "paging": self._paging["style"],
            "page_size": int(self._paging["page_size"]),
            "pages": pages,
            "requests": stats.requests,
            "retries": stats.retries,
            "source_total": source_total,
            "rows": len(data),
            "attempts": attempts,  # extractions made (repeats when the source changed meanwhile)
            "consistency": how,  # why it is trusted: "data_version" | "verified_reread"
            "data_version": version,  # the source's version it equals (None unless one held)
            "elapsed_s": round(time.perf_counter() - started, 3),
            "extracted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        log.info("%s: extracted %d records in %d pages (%d requests, %d retries, %d extraction(s), %s) "
                 "from %s in %.1fs", self._retailer, len(data), pages, stats.requests, stats.retries,
                 attempts, how, self._url, data.attrs["extraction"]["elapsed_s"])
        return data

    def _extract_once(self, session: requests.Session, stats: _Stats) -> Extraction:
        """One walk over every page; each page becomes columns as it arrives."""
        extraction = Extraction(self._paging.get("total_field"))

        def take(body: dict, number: int) -> None:
            extraction.add(body, page_frame(body.pop(self._records_key), number, self._fields))

        walk = PageWalk(self._retailer, self._paging, self._shape,
                        lambda params: self._fetch(session, stats, params), self._concurrency)
        extraction.total = walk.run(take)
        return extraction

    # -- one request, with retries ---------------------------------------------------------------
    def _request_args(self, paging: dict[str, Any]) -> tuple[dict, dict | None, str]:
        dates = {self._dates["start"]: self._window[0].isoformat(), self._dates["end"]: self._window[1].isoformat()}
        query: dict[str, Any] = {}
        body: dict[str, Any] = {}
        (query if self._dates["in"] == "query" else body).update(dates)
        (query if self._paging["in"] == "query" else body).update(paging)
        shown = self._url + ("?" + urlencode(query) if query else "")
        if body:
            shown += " " + orjson.dumps(body).decode()
        return query, (body or None), shown

    def _headers(self) -> dict[str, str]:
        scheme = self._auth.get("scheme")
        value = f"{scheme} {self._api_key}" if scheme else str(self._api_key)
        return {self._auth["header"]: value, "Accept": "application/json"}

    def _fetch(self, session: requests.Session, stats: _Stats, paging: dict[str, Any]) -> dict:
        query, body, shown = self._request_args(paging)
        request = f"{self._method} {shown}"
        attempts = int(self._retry["max_attempts"])
        last = "no attempt made"
        for attempt in range(1, attempts + 1):
            wait = None
            try:
                stats.add(requests_=1)
                response = session.request(self._method, self._url, params=query or None, json=body,
                                           headers=self._headers(), timeout=self._timeout)
                status = response.status_code
                if status == 429 or status >= 500:
                    last = f"HTTP {status}{error_text(response)}"
                    if status in (429, 503):
                        wait = retry_after(response, float(self._retry["max_retry_after_seconds"]))
                elif status >= 400:
                    hint = " (check the api_key in credentials.yml)" if status in (401, 403) else ""
                    raise RetailerApiError(
                        f"{self._retailer}: {request} was refused with HTTP {status}"
                        f"{error_text(response)}{hint}"
                    )
                else:
                    header = self._consistency.version_header
                    return self._shape.parse(response.content, request,
                                             response.headers.get(header) if header else None)
            except RETRYABLE_EXCEPTIONS as exc:
                last = f"{type(exc).__name__}: {self._exc_text(exc)}"
            if attempt == attempts:
                break
            if wait is None:
                wait = min(float(self._retry["backoff_seconds"]) * 2 ** (attempt - 1),
                           float(self._retry["backoff_max_seconds"]))
            stats.add(retries=1)
            log.warning("%s: %s failed (%s); retry %d/%d in %.1fs", self._retailer, request, last,
                        attempt, attempts - 1, wait)
            self._sleep(wait)
        raise RetailerApiError(
            f"{self._retailer}: {request} failed after {attempts} attempts; last error: {last}. "
            f"The retailer's API is down or failing: check its /health and logs, then rerun."
        )

    def _exc_text(self, exc: Exception) -> str:
        text = str(exc)
        if self._api_key and str(self._api_key) in text:  # belt and braces: never the key
            text = text.replace(str(self._api_key), "***")
        return text[:300]
