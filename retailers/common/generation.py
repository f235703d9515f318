"""What the generators of every style share: the bad kinds, the shape of a day, seeding.

The row generator (retailers/generator_rows.py, styles 1-3) and the order generator
(retailers/generator_orders.py, style 4) draw from one numpy Generator seeded by
(seed, style number, day[, instance code]), in a fixed order, so the same arguments always give
the same data.
"""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np

from retailers.common.registry import RetailerSpec

COMMON_BAD_KINDS = ["missing_sku", "bad_quantity", "total_mismatch", "duplicate_id",
                    "future_date", "overlong_text", "sql_text"]
# Extra kinds of a style, beside the common ones: where its money allows the defect.
STYLE_BAD_KINDS = {"retailer_2": ["unparseable_money"], "retailer_4": ["fractional_cents"]}

# Shoppers come mostly between 8:00 and 21:00 (UTC for styles 1-3, local time for style 4).
_HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 20, 22, 26, 24, 20, 19, 21, 24, 25, 20, 14, 8, 4, 2], float)
HOUR_WEIGHTS = _HOURS / _HOURS.sum()
TIE_FRACTION = 0.10
OVERLONG_FILLER = " – édition spéciale, très longue description du produit ✓ «Qualité supérieure» " * 5
SQL_PAYLOAD = "'; DROP TABLE {table}; --"


def bad_kinds_of(style: str) -> list[str]:
    return COMMON_BAD_KINDS + STYLE_BAD_KINDS.get(style, [])


def as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def day_rng(seed: int, s: RetailerSpec, day: dt.date, code: str | None = None) -> np.random.Generator:
    """The day's Generator. An instance under another code than its style's gets other data
    (its code is mixed in), so two instances of one style do not serve the same sales."""
    key = [int(seed), s.number, day.toordinal()]
    if code is not None and code != s.code:
        key.append(zlib.crc32(code.encode()))
    return np.random.default_rng(key)


def pick_kinds(rng: np.random.Generator, n: int, kinds: list[str], bad_fraction: float) -> np.ndarray:
    """Kind index per row (-1 = good); kinds rotate so each appears when n_bad >= kinds."""
    kind = np.full(n, -1, dtype=np.int64)
    n_bad = min(n, int(round(n * bad_fraction)))
    bad_rows = rng.permutation(n)[:n_bad]
    kind[bad_rows] = np.resize(rng.permutation(len(kinds)), n_bad)
    return kind


def pick_late(rng: np.random.Generator, kind: np.ndarray, late_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(late mask, good rows): late rows are good rows, round(n * late_fraction) of them."""
    n = len(kind)
    good_rows = np.flatnonzero(kind == -1)
    n_late = min(len(good_rows), int(round(n * late_fraction)))
    late = np.zeros(n, dtype=bool)
    late[rng.choice(good_rows, size=n_late, replace=False)] = True
    return late, good_rows


def tie_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds into the day by the hour weights; ~TIE_FRACTION copy another row's second."""
    seconds = rng.choice(24, size=n, p=HOUR_WEIGHTS) * 3600 + rng.integers(0, 3600, size=n)
    ties = rng.random(n) < TIE_FRACTION
    seconds[ties] = seconds[rng.integers(0, n, size=int(ties.sum()))]
    return seconds


def id_format(s: RetailerSpec, day: dt.date, n: int):
    """'PFX-YYYYMMDD-000001'.format; at least 6 digits, more for days of a million rows."""
    width = max(6, len(str(n)))
    return f"{s.id_prefix}-{day:%Y%m%d}-{{:0{width}d}}".format
