"""The HTTP client of one extraction: urllib3's connection pool and `Retry`, plus deadlines.

- Retries, exponential backoff and `Retry-After` (429/503, capped) are urllib3's `Retry`: a
  connection error, a timeout, a response cut mid-body (the body is read inside urllib3's retry
  loop), 429 and 5xx are retried up to `retry.max_attempts` per request; each retry is logged
  and counted (`Stats`).
- Deadlines (extraction/deadlines.py): one attempt may last `deadline.request_seconds` (then it
  counts as a timeout, retried), the extraction `deadline.extraction_seconds` (then it fails at
  once).
- Redirects are never followed: credentials stay with the configured host, and a redirect is
  reported (`Reply.status` 3xx) for the caller to fail on.
Every URL shown is masked (extraction/urls.py).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import orjson
from requests.utils import parse_header_links
from urllib3 import PoolManager, Timeout
from urllib3.exceptions import HTTPError, MaxRetryError
from urllib3.util.retry import Retry

from retail_pipeline.extraction.deadlines import POOL_CLASSES, Deadline, Watch, watching
from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.extraction.urls import mask_text

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset([429, *range(500, 600)])
DEFAULT_RETRY = {
    "max_attempts": 6,  # per request, the first try included
    "backoff_seconds": 0.5,  # urllib3: no wait before the first retry, then this doubling
    "backoff_max_seconds": 30.0,
    "max_retry_after_seconds": 120.0,  # a Retry-After beyond this is capped
}


class Stats:
    """Requests made (retries included) and retries, over every thread of an extraction."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.retries = 0

    def add(self, requests_: int = 0, retries: int = 0) -> None:
        with self.lock:
            self.requests += requests_
            self.retries += retries


class RetailerRetry(Retry):
    """urllib3's Retry, with a capped Retry-After and a hook told of every retry."""

    def __init__(self, *args: Any, hook: _Attempts | None = None, retry_after_cap: float = 120.0,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hook, self.retry_after_cap = hook, retry_after_cap

    def new(self, **kwargs: Any) -> RetailerRetry:
        kwargs.setdefault("hook", self.hook)
        kwargs.setdefault("retry_after_cap", self.retry_after_cap)
        return super().new(**kwargs)

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.retry_after_cap)

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> RetailerRetry:
        if self.hook is not None:
            self.hook.failed(response, error)
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.hook is not None:
            self.hook.retrying(new, response)
        return new


class _Attempts:
    """One request's attempts: the last failure's text, the retry log line, the counts."""

    def __init__(self, transport: Transport, shown: str, watch: Watch, counted: bool) -> None:
        self.transport, self.shown, self.watch, self.counted = transport, shown, watch, counted
        self.made, self.last = 1, "no attempt made"

    def failed(self, response: Any, error: Exception | None) -> None:
        t = self.transport
        if self.watch.expired == "extraction":
            raise t.deadline.exceeded(t.retailer, self.shown)
        if self.watch.expired == "request":
            self.last = (f"no complete response within the request deadline of {t.deadline.request_seconds:g} s "
                         f"(deadline.request_seconds)")
        elif response is not None:
            self.last = f"HTTP {response.status}{error_text(response.data)}"
        else:
            self.last = t.mask(f"{type(error).__name__}: {error}")[:300]

    def retrying(self, retry: RetailerRetry, response: Any) -> None:
        t = self.transport
        wait = (retry.get_retry_after(response) if response is not None else None) or retry.get_backoff_time()
        if wait >= t.deadline.remaining():
            raise t.deadline.exceeded(t.retailer, f"{self.shown} (waiting {wait:.1f}s to retry: {self.last})")
        self.made += 1
        if self.counted:
            t.stats.add(requests_=1, retries=1)
        log.warning("%s: %s failed (%s); retry %d/%d in %.1fs", t.retailer, self.shown, self.last,
                    self.made - 1, t.max_attempts - 1, wait)


