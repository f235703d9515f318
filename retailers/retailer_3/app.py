"""Retailer 3 API: `POST /sales/query` with a JSON body, `apikey` header, cursor paging.

`timestamp` as Unix epoch milliseconds (UTC), money as JSON numbers. The cursor is an opaque
keyset position (last timestamp and sale_id of the page), so paging is exact and cheap at any
depth. PostgreSQL builds the page's JSON; Python only wraps the envelope. The table's data
version, read in the page's own statement, is served as the `X-Data-Version` header.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging

import psycopg2.errors
from flask import Flask, request

from retailers.common.web import (
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, BadRequest, base_app, json_text, keys_match, parse_int,
    parse_window, unauthorized,
)

log = logging.getLogger(__name__)

CODE = "retailer_3"
CURSOR_VERSION = "k1"

PAGE_SQL = """
WITH page AS (
    SELECT p."timestamp", p.sale_id, row_to_json(r)::text AS record
    FROM purchases p, LATERAL (SELECT
        p.sale_id,
        (extract(epoch FROM p."timestamp") * 1000)::bigint AS "timestamp",
        p.buyer_id, p.outlet_id, p.product_code, p.name, p.type, p.count, p.price_per_unit,
        p.revenue, p.shipping_cost, p.warranty_months, p.return_policy_days, p.supplier_id
    ) r
    WHERE p."timestamp" >= %(lo)s AND p."timestamp" < %(hi)s {after}
    ORDER BY p."timestamp", p.sale_id
    LIMIT %(limit)s + 1
), numbered AS (
    SELECT *, row_number() OVER (ORDER BY "timestamp", sale_id) AS rn FROM page
)
SELECT
    {version},
    count(*) FILTER (WHERE rn <= %(limit)s),
    coalesce(bool_or(rn > %(limit)s), false),
    '[' || coalesce(string_agg(record, ',' ORDER BY rn) FILTER (WHERE rn <= %(limit)s), '') || ']',
    to_char(max("timestamp") FILTER (WHERE rn = %(limit)s), 'YYYY-MM-DD"T"HH24:MI:SS.US'),
    max(sale_id) FILTER (WHERE rn = %(limit)s)
FROM numbered
"""
AFTER = 'AND (p."timestamp", p.sale_id) > (%(after_ts)s::timestamp, %(after_id)s)'
# The data version, read in the same statement as the page: the X-Data-Version header
# (NULL, and no header, when the version table is missing).
VERSION_SQL = "(SELECT version FROM purchases_version)"


def encode_cursor(ts: str, sale_id: str) -> str:
    raw = f"{CURSOR_VERSION}|{ts}|{sale_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: object) -> tuple[str, str]:
    """(timestamp, sale_id) of the last row already returned; 400 on anything else."""
    try:
        if not isinstance(cursor, str):
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, ts, sale_id = raw.split("|", 2)
        if version != CURSOR_VERSION:
            raise ValueError
        dt.datetime.fromisoformat(ts)
        return ts, sale_id
    except ValueError:
        raise BadRequest("cursor is not one this API returned; start again without a cursor") from None


def create_app(database_url: str, api_key: str, code: str = CODE) -> Flask:
    """The app serving this style as retailer `code` (the envelope's and /health's "retailer")."""
    app = base_app(code, database_url)
    pool = app.extensions["pool"]

    @app.post("/sales/query")
    def query():
        presented = request.headers.get("apikey")
        if not presented:
            return unauthorized("missing header: apikey: <api key>")
        if not keys_match(presented, api_key):
            return unauthorized("invalid API key")

        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadRequest('body must be a JSON object like {"dateFrom": "YYYY-MM-DD", "dateTo": "YYYY-MM-DD"}')
        lo, hi = parse_window(body.get("dateFrom"), body.get("dateTo"), "dateFrom", "dateTo")
        limit = parse_int(body.get("limit"), "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        params = {"lo": lo, "hi": hi, "limit": limit}
        after = ""
        if body.get("cursor") is not None:
            params["after_ts"], params["after_id"] = decode_cursor(body["cursor"])
            after = AFTER

        with pool.cursor() as cur:
            try:
                cur.execute(PAGE_SQL.format(after=after, version=VERSION_SQL), params)
            except psycopg2.errors.UndefinedTable:
                log.warning("no data version table (schema not re-applied?): no X-Data-Version")
                cur.execute(PAGE_SQL.format(after=after, version="NULL::bigint"), params)
            version, count, more, data, last_ts, last_id = cur.fetchone()
        next_cursor = f'"{encode_cursor(last_ts, last_id)}"' if more else "null"
        return json_text(
            f'{{"results":{data},"count":{count},"retailer":"{code}","next_cursor":{next_cursor}}}',
            data_version=version,
        )

    return app
