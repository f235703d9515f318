"""What the warehouse load reads of the retailer registry (conf/base/retailers.yml, passed as
`params:retailers`): each retailer's fixed `retailer_id` and `name` (dim_retailer), and its
`timezone` (a sale's business day is its local date there, as ingestion dated it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def checked_registry(retailers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The registry, refused before any row when an entry lacks what the warehouse needs."""
    if not isinstance(retailers, dict) or not retailers:
        raise ValueError("params:retailers must be the retailer registry (conf/base/retailers.yml), "
                         f"got {type(retailers).__name__}")
    for code, entry in retailers.items():
        missing = [key for key in ("retailer_id", "name") if not isinstance(entry, dict) or entry.get(key) is None]
        if missing:
            raise ValueError(f"retailer {code} has no {' or '.join(missing)} in conf/base/retailers.yml")
    return retailers


def dim_retailer_frame(retailers: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """dim_retailer: one row per registry entry (code, fixed surrogate key, display name)."""
    return pd.DataFrame({
        "retailer_id": pd.Series([int(r["retailer_id"]) for r in retailers.values()], dtype="int64"),
        "retailer_code": pd.Series(list(retailers), dtype="str"),
        "retailer_name": pd.Series([str(r["name"]) for r in retailers.values()], dtype="str"),
    })


def local_days(ts: pd.Series, codes: pd.Series, retailers: dict[str, dict[str, Any]]) -> pd.Series:
    """Each UTC instant's date (midnight, naive) in its retailer's time zone; NaT for a code the
    registry does not know. One conversion per time zone, not per row."""
    days = pd.Series(pd.NaT, index=ts.index, dtype="datetime64[us]")
    code_at, known = pd.factorize(codes)  # a chunk is one retailer's, as a rule: zones per distinct code
    zones = pd.Series([(retailers[c].get("timezone") or "UTC") if c in retailers else None for c in known],
                      dtype="object")
    zone_at = zones.to_numpy()[code_at] if len(zones) else np.array([None] * len(ts))
    zone_at[code_at < 0] = None
    for tz in zones.dropna().unique():
        mine = zone_at == tz
        local = ts[mine].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize().astype("datetime64[us]")
        days = local if mine.all() else days.mask(mine, local)
    return days
