"""Quality checks as pure functions of DataFrames, dicts and parameters.

Each check returns a frame of results with the columns of ``RESULT_COLUMNS`` (``run_id`` and
``run_date`` are stamped by ``assemble_results``). The queries that feed them are SQL files in
``sql/quality/`` loaded through catalog datasets; thresholds and severities come from
``parameters_quality.yml``. ``details`` is a dict (message, numbers, a sample of offending rows)
stored as JSON.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from retail_pipeline.run_window import parse_run_date

logger = logging.getLogger(__name__)

RESULT_COLUMNS = [
    "run_id", "run_date", "retailer_code", "check_name", "severity",
    "observed", "threshold", "passed", "details",
]
SEVERITIES = ("critical", "warning", "info")


class DataQualityError(RuntimeError):
    """Raised by the gate when a critical check failed (after results and report are saved)."""


# -- helpers ---------------------------------------------------------------------------------
def _result(retailer: str | None, check: str, severity: str, observed: Any, threshold: Any,
            passed: bool, **details: Any) -> dict[str, Any]:
    if severity not in SEVERITIES:
        raise ValueError(f"check {check}: severity must be one of {SEVERITIES}, got {severity!r}")
    return {
        "retailer_code": retailer, "check_name": check, "severity": severity,
        "observed": _num(observed), "threshold": _num(threshold), "passed": bool(passed),
        "details": _jsonable(details),
    }


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _jsonable(value: Any) -> Any:
    """Plain JSON types only (Decimal, dates, numpy scalars, NaN become str/float/None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else value
    if hasattr(value, "item"):  # numpy scalar
        return _jsonable(value.item())
    if pd.isna(value):
        return None
    return str(value)


def _records(frame: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    part = frame[[c for c in (columns or frame.columns) if c in frame.columns]]
    return [_jsonable(dict(zip(part.columns, row))) for row in part.itertuples(index=False, name=None)]


def _money(value: Any) -> Decimal:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Decimal("0")
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=RESULT_COLUMNS[2:])


def _check_cfg(params: dict[str, Any], name: str) -> dict[str, Any]:
    try:
        return params["checks"][name]
    except KeyError:
        raise KeyError(f"parameters_quality.yml has no quality.checks.{name} section") from None


def _retailers(manifests: dict[str, Any], *frames: pd.DataFrame) -> list[str]:
    """The retailers expected in this run: those the pipeline ingests (its manifests), plus any
    the warehouse knows."""
    codes = set(manifests)
    for frame in frames:
        if frame is not None and "retailer_code" in frame and not frame.empty:
            codes |= {c for c in frame["retailer_code"].dropna().unique()}
    return sorted(codes)


# -- manifests and the raw zone ---------------------------------------------------------------
def collect_manifests(last_load: pd.DataFrame | None = None, **manifests: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Gather the ingestion manifests of the run, keyed by retailer code.

    `last_load` (the transformation's `warehouse_star_schema`, i.e. the last load's audit) is
    only an input so that Kedro and the Airflow DAG run the checks after the warehouse load.
    """
    collected = {}
    for code, manifest in manifests.items():
        if not isinstance(manifest, dict):
            raise ValueError(f"ingestion manifest of {code} is not a JSON object: {type(manifest).__name__}")
        collected[manifest.get("retailer_code") or code] = manifest
    return collected


def count_zones(**frames: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """Rows and money per retailer and day actually present in the raw and quarantine zones.

    Inputs are named `<retailer>__raw` and `<retailer>__quarantine` (the window's records as
    loaded by the ingestion datasets). Returns {retailer: {sale_date: {raw_rows, raw_amount,
    quarantined_rows}}}, so reconciliation compares files, not the manifest with itself.
    """
    counts: dict[str, dict[str, dict[str, Any]]] = {}
    for name, frame in frames.items():
        code, _, zone = name.rpartition("__")
        days = counts.setdefault(code, {})
        if frame is None or len(frame) == 0:
            continue
        dates = frame["sale_date"].astype(str).str[:10]
        if zone == "raw":
            amounts = pd.to_numeric(frame["total_amount"], errors="coerce").fillna(0).map(_money)
            grouped = pd.DataFrame({"d": dates, "a": amounts}).groupby("d")["a"]
            for day, rows in grouped.size().items():
                entry = days.setdefault(day, {"raw_rows": 0, "raw_amount": Decimal("0"), "quarantined_rows": 0})
                entry["raw_rows"] = int(rows)
                entry["raw_amount"] = sum(grouped.get_group(day), Decimal("0"))
        else:
            for day, rows in dates.value_counts().items():
                entry = days.setdefault(day, {"raw_rows": 0, "raw_amount": Decimal("0"), "quarantined_rows": 0})
                entry["quarantined_rows"] = int(rows)
    return counts


# -- volume ----------------------------------------------------------------------------------
def check_volume(volume: pd.DataFrame, manifests: dict[str, Any], run_date: str,
                 params: dict[str, Any]) -> pd.DataFrame:
    """Rows loaded per retailer for the run date, and a same-weekday anomaly over trailing weeks.

    A retailer with fewer than `min_rows` fact rows on the run date fails `volume_rows` (critical
    by default) whatever the others loaded. `volume_anomaly` compares the day's rows with the
    median of the same weekday in the previous `weeks` weeks (needs `min_history` of them).
    """
    rows_cfg, anomaly_cfg = _check_cfg(params, "volume_rows"), _check_cfg(params, "volume_anomaly")
    day = parse_run_date(run_date)
    volume = volume.copy()
    if not volume.empty:
        volume["sale_date"] = pd.to_datetime(volume["sale_date"]).dt.date
        volume["row_count"] = volume["row_count"].astype("int64")
    results = []
    for code in _retailers(manifests, volume):
        mine = volume[volume["retailer_code"] == code] if not volume.empty else volume
        by_day = dict(zip(mine["sale_date"], mine["row_count"])) if not mine.empty else {}
        today = int(by_day.get(day, 0))
        min_rows = int(rows_cfg.get("min_rows", 1))
        manifest_rows = None
        manifest = manifests.get(code)
        if manifest:
            for entry in manifest.get("days", []):
                if str(entry.get("sale_date")) == day.isoformat():
                    manifest_rows = entry.get("rows_written")
        passed = today >= min_rows
        message = (f"{code} has {today} fact rows for {day}" if passed else
                   f"{code} has no data loaded for {day} ({today} fact rows, at least {min_rows} expected)")
        results.append(_result(code, "volume_rows", rows_cfg["severity"], today, min_rows, passed,
                               message=message, raw_rows_written=manifest_rows))

        weeks = int(anomaly_cfg.get("weeks", 4))
        history = [(day - timedelta(weeks=k)) for k in range(1, weeks + 1)]
        points = [int(by_day[d]) for d in history if d in by_day and by_day[d] > 0]
        max_dev = float(anomaly_cfg.get("max_deviation", 0.5))
        if len(points) < int(anomaly_cfg.get("min_history", 2)):
            results.append(_result(code, "volume_anomaly", anomaly_cfg["severity"], None, max_dev, True,
                                   message=f"not enough history for {code}: {len(points)} of the last "
                                           f"{weeks} {day:%A}s have data; check skipped",
                                   rows=today, history={d.isoformat(): int(by_day.get(d, 0)) for d in history}))
            continue
        expected = float(pd.Series(points).median())
        deviation = abs(today - expected) / expected
        passed = deviation <= max_dev
        results.append(_result(
            code, "volume_anomaly", anomaly_cfg["severity"], round(deviation, 4), max_dev, passed,
            message=(f"{code} loaded {today} rows on {day} ({day:%A}); the median of the previous "
                     f"{len(points)} {day:%A}s is {expected:g}: {deviation:.0%} off "
                     f"(allowed {max_dev:.0%})"),
            rows=today, expected=expected,
            history={d.isoformat(): int(by_day.get(d, 0)) for d in history},
        ))
    return _frame(results)


# -- completeness ----------------------------------------------------------------------------
def check_completeness(nulls: pd.DataFrame, manifests: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """NULLs in required fact and dimension columns (`required` lists table.column)."""
    cfg = _check_cfg(params, "completeness")
    required = set(cfg["required"])
    frame = nulls.copy()
    frame["key"] = frame["table_name"] + "." + frame["column_name"]
    frame = frame[frame["key"].isin(required)]
    frame["retailer_code"] = frame["retailer_code"].where(frame["retailer_code"].notna(), None)
    results = []
    max_nulls = int(cfg.get("max_nulls", 0))
    for code in _retailers(manifests, frame) + [None]:
        mine = frame[frame["retailer_code"].isna()] if code is None else frame[frame["retailer_code"] == code]
        if code is None and mine.empty:
            continue
        offending = mine[mine["null_count"] > 0]
        total = int(offending["null_count"].sum()) if not offending.empty else 0
        passed = total <= max_nulls
        columns = {r["key"]: int(r["null_count"]) for _, r in offending.iterrows()}
        message = ("no NULLs in required columns" if not columns else
                   "NULLs in required columns: " + ", ".join(f"{k} ({v})" for k, v in columns.items()))
        results.append(_result(code, "completeness", cfg["severity"], total, max_nulls, passed,
                               message=message, columns=columns,
                               rows_checked=int(mine.groupby("table_name")["row_count"].max().sum())
                               if not mine.empty else 0))
    return _frame(results)


# -- business rules --------------------------------------------------------------------------
BUSINESS_RULES = {
    "total_amount": "total_amount = quantity x unit_price within a cent (net merchandise amount)",
    "positive_quantity": "quantity > 0",
    "positive_price": "unit_price > 0",
    "no_future_date": "sale date not in the future",
}


def check_business_rules(violations: pd.DataFrame, manifests: dict[str, Any],
                         params: dict[str, Any]) -> pd.DataFrame:
    """One result per retailer and rule: the number of facts breaking it, with a sample."""
    cfg = _check_cfg(params, "business_rules")
    max_violations = int(cfg.get("max_violations", 0))
    results = []
    for code in _retailers(manifests, violations):
        for rule, meaning in BUSINESS_RULES.items():
            mine = violations[(violations["retailer_code"] == code) & (violations["rule"] == rule)] \
                if not violations.empty else violations
            count = int(mine["violations"].iloc[0]) if not mine.empty else 0
            passed = count <= max_violations
            sample = _records(mine, ["transaction_id", "date_id", "quantity", "unit_price",
                                     "total_amount", "expected_total", "transaction_ts"])
            message = (f"all facts satisfy {meaning}" if count == 0 else
                       f"{count} facts of {code} break {meaning}")
            results.append(_result(code, f"business_rule_{rule}", cfg["severity"], count,
                                   max_violations, passed, message=message, rule=meaning, sample=sample))
    return _frame(results)


# -- uniqueness ------------------------------------------------------------------------------
def check_uniqueness(duplicates: pd.DataFrame, manifests: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    cfg = _check_cfg(params, "uniqueness")
    results = []
    for code in _retailers(manifests, duplicates):
        mine = duplicates[duplicates["retailer_code"] == code] if not duplicates.empty else duplicates
        extra = int(mine["extra_rows"].iloc[0]) if not mine.empty else 0
        keys = int(mine["duplicate_keys"].iloc[0]) if not mine.empty else 0
        message = ("one fact per (retailer, transaction id, product)" if not keys else
                   f"{keys} (transaction id, product) keys of {code} have more than one fact "
                   f"({extra} extra rows)")
        results.append(_result(code, "uniqueness", cfg["severity"], extra, 0, extra == 0, message=message,
                               duplicate_keys=keys,
                               sample=_records(mine, ["transaction_id", "product_id", "copies",
                                                      "first_date_id", "last_date_id"])))
    return _frame(results)


# -- referential integrity -------------------------------------------------------------------
def check_referential_integrity(orphans: pd.DataFrame, manifests: dict[str, Any],
                                params: dict[str, Any]) -> pd.DataFrame:
    cfg = _check_cfg(params, "referential_integrity")
    results = []
    for code in _retailers(manifests, orphans):
        mine = orphans[orphans["retailer_code"] == code] if not orphans.empty else orphans
        total = int(mine["orphans"].sum()) if not mine.empty else 0
        keys = {r["foreign_key"]: int(r["orphans"]) for _, r in mine.iterrows()}
        message = ("every foreign key of fact_sales resolves" if not keys else
                   "orphan keys in fact_sales: " + ", ".join(f"{k} ({v})" for k, v in keys.items()))
        results.append(_result(code, "referential_integrity", cfg["severity"], total, 0, total == 0,
                               message=message, foreign_keys=keys,
                               sample=_records(mine, ["foreign_key", "orphans", "sample"])))
    return _frame(results)


# -- freshness -------------------------------------------------------------------------------
def check_freshness(loads: pd.DataFrame, manifests: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """Hours since the warehouse last received each retailer's data (load time, not run date)."""
    cfg = _check_cfg(params, "freshness")
    max_age = float(cfg["max_age_hours"])
    results = []
    for code in _retailers(manifests, loads):
        mine = loads[loads["retailer_code"] == code] if not loads.empty else loads
        age = _num(mine["age_hours"].iloc[0]) if not mine.empty else None
        last = mine["last_loaded_at"].iloc[0] if not mine.empty else None
        if age is None:
            results.append(_result(code, "freshness", cfg["severity"], None, max_age, False,
                                   message=f"the warehouse has never received data from {code}"))
            continue
        passed = age <= max_age
        message = (f"{code} last loaded {age:.1f} h ago ({last})" if passed else
                   f"{code} is stale: last loaded {age:.1f} h ago ({last}), more than {max_age:g} h")
        results.append(_result(code, "freshness", cfg["severity"], round(age, 2), max_age, passed,
                               message=message, last_loaded_at=last,
                               last_sale_date_loaded=mine["last_sale_date_loaded"].iloc[0]
                               if "last_sale_date_loaded" in mine else None))
    return _frame(results)


# -- reconciliation and quarantine rate --------------------------------------------------------
def _manifest_days(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(d["sale_date"]): d for d in manifest.get("days", [])}


def check_reconciliation(warehouse: pd.DataFrame, manifests: dict[str, Any],
                         zones: dict[str, dict[str, dict[str, Any]]], params: dict[str, Any]) -> pd.DataFrame:
    """Per retailer and day of the manifest window:

    * `reconciliation_source`: rows the source sent (manifest) = rows in the raw zone + rows in
      the quarantine zone (counted in the files), the manifest's own raw/quarantine counts agree
      with the files, and its `source_total` (when the API gives one) = rows received;
    * `reconciliation_warehouse`: valid rows in the raw zone = fact rows + rows quarantined by
      the warehouse load, and raw money = fact money + quarantined money, to the cent.
    One result per retailer and check; failing days are listed in the details.
    """
    cfg_src = _check_cfg(params, "reconciliation_source")
    cfg_wh = _check_cfg(params, "reconciliation_warehouse")
    cent = Decimal(str(cfg_wh.get("money_tolerance", 0.005)))
    wh = warehouse.copy()
    if not wh.empty:
        wh["sale_date"] = pd.to_datetime(wh["sale_date"]).dt.date.astype(str)
    results = []
    for code in _retailers(manifests, wh):
        manifest = manifests.get(code)
        if manifest is None:
            message = f"no ingestion manifest for {code}: cannot reconcile the warehouse with its source"
            results.append(_result(code, "reconciliation_source", cfg_src["severity"], None, 0, False, message=message))
            results.append(_result(code, "reconciliation_warehouse", cfg_wh["severity"], None, 0, False, message=message))
            continue
        days = _manifest_days(manifest)
        zone = zones.get(code, {})
        empty = {"raw_rows": 0, "raw_amount": Decimal("0"), "quarantined_rows": 0}
        # source (manifest) = raw files + quarantine files, per day
        src_gaps, src_rows = [], []
        for sale_date, d in sorted(days.items()):
            received = int(d.get("rows_received") or 0)
            files = zone.get(sale_date, empty)
            raw, held = files["raw_rows"], files["quarantined_rows"]
            gap = received - raw - held
            row = {"sale_date": sale_date, "source_rows": received, "raw_rows": raw,
                   "quarantined_rows": held, "gap": gap,
                   "manifest_rows_written": int(d.get("rows_written") or 0),
                   "manifest_rows_quarantined": int(d.get("rows_quarantined") or 0)}
            src_rows.append(row)
            if gap or row["manifest_rows_written"] != raw or row["manifest_rows_quarantined"] != held:
                src_gaps.append(row)
        # rows out of line: unaccounted source rows plus manifest counts that the files contradict
        total_gap = sum(abs(r["gap"]) + abs(r["manifest_rows_written"] - r["raw_rows"])
                        + abs(r["manifest_rows_quarantined"] - r["quarantined_rows"]) for r in src_gaps)
        source_total, received_total = manifest.get("source_total"), manifest.get("rows_received")
        run_level = None
        if source_total is not None and received_total is not None and int(source_total) != int(received_total):
            run_level = {"source_total": int(source_total), "rows_received": int(received_total)}
            total_gap += abs(int(source_total) - int(received_total))
        passed = total_gap == 0
        message = ("source rows = raw rows + quarantined rows on every day" if passed else
                   f"{code}: source rows do not add up to the rows in the raw + quarantine zones on "
                   + ", ".join(f"{r['sale_date']} (source {r['source_rows']}, raw files "
                               f"{r['raw_rows']} [manifest {r['manifest_rows_written']}], quarantine files "
                               f"{r['quarantined_rows']} [manifest {r['manifest_rows_quarantined']}], "
                               f"gap {r['gap']:+d})" for r in src_gaps)
                   + (f"; the API announced {run_level['source_total']} rows but "
                      f"{run_level['rows_received']} were received" if run_level else ""))
        results.append(_result(code, "reconciliation_source", cfg_src["severity"], total_gap, 0, passed,
                               message=message, days=src_rows, run_totals=run_level,
                               manifest_run_id=manifest.get("run_id")))

        # raw valid rows = facts + warehouse quarantine; money to the cent
        mine = wh[wh["retailer_code"] == code] if not wh.empty else wh
        by_day = {r["sale_date"]: r for r in mine.to_dict("records")} if not mine.empty else {}
        wh_rows, wh_gaps, row_gap_total, money_gap_total = [], [], 0, Decimal("0")
        for sale_date, d in sorted(days.items()):
            w = by_day.get(sale_date, {})
            files = zone.get(sale_date, empty)
            raw_rows, raw_money = files["raw_rows"], _money(files["raw_amount"])
            fact_rows, wq_rows = int(w.get("fact_rows") or 0), int(w.get("wq_rows") or 0)
            fact_money, wq_money = _money(w.get("fact_amount")), _money(w.get("wq_amount"))
            row_gap = raw_rows - fact_rows - wq_rows
            money_gap = raw_money - fact_money - wq_money
            row = {"sale_date": sale_date, "raw_rows": raw_rows, "fact_rows": fact_rows,
                   "warehouse_quarantined_rows": wq_rows, "row_gap": row_gap,
                   "raw_amount": raw_money, "fact_amount": fact_money,
                   "warehouse_quarantined_amount": wq_money, "amount_gap": money_gap}
            wh_rows.append(row)
            if row_gap or abs(money_gap) > cent:
                wh_gaps.append(row)
                row_gap_total += abs(row_gap)
                money_gap_total += abs(money_gap)
        passed = not wh_gaps
        message = ("raw rows = fact rows + warehouse-quarantined rows, money to the cent, on every day"
                   if passed else
                   f"{code}: the warehouse does not reconcile with the raw zone on "
                   + ", ".join(f"{r['sale_date']} (raw {r['raw_rows']} rows / {r['raw_amount']}, "
                               f"facts {r['fact_rows']} / {r['fact_amount']}, warehouse quarantine "
                               f"{r['warehouse_quarantined_rows']} / {r['warehouse_quarantined_amount']}; "
                               f"gap {r['row_gap']:+d} rows, {r['amount_gap']:+} money)" for r in wh_gaps))
        results.append(_result(code, "reconciliation_warehouse", cfg_wh["severity"],
                               row_gap_total if row_gap_total else float(money_gap_total), 0, passed,
                               message=message, days=wh_rows, row_gap=row_gap_total,
                               amount_gap=money_gap_total))
    return _frame(results)


def check_quarantine_rate(warehouse: pd.DataFrame, manifests: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """Share of a retailer's source rows quarantined (at ingestion or by the warehouse load) over
    the run window: above `warning` warns, above `critical` fails the run."""
    cfg = _check_cfg(params, "quarantine_rate")
    warn, crit = float(cfg["warning"]), float(cfg["critical"])
    results = []
    for code, manifest in sorted(manifests.items()):
        days = _manifest_days(manifest)
        received = sum(int(d.get("rows_received") or 0) for d in days.values())
        ingest_q = sum(int(d.get("rows_quarantined") or 0) for d in days.values())
        wq = 0
        if not warehouse.empty:
            mine = warehouse[(warehouse["retailer_code"] == code)
                             & pd.to_datetime(warehouse["sale_date"]).dt.date.astype(str).isin(list(days))]
            wq = int(mine["wq_rows"].sum())
        rate = (ingest_q + wq) / received if received else 0.0
        if rate > crit:
            severity, threshold, passed = "critical", crit, False
        elif rate > warn:
            severity, threshold, passed = "warning", warn, False
        else:
            severity, threshold, passed = "warning", warn, True
        message = (f"{code}: {ingest_q + wq} of {received} source rows quarantined ({rate:.1%}; "
                   f"{ingest_q} at ingestion, {wq} by the warehouse load); warn above {warn:.0%}, "
                   f"critical above {crit:.0%}")
        results.append(_result(code, "quarantine_rate", severity, round(rate, 6), threshold, passed,
                               message=message, source_rows=received, ingestion_quarantined=ingest_q,
                               warehouse_quarantined=wq, warning_threshold=warn, critical_threshold=crit))
    return _frame(results)


# -- results, report, gate ---------------------------------------------------------------------
def assemble_results(run_id: str, run_date: str, *check_frames: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All check results of the run as one frame: once for the warehouse table (details as JSON
    text) and once in memory for the report and the gate."""
    frames = [f for f in check_frames if f is not None and not f.empty]
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RESULT_COLUMNS[2:])
    results.insert(0, "run_date", parse_run_date(run_date).isoformat())
    results.insert(0, "run_id", str(run_id))
    results = results[RESULT_COLUMNS]
    results["retailer_code"] = results["retailer_code"].astype(object).where(results["retailer_code"].notna(), None)
    results["passed"] = results["passed"].astype(bool)
    to_table = results.copy()
    to_table["details"] = to_table["details"].map(lambda d: json.dumps(d, default=str))
    to_table["observed"] = to_table["observed"].astype("float64")
    to_table["threshold"] = to_table["threshold"].astype("float64")
    return to_table, results


def _retailer_label(code: Any) -> str:
    return "all retailers" if code is None or (not isinstance(code, str) and pd.isna(code)) else str(code)


def failed_checks(results: pd.DataFrame, severity: str | None = None) -> pd.DataFrame:
    failed = results[~results["passed"].astype(bool)]
    return failed if severity is None else failed[failed["severity"] == severity]


def summarize(results: pd.DataFrame, report_path: str | None = None) -> str:
    """A short console summary: counts, then one line per failed check."""
    total = len(results)
    failed = failed_checks(results)
    critical = failed_checks(results, "critical")
    run_date = results["run_date"].iloc[0] if total else "?"
    lines = [f"Data quality for {run_date}: {total - len(failed)} of {total} checks passed, "
             f"{len(critical)} critical failures, {len(failed) - len(critical)} warnings."]
    for _, row in failed.sort_values(["severity", "check_name", "retailer_code"], na_position="first").iterrows():
        lines.append(f"  [{row['severity'].upper()}] {row['check_name']} "
                     f"{_retailer_label(row['retailer_code'])}: {row['details'].get('message', '')}")
    if report_path:
        lines.append(f"Report: {report_path}")
    return "\n".join(lines)


def render_report(results: pd.DataFrame, volume: pd.DataFrame, params: dict[str, Any]) -> tuple[str, str, str]:
    """The HTML report (twice: dated and latest) and the console summary, which is also logged."""
    from retail_pipeline.quality.report import render_html

    run_date = results["run_date"].iloc[0] if len(results) else ""
    report_path = str(params.get("report_path", "")).replace("{run_date}", str(run_date)) or None
    html = render_html(results, volume, params)
    summary = summarize(results, report_path)
    for line in summary.splitlines():
        logger.info(line)
    return html, html, summary


def quality_gate(results: pd.DataFrame, summary: str) -> None:
    """Fail the run when a critical check failed. Runs after the results and the report are
    saved (it takes the report node's summary as input), so both survive the failure."""
    critical = failed_checks(results, "critical")
    if critical.empty:
        logger.info("Quality gate passed: no critical check failed.")
        return
    names = sorted({f"{r.check_name} ({_retailer_label(r.retailer_code)})" for r in critical.itertuples()})
    raise DataQualityError(
        f"{len(critical)} critical data-quality check(s) failed for run_date "
        f"{critical['run_date'].iloc[0]}: {', '.join(names)}.\n{summary}"
    )
