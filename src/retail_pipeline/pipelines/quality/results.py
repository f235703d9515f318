"""What every check returns, and the small helpers the check modules share.

A check returns a frame of results with the columns ``RESULT_COLUMNS[2:]`` (``run_id`` and
``run_date`` are stamped by ``assemble_results``): one row per retailer (or ``None``: not about
one retailer) and check, with ``details`` a dict (message, numbers, a sample of offending rows)
stored as JSON in ``dq_check_results``.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Context, Decimal
from typing import Any

import pandas as pd

RESULT_COLUMNS = [
    "run_id", "run_date", "retailer_code", "check_name", "severity",
    "observed", "threshold", "passed", "details",
]
SEVERITIES = ("critical", "warning", "info")

# Sums of money may be far larger than one sale; a wide context keeps quantize from failing.
_WIDE = Context(prec=200)


class DataQualityError(RuntimeError):
    """Raised by the gate when a critical check failed (after results and report are saved)."""


def result(retailer: str | None, check: str, severity: str, observed: Any, threshold: Any,
           passed: bool, **details: Any) -> dict[str, Any]:
    """One result row; refuses an unknown severity (a typo in parameters_quality.yml)."""
    if severity not in SEVERITIES:
        raise ValueError(f"check {check}: severity must be one of {SEVERITIES}, got {severity!r} "
                         "(conf/base/parameters_quality.yml)")
    return {
        "retailer_code": retailer, "check_name": check, "severity": severity,
        "observed": num(observed), "threshold": num(threshold), "passed": bool(passed),
        "details": jsonable(details),
    }


def num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if math.isnan(number) else number


def jsonable(value: Any) -> Any:
    """Plain JSON types only (Decimal, dates, numpy scalars, NaN become str/float/None)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, int):
        # JSON readers hold numbers as doubles: an integer beyond 2**53 (a checksum) stays exact as text.
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if hasattr(value, "item"):  # numpy scalar
        return jsonable(value.item())
    if pd.isna(value):
        return None
    return str(value)


def records(frame: pd.DataFrame | None, columns: list[str] | None = None) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    part = frame[[c for c in (columns or frame.columns) if c in frame.columns]]
    return [jsonable(dict(zip(part.columns, row))) for row in part.itertuples(index=False, name=None)]


def money(value: Any) -> Decimal:
    """A money value to the cent (None/NaN -> 0), whatever its size."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Decimal("0")
    return Decimal(str(value)).quantize(Decimal("0.01"), context=_WIDE)


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=RESULT_COLUMNS[2:])


def check_cfg(params: dict[str, Any], name: str) -> dict[str, Any]:
    try:
        return params["checks"][name]
    except KeyError:
        raise KeyError(f"parameters_quality.yml has no quality.checks.{name} section") from None


def retailers(manifests: dict[str, Any], *frames: pd.DataFrame | None) -> list[str]:
    """The retailers expected in this run: those the pipeline ingests (its manifests), plus any
    the warehouse knows."""
    codes = set(manifests)
    for part in frames:
        if part is not None and "retailer_code" in part and not part.empty:
            codes |= {c for c in part["retailer_code"].dropna().unique()}
    return sorted(codes)


def of_retailer(part: pd.DataFrame, code: str) -> pd.DataFrame:
    """The rows of `part` about retailer `code` (an empty frame stays empty)."""
    if part is None or part.empty or "retailer_code" not in part:
        return part if part is not None else pd.DataFrame()
    return part[part["retailer_code"] == code]


def days_text(days: list[str], limit: int = 8) -> str:
    """'2024-01-12, 2024-01-13' (at most `limit`, then '... and N more')."""
    shown = ", ".join(days[:limit])
    return shown + (f" and {len(days) - limit} more" if len(days) > limit else "")
