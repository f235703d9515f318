"""Retailer 2 API: `GET /transactions?from=&to=`, X-API-Key auth, offset/limit paging.

Money as strings exactly as stored (the column is text at source), `date` as
'YYYY-MM-DD HH:MM:SS'. PostgreSQL builds the page's JSON; Python only wraps the envelope.
"""

from __future__ import annotations

from flask import Flask, request

from retailers.common.paging import OffsetPager
from retailers.common.web import (
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, base_app, json_text, keys_match, parse_int, parse_window,
    unauthorized,
)

CODE = "retailer_2"

RECORD_SQL = """
    SELECT t."date", t.transaction_number, row_to_json(r)::text AS record
    FROM transactions t, LATERAL (SELECT
        t.transaction_number,
        to_char(t."date", 'YYYY-MM-DD HH24:MI:SS') AS "date",
        t.member_id, t.location_id, t.item_code, t.item_name, t.department, t.qty,
        t.unit_cost, t.amount, t.tax_amount, t.loyalty_points_earned, t.promotion_code,
        t.sales_rep_id
    ) r
    WHERE t."date" >= %(lo)s AND t."date" < %(hi)s"""

# Same as retailer 1 (retailers.common.paging): per data version and window, the total and the
# key of every 1000th row; a page starts at the nearest bookmark and is read by keyset.
INDEX_SQL = """
SELECT (SELECT version FROM transactions_version), count(*),
       array_agg("date" ORDER BY rn) FILTER (WHERE (rn - 1) %% %(every)s = 0),
       array_agg(transaction_number ORDER BY rn) FILTER (WHERE (rn - 1) %% %(every)s = 0)
FROM (SELECT "date", transaction_number, row_number() OVER (ORDER BY "date", transaction_number) AS rn
      FROM transactions WHERE "date" >= %(lo)s AND "date" < %(hi)s) s
"""

PAGE_SQL = """
WITH first_key AS (
    SELECT "date", transaction_number FROM transactions
    WHERE "date" >= %(lo)s AND "date" < %(hi)s
      AND ("date", transaction_number) >= (%(ts)s::timestamp, %(id)s::text)
    ORDER BY "date", transaction_number
    OFFSET %(skip)s LIMIT 1
), page AS (""" + RECORD_SQL + """
      AND (t."date", t.transaction_number) >= ((SELECT "date" FROM first_key), (SELECT transaction_number FROM first_key))
    ORDER BY t."date", t.transaction_number
    LIMIT %(limit)s
)
SELECT
    (SELECT version FROM transactions_version),
    count(*),
    '[' || coalesce(string_agg(record, ',' ORDER BY "date", transaction_number), '') || ']'
FROM page
"""

# The reference (offset from the start of the window, window counted per request); fallback and tests.
PLAIN_SQL = """
WITH first_key AS (
    SELECT "date", transaction_number FROM transactions
    WHERE "date" >= %(lo)s AND "date" < %(hi)s
    ORDER BY "date", transaction_number
    OFFSET %(offset)s LIMIT 1
), page AS (""" + RECORD_SQL + """
      AND (t."date", t.transaction_number) >= ((SELECT "date" FROM first_key), (SELECT transaction_number FROM first_key))
    ORDER BY t."date", t.transaction_number
    LIMIT %(limit)s
)
SELECT
    {version},
    (SELECT count(*) FROM transactions WHERE "date" >= %(lo)s AND "date" < %(hi)s),
    count(*),
    '[' || coalesce(string_agg(record, ',' ORDER BY "date", transaction_number), '') || ']'
FROM page
"""

# The data version, read in the same statement as the page: the X-Data-Version header
# (PAGE_SQL has it inline; PLAIN_SQL's `{version}` is this, or NULL without the version table).
VERSION_SQL = "(SELECT version FROM transactions_version)"


def envelope(offset: int, total: int, count: int, data: str, code: str = CODE) -> str:
    next_offset = offset + count if offset + count < total else None
    return (f'{{"transactions":{data},"count":{count},"retailer":"{code}",'
            f'"next_offset":{"null" if next_offset is None else next_offset},"total":{total}}}')


def create_app(database_url: str, api_key: str, code: str = CODE) -> Flask:
    """The app serving this style as retailer `code` (the envelope's and /health's "retailer")."""
    app = base_app(code, database_url)
    pager = OffsetPager(app.extensions["pool"], INDEX_SQL, PAGE_SQL, PLAIN_SQL, VERSION_SQL)
    app.extensions["pager"] = pager

    @app.get("/transactions")
    def transactions():
        presented = request.headers.get("X-API-Key")
        if not presented:
            return unauthorized("missing header: X-API-Key: <api key>")
        if not keys_match(presented, api_key):
            return unauthorized("invalid API key")

        args = request.args
        lo, hi = parse_window(args.get("from"), args.get("to"), "from", "to")
        offset = parse_int(args.get("offset"), "offset", 0, 0, 10**15)
        limit = parse_int(args.get("limit"), "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)

        version, total, count, data = pager.page(lo, hi, offset, limit)
        return json_text(envelope(offset, total, count, data, code), data_version=version)

    return app
