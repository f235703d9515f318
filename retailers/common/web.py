"""What every retailer API has in common: health, JSON errors, fault knobs, key comparison.

Each retailer's own app.py adds its endpoint, auth header, request shape, envelope and types.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from retailers.common.db import DatabaseUnavailable, Pool
from retailers.common.faults import FaultMiddleware, admin_blueprint, from_env

log = logging.getLogger("retailers.api")

MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 1000
DATA_VERSION_HEADER = "X-Data-Version"


class BadRequest(ValueError):
    """A client error whose message is safe to return in a 400 body."""


def keys_match(presented: str | None, expected: str) -> bool:
    """Constant-time comparison, so response timing does not leak how much of a key matched."""
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def unauthorized(message: str) -> tuple[Response, int]:
    return jsonify(error="unauthorized", message=message), 401


def json_text(body: str, status: int = 200, data_version: int | None = None) -> Response:
    """A response from JSON text PostgreSQL already built: no parse/serialise round trip here.

    `data_version`: the table's data version read in the same statement as the records
    (retailers/README.md, extension), served as the `X-Data-Version` header when known.
    """
    headers = {DATA_VERSION_HEADER: str(data_version)} if data_version is not None else None
    return Response(body, status=status, mimetype="application/json", headers=headers)


def parse_day(value: Any, name: str) -> dt.date:
    if value is None or value == "":
        raise BadRequest(f"{name} is required, as YYYY-MM-DD")
    try:
        # len check: fromisoformat would also take 20240115 or 2024-W03-1
        if isinstance(value, str) and len(value) == 10:
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise BadRequest(f"{name} must be a date as YYYY-MM-DD, got {str(value)[:40]!r}")


def parse_window(start: Any, end: Any, start_name: str, end_name: str) -> tuple[dt.date, dt.date]:
    """Inclusive date window -> [start, end + 1 day) bounds on the timestamp column."""
    first, last = parse_day(start, start_name), parse_day(end, end_name)
    if first > last:
        raise BadRequest(f"{start_name} ({first}) is after {end_name} ({last})")
    return first, last + dt.timedelta(days=1)


def parse_int(value: Any, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, (bool, float)) or not str(value).lstrip("-").isdigit():
        raise BadRequest(f"{name} must be an integer")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise BadRequest(f"{name} must be {bound}, got {number}")
    return number


def base_app(code: str, database_url: str, pool_size: int | None = None) -> Flask:
    """A Flask app with /health, /_admin/faults, JSON errors and the fault middleware.

    The pool is at `app.extensions["pool"]`; views raise BadRequest for 400s and let
    DatabaseUnavailable surface as 503.
    """
    app = Flask(f"retailers.{code}")
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    pool = Pool(database_url, maxconn=pool_size or int(os.environ.get("RETAILER_THREADS", "8")))
    faults = from_env(os.environ.get("RETAILER_FAULTS"))
    app.extensions["pool"] = pool
    app.extensions["faults"] = faults
    app.register_blueprint(admin_blueprint(faults))

    @app.get("/health")
    def health():
        if pool.ping():
            return jsonify(status="healthy", retailer=code)
        return jsonify(status="unhealthy", retailer=code, error="database unreachable"), 503

    @app.errorhandler(BadRequest)
    def bad_request(exc):
        return jsonify(error="bad request", message=str(exc)), 400

    @app.errorhandler(DatabaseUnavailable)
    def unavailable(exc):
        log.warning("database unavailable: %s", exc)
        return jsonify(error="service unavailable", message="database unreachable, retry later"), 503

    @app.errorhandler(HTTPException)
    def http_error(exc):
        return jsonify(error=exc.name.lower(), message=exc.description), exc.code

    @app.errorhandler(Exception)
    def internal_error(exc):
        # Logged with the trace for us; the client only learns that it failed.
        log.exception("unhandled error")
        return jsonify(error="internal server error"), 500

    app.wsgi_app = FaultMiddleware(app.wsgi_app, faults)
    return app
