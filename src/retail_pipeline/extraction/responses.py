"""What a retailer's data response must look like; anything else fails at once, naming the
retailer and the request (a malformed response will not heal by retrying)."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from typing import Any, NoReturn

import orjson
import requests

from retail_pipeline.extraction.errors import RetailerApiError

# Keys the client adds to a parsed body (never a retailer's own field names).
REQUEST = "__request__"    # the request as shown in errors, e.g. "GET http://.../sales?..."
VERSION = "__version__"    # the data version header's value, or None


class ResponseShape:
    """Checks one response body: JSON object, records list under `records_key`, `count`
    matching, the paging fields of the style present; typed access to paging fields."""

    def __init__(self, retailer: str, url: str, records_key: str, count_field: str | None,
                 paging: dict[str, Any]) -> None:
        self.retailer, self.url = retailer, url
        self.records_key, self.count_field = records_key, count_field
        style = paging["style"]
        if style == "page":
            required = [paging["total_field"], paging["total_pages_field"]]
        else:
            required = [paging["next_field"], paging.get("total_field")]
        self.style = style
        self.required = [name for name in required if name]

    def malformed(self, problem: str, request: str | dict) -> NoReturn:
        where = request if isinstance(request, str) else request.get(REQUEST, self.url)
        raise RetailerApiError(f"{self.retailer}: malformed response from {where}: {problem}")

    def parse(self, content: bytes, request: str, version: str | None = None) -> dict:
        """The body as a dict, checked; REQUEST and VERSION added."""
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            self.malformed(f"not JSON ({exc}); first bytes: {content[:80]!r}", request)
        if not isinstance(body, dict):
            self.malformed(f"expected a JSON object envelope, got {type(body).__name__}", request)
        records = body.get(self.records_key)
        if not isinstance(records, list):
            self.malformed(
                f"no list under {self.records_key!r} (keys: {', '.join(map(str, body)) or 'none'})", request)
        if records and not all(isinstance(r, dict) for r in records):
            self.malformed(f"{self.records_key!r} holds something other than JSON objects", request)
        if self.count_field:
            count = body.get(self.count_field)
            if not isinstance(count, int) or count != len(records):
                self.malformed(f"{self.count_field!r} is {count!r} but {len(records)} records came", request)
        missing = [name for name in self.required if name not in body]
        if missing:
            self.malformed(f"paging field(s) {', '.join(missing)} missing ({self.style} paging)", request)
        body[REQUEST] = request
        body[VERSION] = version
        return body

    def int_field(self, body: dict, name: str) -> int:
        value = body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.malformed(f"{name!r} should be a non-negative integer, got {value!r}", body)
        return value

    def next(self, body: dict, name: str, kind: type) -> Any:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, kind) or isinstance(value, bool):
            self.malformed(f"{name!r} should be {kind.__name__} or null, got {value!r}", body)
        return value


def error_text(response: requests.Response) -> str:
    """' (message)' from a JSON error body, for error messages; '' when there is none."""
    try:
        payload = orjson.loads(response.content)
        text = payload.get("message") or payload.get("error") if isinstance(payload, dict) else None
    except orjson.JSONDecodeError:
        text = None
    return f" ({str(text)[:200]})" if text else ""


def retry_after(response: requests.Response, cap: float) -> float | None:
    """Seconds the server asked us to wait (Retry-After: seconds or an HTTP date), capped."""
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
    return max(0.0, min(seconds, cap))
