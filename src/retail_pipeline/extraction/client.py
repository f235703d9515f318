"""One retailer's API as its registry entry describes it (`api:` in conf/base/retailers.yml):
which URL, how dates and paging parameters travel (query or JSON body), which auth style, and
what a refused, redirected or malformed response means. `ApiClient.fetch` is one page request.
"""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import urlencode

import orjson

from retail_pipeline.extraction.auth import AUTH, Auth
from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.extraction.deadlines import Deadline
from retail_pipeline.extraction.http import Reply, Transport, error_text
from retail_pipeline.extraction.paging import PAGING, Paging
from retail_pipeline.extraction.responses import ResponseShape
from retail_pipeline.extraction.urls import mask_url, origin, split_userinfo

log = logging.getLogger(__name__)

API_KEYS = {"endpoint", "method", "auth", "dates", "records_key", "paging", "lines", "count_field"}


class ApiClient:
    """Requests of one retailer's extraction; `open()` ... `close()` around each load."""

    def __init__(self, retailer: str, api: dict[str, Any], credentials: dict[str, Any], *,
                 timeout: tuple[float, float], retry: dict[str, Any] | None, deadline: Deadline,
                 concurrency: int, version_header: str | None) -> None:
        self.retailer = retailer
        unknown = set(api) - API_KEYS
        if unknown:
            raise RetailerApiError(f"{retailer}: unknown api option(s) {', '.join(sorted(unknown))} "
                                   f"(conf/base/retailers.yml); known: {', '.join(sorted(API_KEYS))}")
        base_url = credentials.get("base_url")
        if not base_url:
            raise RetailerApiError(f"{retailer}: no base_url in its API credentials; add {retailer}_api: "
                                   f"{{base_url: ...}} to conf/<env>/credentials.yml")
        self.base_url, self._userinfo = split_userinfo(str(base_url).rstrip("/"))
        self.url = self.base_url + "/" + str(api.get("endpoint", "")).lstrip("/")
        self.shown_url = mask_url(self.url)
        self.method = str(api.get("method", "GET")).upper()
        if self.method not in ("GET", "POST"):
            raise RetailerApiError(f"{retailer}: method must be GET or POST, got {api.get('method')!r}")
        default_in = "body" if self.method == "POST" else "query"
        self.dates = {"start": "start_date", "end": "end_date", "in": default_in, **(api.get("dates") or {})}
        auth = dict(api.get("auth") or {"style": "api_key"})
        self.auth: Auth = AUTH.get(retailer, auth.pop("style", "api_key"))(retailer, auth, credentials)
        paging = dict(api.get("paging") or {"style": "page_number"})
        self.paging: Paging = PAGING.get(retailer, paging.get("style", "page_number"))(
            retailer, paging, concurrency, self.dates["in"])
        if not api.get("records_key"):
            raise RetailerApiError(f"{retailer}: api.records_key is required (the list of records in a response)")
        self.records_key, self.lines = api["records_key"], api.get("lines")
        self.shape = ResponseShape(retailer, self.shown_url, self.records_key, api.get("count_field", "count"),
                                   self.paging.required_fields(), self.paging.style)
        self.version_header = version_header
        self._transport_args = {"timeout": timeout, "retry": retry, "deadline": deadline,
                                "pool_size": self.paging.concurrency + 1}
        self.transport: Transport | None = None
        self.window: tuple[str, str] = ("", "")
        self.landing: Any = None  # landing tap: landing(method, url, body, reply) per page received

    @property
    def secrets(self) -> tuple[str, ...]:
        return (*self.auth.secrets, *((self._userinfo[1],) if self._userinfo else ()))

    def open(self, window: tuple[str, str], transport: Any = None) -> Transport:
        """`transport`: another page source (a replay's landing.replay.LandingTransport)."""
        self.window = window
        self.transport = transport or Transport(self.retailer, secrets=self.secrets, **self._transport_args)
        self.auth.bind(self.transport, self.base_url)
        return self.transport

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- one page --------------------------------------------------------------------------------
    def _request(self, paging: dict[str, Any], url: str | None) -> tuple[str, bytes | None, str]:
        dates = {self.dates["start"]: self.window[0], self.dates["end"]: self.window[1]}
        query: dict[str, Any] = {}
        body: dict[str, Any] = {}
        (query if self.dates["in"] == "query" else body).update(dates)
        (query if self.paging.config["in"] == "query" else body).update(paging)
        if url is None:
            url = self.url + ("?" + urlencode(query) if query else "")
        elif self.dates["in"] == "query":
            body = {key: value for key, value in body.items() if key not in dates}  # the link carries them
        data = orjson.dumps(body) if body else None
        shown = f"{self.method} {mask_url(url)}" + (f" {data.decode()}" if data else "")
        return url, data, shown

    def _headers(self, data: bytes | None) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.auth.headers()}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self._userinfo and not any(name.lower() == "authorization" for name in headers):
            user, password = self._userinfo  # a user:password@ base_url, as requests would send it
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return headers

    def fetch(self, paging: dict[str, Any], url: str | None = None) -> dict:
        """One page (with the transport's retries): the checked body (responses.py)."""
        url, data, shown = self._request(paging, url)
        if origin(url) != origin(self.base_url):
            raise RetailerApiError(f"{self.retailer}: refusing {shown}: not on the configured host "
                                   f"{mask_url(self.base_url)}")
        assert self.transport is not None, "open() first"
        reply = self.transport.request(self.method, url, headers=self._headers(data), body=data, shown=shown)
        if reply.status == 401 and self.auth.refresh(reply):
            log.info("%s: %s got HTTP 401%s; fetching a new token and repeating it once", self.retailer,
                     shown, error_text(reply.content))
            reply = self.transport.request(self.method, url, headers=self._headers(data), body=data, shown=shown)
        self._check_status(reply)
        if self.landing is not None:
            self.landing(self.method, url, data, reply)
        version = reply.headers.get(self.version_header) if self.version_header else None
        return self.shape.parse(reply.content, shown, version, url, reply.links)

    def _check_status(self, reply: Reply) -> None:
        if 300 <= reply.status < 400:
            location = mask_url(reply.headers.get("Location") or "nowhere")
            raise RetailerApiError(
                f"{self.retailer}: {reply.shown} was redirected (HTTP {reply.status}) to {location}; redirects "
                f"are not followed, so credentials never leave {mask_url(self.base_url)}. If the API moved, "
                f"set base_url in {self.retailer}_api (credentials.yml) to its new address.")
        if reply.status >= 400:
            hint = f" ({self.auth.credentials_hint})" if reply.status in (401, 403) else ""
            raise RetailerApiError(f"{self.retailer}: {reply.shown} was refused with HTTP {reply.status}"
                                   f"{error_text(reply.content)}{hint}")
