"""Fault knobs for reliability tests: 500s, 429 + Retry-After, latency, cut connections.

Set at start from the env var RETAILER_FAULTS (JSON) or at run time through
`POST /_admin/faults` (loopback only). Counted knobs (`fail_500`, `fail_429`, `cut`) apply to the
next N data requests; `latency_ms` delays every data request until cleared, or only the next
`slow` requests when `slow` is given. /health and /_admin are never faulted, so a test can always
see and reset the state; every other request (retailer 4's token endpoint too) is.
`token_ttl` (seconds; null = the app's own) is the lifetime of the tokens an OAuth2 app issues
from now on (retailer 4), so a test can make tokens expire during an extraction.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from typing import Any, Callable, Iterable

from flask import Blueprint, jsonify, request

COUNTED = ("fail_500", "fail_429", "cut", "slow")
NULLABLE = ("slow", "token_ttl")
EXEMPT_PREFIXES = ("/health", "/_admin/")


class Faults:
    """Thread-safe knob state plus counters of requests seen and faults injected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.injected = {"fail_500": 0, "fail_429": 0, "cut": 0, "slow": 0}
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.knobs: dict[str, Any] = {
                "fail_500": 0, "fail_429": 0, "retry_after": 1, "latency_ms": 0, "cut": 0, "slow": None,
                "token_ttl": None,
            }

    def update(self, values: dict[str, Any]) -> None:
        """Validate and merge knob values; raises ValueError with a readable message."""
        unknown = set(values) - set(self.knobs)
        if unknown:
            raise ValueError(f"unknown fault knobs: {', '.join(sorted(unknown))}; known: {', '.join(self.knobs)}")
        clean = {}
        for key, value in values.items():
            if key in NULLABLE and value is None:
                clean[key] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"fault knob {key!r} must be a non-negative number")
            clean[key] = int(value)
        with self._lock:
            self.knobs.update(clean)

    def knob(self, name: str) -> Any:
        with self._lock:
            return self.knobs[name]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"knobs": dict(self.knobs), "requests": self.requests, "injected": dict(self.injected)}

    def draw(self) -> dict[str, Any]:
        """Count one data request and decide (atomically) which faults it gets."""
        with self._lock:
            self.requests += 1
            k = self.knobs
            decision: dict[str, Any] = {"fail": None, "latency_ms": 0, "cut": False}
            if k["fail_500"] > 0:
                k["fail_500"] -= 1
                decision["fail"] = 500
            elif k["fail_429"] > 0:
                k["fail_429"] -= 1
                decision["fail"] = 429
            if k["latency_ms"] and (k["slow"] is None or k["slow"] > 0):
                decision["latency_ms"] = k["latency_ms"]
                if k["slow"] is not None:
                    k["slow"] -= 1
                self.injected["slow"] += 1
            if decision["fail"] is None and k["cut"] > 0:
                k["cut"] -= 1
                decision["cut"] = True
                self.injected["cut"] += 1
            if decision["fail"]:
                self.injected[f"fail_{decision['fail']}"] += 1
            decision["retry_after"] = k["retry_after"]
            return decision


class FaultMiddleware:
    """WSGI middleware injecting the faults drawn from `Faults` before/around the app."""

    def __init__(self, app: Callable, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(EXEMPT_PREFIXES):
            return self.app(environ, start_response)
        decision = self.faults.draw()
        if decision["latency_ms"]:
            time.sleep(decision["latency_ms"] / 1000)
        if decision["fail"] == 500:
            return _json(start_response, "500 INTERNAL SERVER ERROR",
                         {"error": "internal server error (injected fault)"})
        if decision["fail"] == 429:
            return _json(start_response, "429 TOO MANY REQUESTS",
                         {"error": "too many requests (injected fault)"},
                         [("Retry-After", str(decision["retry_after"]))])
        if decision["cut"]:
            return self._cut(environ, start_response)
        return self.app(environ, start_response)

    def _cut(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Send the real headers (with the full Content-Length) but only half the body.

        waitress then closes the connection because the app returned too few bytes, so the
        client sees an incomplete read, as when a network path drops mid-response.
        """
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body[: max(1, len(body) // 2)]]


def _json(start_response: Callable, status: str, payload: dict, extra: list | None = None) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))), *(extra or [])])
    return [body]


def from_env(raw: str | None) -> Faults:
    """Faults initialised from RETAILER_FAULTS (JSON); a bad value fails the start loudly."""
    faults = Faults()
    if raw:
        try:
            faults.update(json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise SystemExit(f"RETAILER_FAULTS is not valid fault JSON: {exc}") from None
    return faults


def _is_loopback(addr: str | None) -> bool:
    try:
        return ipaddress.ip_address(addr or "").is_loopback
    except ValueError:
        return False


def admin_blueprint(faults: Faults) -> Blueprint:
    """GET/POST/DELETE /_admin/faults, answering only clients on the loopback interface."""
    bp = Blueprint("fault_admin", __name__)

    @bp.before_request
    def loopback_only():
        if not _is_loopback(request.remote_addr):
            return jsonify(error="admin endpoints are only available from loopback"), 403
        return None

    @bp.get("/_admin/faults")
    def show():
        return jsonify(faults.snapshot())

    @bp.post("/_admin/faults")
    def set_faults():
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return jsonify(error="body must be a JSON object of fault knobs"), 400
        try:
            faults.update(payload)
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(faults.snapshot())

    @bp.delete("/_admin/faults")
    def clear():
        faults.clear()
        return jsonify(faults.snapshot())

    return bp
