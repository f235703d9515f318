"""The sale rules, stated once.

Every stage applies these same bounds: ingestion (`CanonicalSale`), staging
(`StagedSaleModel`), the warehouse's CHECK constraints (rendered into the `{{name}}`
placeholders of sql/warehouse/*.sql by the migrations) and the quality SQL (bind parameters
of the same names). A value outside them is quarantined at ingestion with a reason, so nothing
later can refuse a row that ingestion accepted.

Every bound fits the warehouse column that stores it (fact_sales: unit_price numeric(12,2),
total_amount numeric(14,2), tax_amount and shipping_cost numeric(12,2), discount_percentage
numeric(5,2), quantity integer). Sums are made safe by the marts and quality queries adding
`numeric` without a precision limit; per-row money stays at or below 1e10, so float64 holds any
row to the cent. Bounds are inclusive: `0 < unit_price <= MAX_UNIT_PRICE`.
"""

from __future__ import annotations

import numpy as np

MONEY_SCALE = 2                    # decimals; money with more is quarantined, never rounded
MAX_QUANTITY = 10_000              # units in one sale line, > 0
MAX_UNIT_PRICE = 1_000_000         # per unit, > 0
MAX_TOTAL_AMOUNT = MAX_QUANTITY * MAX_UNIT_PRICE   # = quantity x unit_price, > 0 (1e10)
MAX_EXTRA_AMOUNT = 1_000_000_000   # tax_amount, shipping_cost of one line: 0 .. this
MAX_DISCOUNT_PERCENTAGE = 100      # 0 .. 100
MAX_TEXT = 255                     # product name, category
MAX_ID_LENGTH = 64                 # transaction, product, customer and store ids
TOTAL_TOLERANCE = 0.01             # total_amount = quantity x unit_price within a cent

SALE_RULES: dict[str, int | float] = {
    "money_scale": MONEY_SCALE,
    "max_quantity": MAX_QUANTITY,
    "max_unit_price": MAX_UNIT_PRICE,
    "max_total_amount": MAX_TOTAL_AMOUNT,
    "max_extra_amount": MAX_EXTRA_AMOUNT,
    "max_discount_percentage": MAX_DISCOUNT_PERCENTAGE,
    "max_text": MAX_TEXT,
    "max_id_length": MAX_ID_LENGTH,
    "total_tolerance": TOTAL_TOLERANCE,
}


def fits_money_scale(values) -> np.ndarray:
    """True where a float64 amount is exactly a number of cents (at most MONEY_SCALE decimals).

    A float parsed from "12.34" is the double nearest to 1234/100, which `rint(v*100)/100`
    reproduces exactly; one parsed from "12.345" is not. NaN counts as fitting (missing is a
    rule of its own), and so do values too large for cents to be told apart (>= 1e13): they
    are far beyond every bound above, which reports them.
    """
    v = np.asarray(values, dtype="float64")
    factor = 10.0 ** MONEY_SCALE
    with np.errstate(invalid="ignore", over="ignore"):
        return ~np.isfinite(v) | (np.abs(v) >= 1e13) | (np.rint(v * factor) / factor == v)
