"""Checks on the warehouse's facts and dimensions, each a pure function of one query's frame.

Volume, completeness, business rules, uniqueness over all of history, fact_sales_id_range
covering the window's facts, referential integrity and freshness. The queries are the SQL
files of sql/quality/ (catalog_quality.yml); thresholds and severities come from
parameters_quality.yml.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd

from retail_pipeline.run_window import parse_run_date

from .results import check_cfg, days_text, frame, num, of_retailer, records, result, retailers


def _date_id_text(value: Any) -> str:
    text = str(value)
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


# -- volume ----------------------------------------------------------------------------------
def check_volume(volume: pd.DataFrame, manifests: dict[str, Any], run_date: str,
                 params: dict[str, Any]) -> pd.DataFrame:
    """Rows loaded per retailer for the run date, and a same-weekday anomaly over trailing weeks.

    A retailer with fewer than `min_rows` fact rows on the run date fails `volume_rows` (critical
    by default) whatever the others loaded. `volume_anomaly` compares the day's rows with the
    median of the same weekday in the previous `weeks` weeks (needs `min_history` of them).
    """
    rows_cfg, anomaly_cfg = check_cfg(params, "volume_rows"), check_cfg(params, "volume_anomaly")
    day = parse_run_date(run_date)
    volume = volume.copy()
    if not volume.empty:
        volume["sale_date"] = pd.to_datetime(volume["sale_date"]).dt.date
        volume["row_count"] = volume["row_count"].astype("int64")
    out = []
    for code in retailers(manifests, volume):
        mine = of_retailer(volume, code)
        by_day = dict(zip(mine["sale_date"], mine["row_count"])) if not mine.empty else {}
        today = int(by_day.get(day, 0))
        min_rows = int(rows_cfg.get("min_rows", 1))
        manifest_rows = None
        for entry in (manifests.get(code) or {}).get("days", []):
            if str(entry.get("sale_date")) == day.isoformat():
                manifest_rows = entry.get("rows_written")
        passed = today >= min_rows
        message = (f"{code} has {today} fact rows for {day}" if passed else
                   f"{code} has no data loaded for {day} ({today} fact rows, at least {min_rows} expected)")
        out.append(result(code, "volume_rows", rows_cfg["severity"], today, min_rows, passed,
                          message=message, raw_rows_written=manifest_rows))

        weeks = int(anomaly_cfg.get("weeks", 4))
        history = [(day - timedelta(weeks=k)) for k in range(1, weeks + 1)]
        points = [int(by_day[d]) for d in history if d in by_day and by_day[d] > 0]
        max_dev = float(anomaly_cfg.get("max_deviation", 0.5))
        if len(points) < int(anomaly_cfg.get("min_history", 2)):
            out.append(result(code, "volume_anomaly", anomaly_cfg["severity"], None, max_dev, True,
                              message=f"not enough history for {code}: {len(points)} of the last "
                                      f"{weeks} {day:%A}s have data; check skipped",
                              rows=today, history={d.isoformat(): int(by_day.get(d, 0)) for d in history}))
            continue
        expected = float(pd.Series(points).median())
        deviation = abs(today - expected) / expected
        out.append(result(
            code, "volume_anomaly", anomaly_cfg["severity"], round(deviation, 4), max_dev, deviation <= max_dev,
            message=(f"{code} loaded {today} rows on {day} ({day:%A}); the median of the previous "
                     f"{len(points)} {day:%A}s is {expected:g}: {deviation:.0%} off "
                     f"(allowed {max_dev:.0%})"),
            rows=today, expected=expected,
            history={d.isoformat(): int(by_day.get(d, 0)) for d in history},
        ))
    return frame(out)


# -- completeness ----------------------------------------------------------------------------
def check_completeness(nulls: pd.DataFrame, manifests: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """NULLs in required fact and dimension columns (`required` lists table.column)."""
    cfg = check_cfg(params, "completeness")
    required = set(cfg["required"])
    nulls = nulls.copy()
    nulls["key"] = nulls["table_name"] + "." + nulls["column_name"]
    nulls = nulls[nulls["key"].isin(required)]
    nulls["retailer_code"] = nulls["retailer_code"].where(nulls["retailer_code"].notna(), None)
    out = []
    max_nulls = int(cfg.get("max_nulls", 0))
    for code in retailers(manifests, nulls) + [None]:
        mine = nulls[nulls["retailer_code"].isna()] if code is None else nulls[nulls["retailer_code"] == code]
        if code is None and mine.empty:
            continue
        offending = mine[mine["null_count"] > 0]
        total = int(offending["null_count"].sum()) if not offending.empty else 0
        columns = {r["key"]: int(r["null_count"]) for _, r in offending.iterrows()}
        message = ("no NULLs in required columns" if not columns else
                   "NULLs in required columns: " + ", ".join(f"{k} ({v})" for k, v in columns.items()))
        out.append(result(code, "completeness", cfg["severity"], total, max_nulls, total <= max_nulls,
                          message=message, columns=columns,
                          rows_checked=int(mine.groupby("table_name")["row_count"].max().sum())
                          if not mine.empty else 0))
    return frame(out)


# -- business rules --------------------------------------------------------------------------
# rule -> meaning (the bounds are the sale rules of schemas/rules.py, bind parameters of the query)
BUSINESS_RULES = {
    "total_amount": "total_amount = quantity x unit_price within a cent (net merchandise amount)",
    "positive_quantity": "quantity > 0",
    "positive_price": "unit_price > 0",
    "no_future_date": "sale date not in the future",
    "max_quantity": "quantity <= the sale rules' max_quantity",
    "max_unit_price": "unit_price <= the sale rules' max_unit_price",
    "total_amount_bounds": "0 < total_amount <= the sale rules' max_total_amount",
    "extra_bounds": "tax, shipping and discount within the sale rules' bounds",
    "money_scale": "money with at most the sale rules' money_scale decimals",
}


def check_business_rules(violations: pd.DataFrame, manifests: dict[str, Any],
                         params: dict[str, Any]) -> pd.DataFrame:
    """One result per retailer and rule: the number of facts breaking it, with a sample."""
    cfg = check_cfg(params, "business_rules")
    max_violations = int(cfg.get("max_violations", 0))
    out = []
    for code in retailers(manifests, violations):
        for rule, meaning in BUSINESS_RULES.items():
            mine = of_retailer(violations, code)
            mine = mine[mine["rule"] == rule] if not mine.empty else mine
            count = int(mine["violations"].iloc[0]) if not mine.empty else 0
            sample = records(mine, ["transaction_id", "date_id", "quantity", "unit_price",
                                    "total_amount", "expected_total", "transaction_ts"])
            days = sorted({_date_id_text(s["date_id"]) for s in sample})
            message = (f"all facts satisfy {meaning}" if count == 0 else
                       f"{count} facts of {code} break {meaning} (e.g. on {', '.join(days)})")
            out.append(result(code, f"business_rule_{rule}", cfg["severity"], count, max_violations,
                              count <= max_violations, message=message, rule=meaning, sample=sample))
    return frame(out)


# -- uniqueness over all of history ----------------------------------------------------------
def check_uniqueness(duplicates: pd.DataFrame, manifests: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """A sale line of the window that also lives on another day of fact_sales (any day of
    history) fails: one transaction, two facts."""
    cfg = check_cfg(params, "uniqueness")
    out = []
    for code in retailers(manifests, duplicates):
        mine = of_retailer(duplicates, code)
        extra = int(mine["extra_rows"].iloc[0]) if not mine.empty else 0
        keys = int(mine["duplicate_keys"].iloc[0]) if not mine.empty else 0
        sample = records(mine, ["transaction_id", "product_id", "copies", "first_date_id", "last_date_id",
                                "date_ids"])
        for row in sample:
            row["days"] = [_date_id_text(d) for d in str(row.get("date_ids") or "").split(",") if d]
        shown = "; ".join(f"{r['transaction_id']} (product {r['product_id']}) on {', '.join(r['days'])}"
                          for r in sample[:3])
        message = ("each sale line of the window is on one day of fact_sales, over all of history"
                   if not keys else
                   f"{keys} sale lines (transaction id, product) of {code} are on more than one day of "
                   f"fact_sales ({extra} extra facts), e.g. {shown}")
        out.append(result(code, "uniqueness", cfg["severity"], extra, 0, extra == 0, message=message,
                          duplicate_keys=keys, sample=sample))
    return frame(out)


def check_fact_id_ranges(problems: pd.DataFrame, manifests: dict[str, Any],
                         params: dict[str, Any]) -> pd.DataFrame:
    """Every window day with facts has its fact_sales_id_range row, covering the day's ids: the
    loader's duplicate guard reads only days whose range overlaps a load's ids, so a day missing
    or too narrow would let a line already on it be loaded again, unseen."""
    cfg = check_cfg(params, "fact_id_ranges")
    out = []
    for code in retailers(manifests, problems):
        mine = of_retailer(problems, code)
        counts = ({p: int(g["problems"].iloc[0]) for p, g in mine.groupby("problem")} if not mine.empty else {})
        total = sum(counts.values())
        sample = records(mine, ["problem", "date_id", "facts", "min_transaction_id", "max_transaction_id",
                                "first_transaction_id", "last_transaction_id"])
        for row in sample:
            row["day"] = _date_id_text(row["date_id"])
        message = ("fact_sales_id_range covers every window day's transaction ids" if not total else
                   f"fact_sales_id_range does not cover the facts of {code}: "
                   f"{counts.get('missing_range', 0)} day(s) with facts and no range row, "
                   f"{counts.get('range_too_narrow', 0)} day(s) with ids outside their range "
                   f"(e.g. on {days_text(sorted({s['day'] for s in sample}))})")
        out.append(result(code, "fact_id_ranges", cfg["severity"], total, 0, total == 0,
                          message=message, problems=counts, sample=sample))
    return frame(out)


def check_product_versions(problems: pd.DataFrame, manifests: dict[str, Any],
                           params: dict[str, Any]) -> pd.DataFrame:
    """dim_product's versions do not overlap, each product has one current version, and every
    window fact points to the version valid on its day (else BI's categories at sale time lie)."""
    cfg = check_cfg(params, "product_versions")
    out = []
    for code in retailers(manifests, problems):
        mine = of_retailer(problems, code)
        counts = ({p: int(g["problems"].iloc[0]) for p, g in mine.groupby("problem")} if not mine.empty else {})
        total = sum(counts.values())
        message = ("product versions do not overlap, one is current, every window fact has its day's version"
                   if not total else f"product history of {code} is wrong: " + ", ".join(
                       f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(counts.items())))
        out.append(result(code, "product_versions", cfg["severity"], total, 0, total == 0, message=message,
                          problems=counts, sample=records(mine, ["problem", "product_sku", "product_id", "detail"])))
    return frame(out)


# -- referential integrity -------------------------------------------------------------------
def check_referential_integrity(orphans: pd.DataFrame, manifests: dict[str, Any],
                                params: dict[str, Any]) -> pd.DataFrame:
    cfg = check_cfg(params, "referential_integrity")
    out = []
    for code in retailers(manifests, orphans):
        mine = of_retailer(orphans, code)
        total = int(mine["orphans"].sum()) if not mine.empty else 0
        keys = {r["foreign_key"]: int(r["orphans"]) for _, r in mine.iterrows()}
        message = ("every foreign key of fact_sales resolves" if not keys else
                   "orphan keys in fact_sales: " + ", ".join(f"{k} ({v})" for k, v in keys.items()))
        out.append(result(code, "referential_integrity", cfg["severity"], total, 0, total == 0,
                          message=message, foreign_keys=keys,
                          sample=records(mine, ["foreign_key", "orphans", "sample"])))
    return frame(out)


# -- freshness -------------------------------------------------------------------------------
def check_freshness(loads: pd.DataFrame, manifests: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """Hours since the warehouse last received each retailer's data (load time, not run date)."""
    cfg = check_cfg(params, "freshness")
    max_age = float(cfg["max_age_hours"])
    out = []
    for code in retailers(manifests, loads):
        mine = of_retailer(loads, code)
        age = num(mine["age_hours"].iloc[0]) if not mine.empty else None
        last = mine["last_loaded_at"].iloc[0] if not mine.empty else None
        if age is None:
            out.append(result(code, "freshness", cfg["severity"], None, max_age, False,
                              message=f"the warehouse has never received data from {code}"))
            continue
        passed = age <= max_age
        message = (f"{code} last loaded {age:.1f} h ago ({last})" if passed else
                   f"{code} is stale: last loaded {age:.1f} h ago ({last}), more than {max_age:g} h")
        out.append(result(code, "freshness", cfg["severity"], round(age, 2), max_age, passed,
                          message=message, last_loaded_at=last,
                          last_sale_date_loaded=mine["last_sale_date_loaded"].iloc[0]
                          if "last_sale_date_loaded" in mine else None))
    return frame(out)
