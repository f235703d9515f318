"""Retailer 4 API: OAuth2 client credentials, `GET /v2/orders?since=&until=`, RFC 8288 Link paging.

The modern one, unlike the other three on every axis: a bearer token from `POST /oauth/token`
that expires; the next page is an absolute URL in a `Link: <...>; rel="next"` header (keyset,
page size chosen by the server); one record is an order with its lines nested; money in integer
cents; `placed_at` in the stores' local time (Europe/Paris) with its UTC offset; since/until
are local days. PostgreSQL builds the page's JSON (orders_page.sql); Python only wraps it.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from pathlib import Path
from urllib.parse import urlencode

import psycopg2.errors
from flask import Flask, Response, jsonify, request

from retailers.common.registry import spec
from retailers.common.web import BadRequest, base_app, json_text, parse_window
from retailers.retailer_4.tokens import DEFAULT_TTL, ClientError, TokenIssuer

log = logging.getLogger(__name__)

CODE = "retailer_4"
DEFAULT_PAGE_SIZE = 500
CURSOR_VERSION = "o1"
PAGE_SQL = (Path(__file__).parent / "orders_page.sql").read_text()
# The data version, read in the same statement as the page: the X-Data-Version header
# (NULL, and no header, when the version table is missing).
VERSION_SQL = "(SELECT version FROM orders_version)"


def encode_cursor(ts: str, order_ref: str) -> str:
    raw = f"{CURSOR_VERSION}|{ts}|{order_ref}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """(placed_at as UTC text, order_ref) of the last order already served; 400 on anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, ts, order_ref = raw.split("|", 2)
        if version != CURSOR_VERSION:
            raise ValueError
        dt.datetime.fromisoformat(ts)
        return ts, order_ref
    except ValueError:
        raise BadRequest("cursor is not one this API returned; start again from the first page") from None


def invalid_token(description: str) -> Response:
    """RFC 6750 3.1: 401 with `WWW-Authenticate: Bearer error="invalid_token"`."""
    response = jsonify(error="invalid_token", error_description=description)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def create_app(database_url: str, client_id: str, client_secret: str, code: str = CODE,
               token_ttl: int = DEFAULT_TTL, page_size: int = DEFAULT_PAGE_SIZE) -> Flask:
    """The app serving this style as retailer `code`, with its OAuth2 client and its settings."""
    if page_size < 1:
        raise ValueError(f"page size must be >= 1, got {page_size}")
    app = base_app(code, database_url)
    pool = app.extensions["pool"]
    issuer = TokenIssuer(client_id, client_secret, token_ttl, app.extensions["faults"])
    app.extensions["tokens"] = issuer
    timezone = spec(CODE).timezone

    @app.post("/oauth/token")
    def token():
        try:
            issuer.authenticate(request)
            grant = request.form.get("grant_type")
            if grant is None:
                raise ClientError("invalid_request", "grant_type is required (client_credentials)")
            if grant != "client_credentials":
                raise ClientError("unsupported_grant_type", "only grant_type=client_credentials is supported")
        except ClientError as exc:
            response = jsonify(error=exc.error, error_description=exc.description)
            response.status_code = exc.status
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = f'Basic realm="{code}"'
        else:
            access_token, ttl = issuer.issue()
            response = jsonify(access_token=access_token, token_type="Bearer", expires_in=ttl)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response

    @app.get("/v2/orders")
    def orders():
        scheme, _, presented = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return invalid_token("missing header: Authorization: Bearer <access token from POST /oauth/token>")
        if not issuer.valid(presented.strip()):
            return invalid_token("the access token is expired or unknown; get a new one from POST /oauth/token")

        args = request.args
        lo, hi = parse_window(args.get("since"), args.get("until"), "since", "until")
        params = {"lo": lo, "hi": hi, "tz": timezone, "limit": page_size, "after_ts": None, "after_ref": None}
        if args.get("cursor") is not None:
            params["after_ts"], params["after_ref"] = decode_cursor(args["cursor"])

        with pool.cursor() as cur:
            try:
                cur.execute(PAGE_SQL.replace("{version}", VERSION_SQL), params)
            except psycopg2.errors.UndefinedTable:
                log.warning("no data version table (schema not re-applied?): no X-Data-Version")
                cur.execute(PAGE_SQL.replace("{version}", "NULL::bigint"), params)
            version, more, _count, data, last_ts, last_ref = cur.fetchone()
        response = json_text(f'{{"orders":{data}}}', data_version=version)
        if more:
            query = urlencode({"since": args["since"], "until": args["until"],
                               "cursor": encode_cursor(last_ts, last_ref)})
            # Absolute, on the host the client asked (RFC 8288; the Host header it sent).
            response.headers["Link"] = f'<{request.host_url}v2/orders?{query}>; rel="next"'
        return response

    return app
