"""Checks on what the warehouse loads did, from their own records.

* `facts_disappeared` / `facts_moved` / `facts_quarantined`: the rows of fact_sales_changes
  written by the latest load of each window day (sql/quality/fact_changes.sql): facts a load
  removed because the source no longer serves them, moved to the day the source now gives, or
  replaced by a new version the warehouse quarantined. Disappearances warn by default (a purge
  or a replica missing a day must not pass in silence); the others are listed as info.
* `load_volume_drop`: a window day whose latest load has far fewer facts than the previous load
  of the same day (load_audit, sql/quality/load_history.sql).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pandas as pd

from .results import check_cfg, days_text, frame, money, of_retailer, result, retailers

# change_kind of fact_sales_changes -> (check name, what happened to the facts, when none did)
CHANGE_KINDS = {
    "disappeared": ("facts_disappeared", "disappeared from the source since the last load (the load removed them)",
                    "no fact disappeared from the source since the last load"),
    "moved": ("facts_moved", "moved to the day the source now gives", "no fact moved to another day"),
    "quarantined": ("facts_quarantined", "were replaced by a new version that the warehouse quarantined",
                    "no fact was replaced by a quarantined version"),
}


def _sample(rows: pd.DataFrame, limit: int) -> list[dict[str, Any]]:
    sample: list[dict[str, Any]] = []
    for text in rows["sample"]:
        sample += json.loads(text) if isinstance(text, str) else list(text or [])
    return sample[:limit]


def _changes_result(code: str, kind: str, rows: pd.DataFrame, cfg: dict[str, Any],
                    sample_size: int) -> dict[str, Any]:
    name, what, none = CHANGE_KINDS[kind]
    count = int(rows["changes"].sum()) if not rows.empty else 0
    amount = sum((money(v) for v in rows["total_amount"]), Decimal("0")) if not rows.empty else Decimal("0")
    limit = cfg.get("max_facts")
    passed = limit is None or count <= int(limit)
    days = [{"from_date": str(r.from_date)[:10], "facts": int(r.changes), "total_amount": money(r.total_amount),
             "quantity": int(r.quantity or 0), "run_ids": r.run_ids,
             **({"to_dates": r.to_dates} if kind == "moved" else {})}
            for r in rows.itertuples()] if not rows.empty else []
    if not count:
        message = f"{code}: {none} (latest loads of the window days)"
    else:
        per_day = ", ".join(f"{d['from_date']} ({d['facts']:,} facts, {d['total_amount']:,})" for d in days[:8])
        message = (f"{count:,} facts of {code} ({amount:,}) {what}: {per_day}"
                   + (f" and {len(days) - 8} more days" if len(days) > 8 else ""))
    return result(code, name, cfg["severity"], count, limit, passed, message=message,
                  facts=count, total_amount=amount, days=days,
                  sample=_sample(rows, sample_size) if not rows.empty else [])


def check_fact_changes(changes: pd.DataFrame, manifests: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """`facts_disappeared`, `facts_moved` and `facts_quarantined` per retailer, with counts, money,
    days (the day each fact left) and a sample."""
    sample_size = int(params.get("sample_size", 10))
    configs = {kind: check_cfg(params, name) for kind, (name, *_) in CHANGE_KINDS.items()}
    out = []
    for code in retailers(manifests, changes):
        mine = of_retailer(changes, code)
        for kind, cfg in configs.items():
            rows = mine[mine["change_kind"] == kind] if not mine.empty else mine
            out.append(_changes_result(code, kind, rows, cfg, sample_size))
    return frame(out)


def check_load_volume_drop(history: pd.DataFrame, manifests: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """Per retailer: window days whose latest load has more than `max_drop` fewer facts than the
    previous load of the same day (a day loaded once, or previously empty, cannot drop)."""
    cfg = check_cfg(params, "load_volume_drop")
    max_drop = float(cfg.get("max_drop", 0.5))
    out = []
    for code in retailers(manifests, history):
        mine = of_retailer(history, code)
        days, dropped = [], []
        for r in (mine.itertuples() if not mine.empty else []):
            previous = None if pd.isna(r.previous_rows_loaded) else int(r.previous_rows_loaded)
            latest = int(r.rows_loaded)
            drop = (previous - latest) / previous if previous else None
            day = {"sale_date": str(r.sale_date)[:10], "rows_loaded": latest, "run_id": r.run_id,
                   "loaded_at": r.loaded_at, "previous_rows_loaded": previous,
                   "previous_run_id": r.previous_run_id, "previous_loaded_at": r.previous_loaded_at,
                   "drop": None if drop is None else round(drop, 4)}
            days.append(day)
            if drop is not None and drop > max_drop:
                dropped.append(day)
        worst = max((d["drop"] for d in days if d["drop"] is not None), default=0.0)
        if dropped:
            message = (f"{code}: the latest load of " + days_text(
                [f"{d['sale_date']} ({d['previous_rows_loaded']:,} -> {d['rows_loaded']:,} facts, "
                 f"-{d['drop']:.0%})" for d in dropped])
                + f" dropped more than {max_drop:.0%} against the previous load of the same day")
        else:
            message = (f"no window day of {code} dropped more than {max_drop:.0%} against its previous load"
                       f" (largest drop {max(worst, 0):.0%})")
        out.append(result(code, "load_volume_drop", cfg["severity"], round(max(worst, 0.0), 4), max_drop,
                          not dropped, message=message, days=days, sample=dropped))
    return frame(out)
