"""Reconciliation by counts and money: the ingestion manifests, the zone files and the warehouse.

* `reconciliation_source`: per retailer and window day, the rows the source sent (manifest) =
  rows in the raw zone files + rows in the quarantine zone files, and the manifest's own counts
  agree with the files;
* `reconciliation_warehouse`: valid rows in the raw zone = fact rows + rows the warehouse load
  quarantined, and raw money = fact money + quarantined money, to the cent;
* `quarantine_rate`: the share of a retailer's source rows quarantined over the window.

A retailer without a manifest for the run date (its extraction failed) fails these checks by
name, and the other retailers are checked as on any day.

The ids behind those counts are compared in `id_checks.py`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .results import check_cfg, frame, money, result, retailers

EMPTY_DAY = {"raw_rows": 0, "raw_amount": Decimal("0"), "quarantined_rows": 0}


@dataclass(frozen=True)
class NoManifest:
    """What `manifest_after_ingestion` hands on for a retailer without a manifest: Kedro passes
    no None between nodes."""


def manifest_after_ingestion(manifest: Any, ingested: Any = None) -> Any:
    """One retailer's ingestion manifest, as read (checked by `collect_manifests`), or
    `NoManifest()` when the run date has none (the dataset loads None: its extraction failed).

    A node in the retailer's namespace, so the manifest leaves it under an undotted name.
    `ingested` (the retailer's zone summary, made from the ingestion's output) is only an input
    so that the manifest is read after the ingestion that writes it.
    """
    return NoManifest() if manifest is None else manifest


LOADED = "__loaded"  # input name suffix of a retailer's last load (`<code>__loaded`)


def after_load(last_load: pd.DataFrame) -> int:
    """A retailer's last load audit (`<code>.warehouse_star_schema`) -> its row count, handed to
    the global checks (`dq_loaded_<code>`) only so that they run after the retailer's load."""
    return int(len(last_load)) if last_load is not None else 0


def collect_manifests(last_load: pd.DataFrame | None = None, **manifests: Any) -> dict[str, dict[str, Any] | None]:
    """Gather the ingestion manifests of the run, keyed by retailer code (the input names); a
    retailer without one is kept as None, which the checks report as such.

    Inputs named `<code>__loaded` (`dq_loaded_<code>`, see `after_load`) and `last_load` are
    only there so that Kedro and the Airflow DAG run the
    checks after the warehouse loads; they are ignored.
    """
    collected = {}
    for code, manifest in manifests.items():
        if code.endswith(LOADED):
            continue
        if manifest is None or isinstance(manifest, NoManifest):
            collected[code] = None
            continue
        if not isinstance(manifest, dict):
            raise ValueError(f"ingestion manifest of {code} is not a JSON object: {type(manifest).__name__}")
        collected[manifest.get("retailer_code") or code] = manifest
    return collected


def _ids(part: pd.DataFrame, dates: pd.Series, zone: str) -> pd.DataFrame:
    """(sale_date, transaction_id, zone) of zone rows; a missing id is '' (as in the accounting)."""
    return pd.DataFrame({"sale_date": dates.array, "transaction_id": part["transaction_id"].astype("str").fillna("").array,
                         "zone": zone})


def _cents(amounts: pd.Series) -> pd.Series | None:
    """Amounts as whole cents (int64) when every one is a finite amount of at most two decimals
    (what the raw zone holds: validated rows), else None (then `money` row by row)."""
    values = pd.to_numeric(amounts, errors="coerce").fillna(0).to_numpy(dtype="float64")
    cents = np.round(values * 100)
    if not (np.isfinite(cents).all() and (np.abs(cents) < 2**53).all() and (np.abs(values * 100 - cents) < 1e-6).all()):
        return None
    return pd.Series(cents.astype("int64"), index=amounts.index)


def _chunks(zone: Any):
    """The zone's frames: a lazily loaded raw zone (RawChunks) chunk by chunk, or one frame."""
    if zone is None:
        return []
    return [zone] if isinstance(zone, pd.DataFrame) else zone