@dataclass
class Reply:
    status: int
    headers: Any
    content: bytes
    shown: str  # the request as shown in messages: method and masked URL (and JSON body)

    @property
    def links(self) -> dict[str, str]:
        """RFC 8288 `Link` header by rel (requests' parser, as `requests.Response.links`)."""
        value = self.headers.get("Link")
        return {link.get("rel") or link["url"]: link["url"] for link in parse_header_links(value)} if value else {}


class Transport:
    """Sends one retailer's requests; see the module docstring."""

    def __init__(self, retailer: str, *, timeout: tuple[float, float], retry: dict[str, Any] | None,
                 deadline: Deadline, pool_size: int, secrets: tuple[str | None, ...] = ()) -> None:
        self.retailer, self.deadline, self.secrets = retailer, deadline, secrets
        retry = {**DEFAULT_RETRY, **(retry or {})}
        self.max_attempts = max(1, int(retry["max_attempts"]))
        self.retry = RetailerRetry(total=self.max_attempts - 1, connect=None, read=None, redirect=0, status=None,
                            other=None, allowed_methods=None, status_forcelist=RETRY_STATUSES,
                            backoff_factor=float(retry["backoff_seconds"]) / 2,
                            backoff_max=float(retry["backoff_max_seconds"]),
                            respect_retry_after_header=True, raise_on_status=False, raise_on_redirect=False,
                            retry_after_cap=float(retry["max_retry_after_seconds"]))
        self.timeout = Timeout(connect=float(timeout[0]), read=float(timeout[1]))
        self.stats = Stats()
        self.pool = PoolManager(num_pools=2, maxsize=max(1, pool_size), block=False)
        self.pool.pool_classes_by_scheme = dict(POOL_CLASSES)  # connections a Watch can stop

    def mask(self, text: str) -> str:
        return mask_text(text, self.secrets)

    def close(self) -> None:
        self.pool.clear()

    def request(self, method: str, url: str, *, headers: dict[str, str], body: bytes | None = None,
                shown: str, counted: bool = True) -> Reply:
        """One request with retries; 2xx, 3xx and 4xx other than 429 come back as a Reply.
        `counted`: in the stats (data requests; not token requests)."""
        if self.deadline.remaining() <= 0:
            raise self.deadline.exceeded(self.retailer, shown)
        watch = Watch(self.deadline)
        attempts = _Attempts(self, shown, watch, counted)
        if counted:
            self.stats.add(requests_=1)
        try:
            with watching(watch):  # preload_content: the body is read inside urllib3's retries
                response = self.pool.request(method, url, body=body, headers=headers, redirect=False,
                                             retries=self.retry.new(hook=attempts), timeout=self.timeout,
                                             preload_content=True)
        except MaxRetryError:
            raise self.exhausted(attempts) from None
        except HTTPError as exc:  # not retryable (e.g. a malformed URL)
            raise RetailerApiError(f"{self.retailer}: {shown} failed: {self.mask(str(exc))[:300]}") from None
        if watch.expired == "extraction":
            raise self.deadline.exceeded(self.retailer, shown)
        if response.status in RETRY_STATUSES:
            attempts.failed(response, None)
            raise self.exhausted(attempts)
        return Reply(response.status, response.headers, response.data or b"", shown)

    def exhausted(self, attempts: _Attempts) -> RetailerApiError:
        return RetailerApiError(
            f"{self.retailer}: {attempts.shown} failed after {attempts.made} attempts; last error: {attempts.last}. "
            f"The retailer's API is down or failing: check its /health and logs, then rerun.")


def error_text(content: bytes) -> str:
    """' (message)' from a JSON error body, for error messages; '' when there is none."""
    try:
        payload = orjson.loads(content)
        text = payload.get("message") or payload.get("error") if isinstance(payload, dict) else None
    except orjson.JSONDecodeError:
        text = None
    return f" ({str(text)[:200]})" if text else ""
