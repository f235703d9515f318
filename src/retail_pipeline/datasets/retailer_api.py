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

Failures:
- connection errors, timeouts, incomplete reads, 5xx and 429 are retried with exponential
  backoff (429/503 honour `Retry-After`), up to `retry.max_attempts` per request; then
  `RetailerApiError` names the retailer, the request and the last failure, and the run fails.
- 4xx other than 429 fail at once (a wrong key or a bad request will not heal by retrying).
- a malformed response (not JSON, wrong envelope, missing paging fields, count mismatch) fails
  at once with the retailer and URL named.
The API key is sent in a header only; it is never logged nor put in an error message.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import requests
from kedro.io.core import AbstractDataset, DatasetError

from retail_pipeline.run_window import parse_run_date

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
MAX_PAGES = 1_000_000


class RetailerApiError(DatasetError):
    """The retailer's API could not be read; the message names the retailer and the request."""


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
        self._count_field = count_field
        self._fields = list(fields or [])
        self._timeout = tuple(timeout) if isinstance(timeout, list | tuple) else (float(timeout), float(timeout))
        self._retry = {**DEFAULT_RETRY, **(retry or {})}
        self._concurrency = max(1, int(concurrency))
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
        try:
            frames, source_total = self._extract(session, stats)
        finally:
            session.close()
        pages = len(frames)
        data = self._to_frame(frames)
        del frames[:]
        pa.default_memory_pool().release_unused()  # page buffers: back to the OS
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
            "elapsed_s": round(time.perf_counter() - started, 3),
            "extracted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        log.info("%s: extracted %d records in %d pages (%d requests, %d retries) from %s in %.1fs",
                 self._retailer, len(data), pages, stats.requests, stats.retries, self._url,
                 data.attrs["extraction"]["elapsed_s"])
        return data

    # -- paging ----------------------------------------------------------------------------------
    def _extract(self, session: requests.Session, stats: _Stats) -> tuple[list[_Page], int | None]:
        style = self._paging["style"]
        size = int(self._paging["page_size"])
        frames: list[_Page] = []
        if style == "page":
            first = int(self._paging["first_page"])
            body = self._fetch(session, stats, {self._paging["page_param"]: first, self._paging["size_param"]: size})
            total = self._int_field(body, self._paging["total_field"])
            total_pages = self._int_field(body, self._paging["total_pages_field"])
            frames.append(self._page_frame(body, 1))
            rest = [{self._paging["page_param"]: first + i, self._paging["size_param"]: size}
                    for i in range(1, total_pages)]
            for number, page in enumerate(self._fetch_many(session, stats, rest), start=2):
                frames.append(self._page_frame(page, number))
            return frames, total
        if style == "offset":
            offset_param, next_field = self._paging["offset_param"], self._paging["next_field"]
            body = self._fetch(session, stats, {offset_param: 0, self._paging["size_param"]: size})
            total = self._int_field(body, self._paging["total_field"]) if self._paging["total_field"] else None
            frames.append(self._page_frame(body, 1))
            next_offset = self._next(body, next_field, int)
            if self._concurrency > 1 and total is not None and next_offset is not None:
                rest = [{offset_param: off, self._paging["size_param"]: size}
                        for off in range(next_offset, total, size)]
                for number, page in enumerate(self._fetch_many(session, stats, rest), start=2):
                    frames.append(self._page_frame(page, number))
                return frames, total
            # Sequential offset paging: the next request is in flight while this page's
            # records are turned into columns.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._retailer) as pool:
                pending = None
                if next_offset is not None:
                    pending = pool.submit(self._fetch, session, stats,
                                          {offset_param: next_offset, self._paging["size_param"]: size})
                while pending is not None:
                    body = pending.result()
                    following = self._next(body, next_field, int)
                    if following is not None and following <= next_offset:
                        self._malformed(f"{next_field} went backwards ({next_offset} -> {following})", body)
                    next_offset = following
                    pending = None
                    if next_offset is not None and len(frames) + 1 <= MAX_PAGES:
                        pending = pool.submit(self._fetch, session, stats,
                                              {offset_param: next_offset, self._paging["size_param"]: size})
                    frames.append(self._page_frame(body, len(frames) + 1))
                    if next_offset is not None:
                        self._check_page_count(frames)
            return frames, total
        # cursor: sequential by nature; the next request is in flight while this page's records
        # are turned into columns.
        cursor_param, next_field = self._paging["cursor_param"], self._paging["next_field"]
        seen: set[str] = set()

        def request(cursor: str | None) -> dict:
            params = {self._paging["size_param"]: size}
            if cursor is not None:
                params[cursor_param] = cursor
            return self._fetch(session, stats, params)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._retailer) as pool:
            pending = pool.submit(request, None)
            while True:
                body = pending.result()
                cursor = self._next(body, next_field, str)
                if cursor is not None:
                    if cursor in seen:
                        self._malformed(f"{next_field} repeated a cursor it had already returned", body)
                    seen.add(cursor)
                    if len(frames) + 1 <= MAX_PAGES:
                        pending = pool.submit(request, cursor)
                frames.append(self._page_frame(body, len(frames) + 1))
                if cursor is None:
                    break
                self._check_page_count(frames)
        total_field = self._paging.get("total_field")
        return frames, (self._int_field(body, total_field) if total_field else None)

    def _check_page_count(self, frames: list) -> None:
        if len(frames) > MAX_PAGES:
            raise RetailerApiError(f"{self._retailer}: more than {MAX_PAGES} pages from {self._url}; stopping")

    def _fetch_many(self, session: requests.Session, stats: _Stats, pages: list[dict]) -> Iterator[dict]:
        """Responses in page order; up to `concurrency` requests in flight, so memory stays at
        a few pages of parsed JSON whatever the window's size."""
        if self._concurrency == 1 or len(pages) < 2:
            for paging in pages:
                yield self._fetch(session, stats, paging)
            return
        with ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix=self._retailer) as pool:
            pending: deque[Future] = deque()
            todo = iter(pages)
            try:
                for paging in todo:
                    pending.append(pool.submit(self._fetch, session, stats, paging))
                    if len(pending) >= self._concurrency:
                        body = pending.popleft().result()
                        # refill before handing the page over, so `concurrency` requests stay
                        # in flight while the caller turns this one into columns
                        following = next(todo, None)
                        if following is not None:
                            pending.append(pool.submit(self._fetch, session, stats, following))
                        yield body
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

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
                    last = f"HTTP {status}{self._error_text(response)}"
                    if status in (429, 503):
                        wait = self._retry_after(response)
                elif status >= 400:
                    hint = " (check the api_key in credentials.yml)" if status in (401, 403) else ""
                    raise RetailerApiError(
                        f"{self._retailer}: {request} was refused with HTTP {status}"
                        f"{self._error_text(response)}{hint}"
                    )
                else:
                    return self._parse(response.content, request)
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

    def _retry_after(self, response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
                seconds = (when - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                return None
        return max(0.0, min(seconds, float(self._retry["max_retry_after_seconds"])))

    @staticmethod
    def _error_text(response: requests.Response) -> str:
        try:
            payload = orjson.loads(response.content)
            text = payload.get("message") or payload.get("error") if isinstance(payload, dict) else None
        except orjson.JSONDecodeError:
            text = None
        return f" ({str(text)[:200]})" if text else ""

    def _exc_text(self, exc: Exception) -> str:
        text = str(exc)
        if self._api_key and str(self._api_key) in text:  # belt and braces: never the key
            text = text.replace(str(self._api_key), "***")
        return text[:300]

    # -- response shape --------------------------------------------------------------------------
    def _malformed(self, problem: str, request: str | dict) -> None:
        where = request if isinstance(request, str) else self._url
        raise RetailerApiError(f"{self._retailer}: malformed response from {where}: {problem}")

    def _parse(self, content: bytes, request: str) -> dict:
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            self._malformed(f"not JSON ({exc}); first bytes: {content[:80]!r}", request)
        if not isinstance(body, dict):
            self._malformed(f"expected a JSON object envelope, got {type(body).__name__}", request)
        records = body.get(self._records_key)
        if not isinstance(records, list):
            self._malformed(
                f"no list under {self._records_key!r} (keys: {', '.join(map(str, body)) or 'none'})", request)
        if records and not all(isinstance(r, dict) for r in records):
            self._malformed(f"{self._records_key!r} holds something other than JSON objects", request)
        if self._count_field:
            count = body.get(self._count_field)
            if not isinstance(count, int) or count != len(records):
                self._malformed(f"{self._count_field!r} is {count!r} but {len(records)} records came", request)
        style = self._paging["style"]
        if style == "page":
            required = [self._paging["total_field"], self._paging["total_pages_field"]]
        else:
            required = [self._paging["next_field"], self._paging.get("total_field")]
        required = [name for name in required if name]
        missing = [name for name in required if name not in body]
        if missing:
            self._malformed(f"paging field(s) {', '.join(missing)} missing ({style} paging)", request)
        body["__request__"] = request
        return body

    def _int_field(self, body: dict, name: str) -> int:
        value = body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self._malformed(f"{name!r} should be a non-negative integer, got {value!r}", body["__request__"])
        return value

    def _next(self, body: dict, name: str, kind: type) -> Any:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, kind) or isinstance(value, bool):
            self._malformed(f"{name!r} should be {kind.__name__} or null, got {value!r}", body["__request__"])
        return value

    # -- records -> frame ------------------------------------------------------------------------
    # Pages are turned into compact Arrow columns as they arrive (only the published fields, plus
    # source_record and source_page), so a big window never holds every source value as a
    # Python object; the columns are concatenated once at the end.
    def _page_frame(self, body: dict, number: int) -> _Page:
        records = body.pop(self._records_key)
        n = len(records)
        present = set().union(*records) if records else set()
        names = self._fields or list(dict.fromkeys(key for record in records for key in record))
        columns: dict[str, Any] = {}
        for name in names:
            if name not in present:
                continue  # absent from the whole page: the column may still come with another page
            values = [record.get(name) for record in records]
            try:
                array = pa.array(values, from_pandas=True)
                if pa.types.is_string(array.type):
                    array = array.cast(pa.large_string())  # pandas' str layout: no copy later
                columns[name] = array
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
                # mixed types as served (e.g. text in a numeric field): kept as Python objects
                columns[name] = np.array(values, dtype=object)
        dumps = orjson.dumps
        source_record = pa.array([dumps(r).decode() for r in records], type=pa.large_string())
        return _Page(number=number, rows=n, columns=columns, source_record=source_record)

    def _to_frame(self, frames: list[_Page]) -> pd.DataFrame:
        pages = [page for page in frames if page.rows]
        if not pages:
            columns = {name: pd.Series([], dtype=object) for name in self._fields}
            columns["source_record"] = pd.Series([], dtype="str")
            columns["source_page"] = pd.Series([], dtype="int64")
            return pd.DataFrame(columns)
        names = list(dict.fromkeys(name for page in pages for name in page.columns))
        if self._fields:
            order = {name: i for i, name in enumerate(self._fields)}
            names.sort(key=lambda name: order.get(name, len(order)))
        data: dict[str, Any] = {}
        for name in names:
            data[name] = _concat_column([(page.columns.get(name), page.rows) for page in pages])
            for page in pages:  # free each page's part as soon as it is merged
                page.columns.pop(name, None)
        data["source_record"] = pd.Series(
            pa.chunked_array([page.source_record for page in pages], type=pa.large_string()).to_pandas())
        data["source_page"] = np.repeat(np.array([page.number for page in pages], dtype="int64"),
                                        [page.rows for page in pages])
        return pd.DataFrame(data, copy=False)


class _Page:
    """One page of records as columns (Arrow arrays, or object arrays for mixed types)."""

    __slots__ = ("columns", "number", "rows", "source_record")

    def __init__(self, number: int, rows: int, columns: dict[str, Any], source_record: pa.Array) -> None:
        self.number = number
        self.rows = rows
        self.columns = columns
        self.source_record = source_record

    def __len__(self) -> int:
        return self.rows


def _concat_column(parts: list[tuple[Any, int]]) -> pd.Series:
    """One source field over all pages, with the dtypes pandas would infer for the records
    (str for text, int64/float64 for numbers, object for mixed or absent values)."""
    arrays = [part for part, _ in parts]
    kinds = {a.type for a in arrays if isinstance(a, pa.Array) and not pa.types.is_null(a.type)}
    mixed = any(not isinstance(a, pa.Array) for a in arrays if a is not None)
    target = None
    if not mixed and len(kinds) == 1:
        target = next(iter(kinds))
    elif not mixed and all(pa.types.is_integer(k) or pa.types.is_floating(k) for k in kinds):
        target = pa.float64()  # ints and floats, or only nulls: float64 (NaN), as pandas infers
    if target is not None:
        if pa.types.is_string(target):
            target = pa.large_string()
        flat = (pa.types.is_large_string(target) or pa.types.is_integer(target)
                or pa.types.is_floating(target) or pa.types.is_boolean(target))
        if not flat or (pa.types.is_boolean(target) and any(a is None or a.null_count for a in arrays)):
            target = None  # nested values, or bool with nulls: pandas keeps Python objects
    if target is not None:
        chunks = [pa.nulls(rows, target) if a is None else a.cast(target) for a, rows in parts]
        return pd.Series(pa.chunked_array(chunks, type=target).to_pandas())
    pieces = []
    for a, rows in parts:
        if a is None:
            pieces.append(np.full(rows, None, dtype=object))
        elif isinstance(a, pa.Array):
            pieces.append(np.array(a.to_pylist(), dtype=object))
        else:
            pieces.append(a)
    values = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    return pd.Series(values, dtype=object)