def summarize_zone(raw: Any, quarantine: pd.DataFrame | None) -> Iterator[tuple[dict[str, dict[str, Any]], pd.DataFrame]]:
    """One retailer's window in the raw and quarantine zone files, as counted and as ids.

    A generator node: per chunk read (the raw zone, loaded lazily as RawChunks, one chunk at a
    time), yields (the counts so far, that chunk's ids). The counts are {sale_date: {raw_rows,
    raw_amount, quarantined_rows}} (what the files hold, so reconciliation compares files, not
    the manifest with itself); the last yield's are the window's. The ids are a frame
    (sale_date, transaction_id, zone 'raw' | 'quarantine'), which the catalog appends to files
    (IdFilesDataset): a big day's ids are never held whole.
    """
    days: dict[str, dict[str, Any]] = {}
    read = False
    for zone, chunks in (("raw", _chunks(raw)), ("quarantine", _chunks(quarantine))):
        for part in chunks:
            if not len(part):
                continue
            dates = part["sale_date"].astype("str").str[:10]
            ids, read = _ids(part, dates, zone), True
            if zone == "quarantine":
                for day, rows in dates.value_counts().items():
                    days.setdefault(day, dict(EMPTY_DAY))["quarantined_rows"] += int(rows)
                yield copy.deepcopy(days), ids
                continue
            cents = _cents(part["total_amount"])
            if cents is not None:
                amounts = cents.groupby(dates).sum().map(lambda c: Decimal(int(c)).scaleb(-2))  # to the cent: 1.00
            else:
                amounts = pd.to_numeric(part["total_amount"], errors="coerce").fillna(0).map(money).groupby(dates).sum()
            for day, rows in dates.value_counts().items():
                entry = days.setdefault(day, dict(EMPTY_DAY))
                entry["raw_rows"] += int(rows)
                entry["raw_amount"] += amounts[day]
            yield copy.deepcopy(days), ids
    if not read:  # no rows in the window's files: its (empty) counts and ids all the same
        empty = pd.Series([], dtype="str")
        yield {}, pd.DataFrame({"sale_date": empty, "transaction_id": empty, "zone": empty})


def collect_zone_counts(**counts: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{retailer: {sale_date: counts}} from the per-retailer summaries (inputs named by code)."""
    return {code: dict(days or {}) for code, days in counts.items()}


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
    cfg_src = check_cfg(params, "reconciliation_source")
    cfg_wh = check_cfg(params, "reconciliation_warehouse")
    cent = Decimal(str(cfg_wh.get("money_tolerance", 0.005)))
    wh = warehouse.copy()
    if not wh.empty:
        wh["sale_date"] = pd.to_datetime(wh["sale_date"]).dt.date.astype(str)
    results = []
    for code in retailers(manifests, wh):
        manifest = manifests.get(code)
        if manifest is None:
            message = (f"no ingestion manifest for {code}: cannot reconcile the warehouse with its source "
                       "(its extraction for the run date failed or never ran: see its log, or run the "
                       "ingestion pipeline for that date first)")
            results.append(result(code, "reconciliation_source", cfg_src["severity"], None, 0, False, message=message))
            results.append(result(code, "reconciliation_warehouse", cfg_wh["severity"], None, 0, False, message=message))
            continue
        days = _manifest_days(manifest)
        zone = zones.get(code, {})
        empty = EMPTY_DAY
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
        results.append(result(code, "reconciliation_source", cfg_src["severity"], total_gap, 0, passed,
                              message=message, days=src_rows, run_totals=run_level,
                              manifest_run_id=manifest.get("run_id")))

        # raw valid rows = facts + warehouse quarantine; money to the cent
        mine = wh[wh["retailer_code"] == code] if not wh.empty else wh
        by_day = {r["sale_date"]: r for r in mine.to_dict("records")} if not mine.empty else {}
        wh_rows, wh_gaps, row_gap_total, money_gap_total = [], [], 0, Decimal("0")
        for sale_date, d in sorted(days.items()):
            w = by_day.get(sale_date, {})
            files = zone.get(sale_date, empty)
            raw_rows, raw_money = files["raw_rows"], money(files["raw_amount"])
            fact_rows, wq_rows = int(w.get("fact_rows") or 0), int(w.get("wq_rows") or 0)
            fact_money, wq_money = money(w.get("fact_amount")), money(w.get("wq_amount"))
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
        results.append(result(code, "reconciliation_warehouse", cfg_wh["severity"],
                              row_gap_total if row_gap_total else float(money_gap_total), 0, passed,
                              message=message, days=wh_rows, row_gap=row_gap_total,
                              amount_gap=money_gap_total))
    return frame(results)


def check_quarantine_rate(warehouse: pd.DataFrame, manifests: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    """Share of a retailer's source rows quarantined (at ingestion or by the warehouse load) over
    the run window: above `warning` warns, above `critical` fails the run. Without a manifest
    there is no rate: a failing warning (reconciliation fails that retailer critically)."""
    cfg = check_cfg(params, "quarantine_rate")
    warn, crit = float(cfg["warning"]), float(cfg["critical"])
    results = []
    for code, manifest in sorted(manifests.items()):
        if manifest is None:
            results.append(result(code, "quarantine_rate", "warning", None, warn, False,
                                  message=f"no ingestion manifest for {code}: quarantine rate not computed"))
            continue
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
        results.append(result(code, "quarantine_rate", severity, round(rate, 6), threshold, passed,
                              message=message, source_rows=received, ingestion_quarantined=ingest_q,
                              warehouse_quarantined=wq, warning_threshold=warn, critical_threshold=crit))
    return frame(results)
