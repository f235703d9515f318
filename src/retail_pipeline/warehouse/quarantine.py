"""The warehouse quarantine and the load audit of a load."""

from __future__ import annotations

from datetime import date

import pandas as pd
from psycopg2 import sql
from psycopg2.extras import execute_values

from retail_pipeline.warehouse.pgcopy import copy_frame
from retail_pipeline.warehouse.sqlfiles import text

QUARANTINE_COLUMNS = ["retailer_code", "transaction_id", "sale_date", "reason", "record"]


def stage_quarantine(cur, quarantine: pd.DataFrame) -> None:
    """COPY this load's quarantine rows into tmp_quarantine (read by the exactly-once step too)."""
    cur.execute(text("quarantine_stage"))
    copy_quarantine(cur, quarantine)


def copy_quarantine(cur, quarantine: pd.DataFrame) -> None:
    """One chunk of quarantine rows into tmp_quarantine."""
    copy_frame(cur, sql.Identifier("tmp_quarantine"), quarantine, QUARANTINE_COLUMNS)


def replace_quarantine_and_audit(cur, quarantine_codes: set[str], audit: pd.DataFrame, run_id: str,
                                 days: list[date]) -> None:
    """The window's quarantine rows (staged in tmp_quarantine) replace the days' old ones of the
    retailers in the audit or the quarantine; one load_audit row per retailer and day."""
    codes = sorted(set(audit["retailer_code"]) | set(quarantine_codes))
    cur.execute(text("quarantine_replace"), {"days": days, "codes": codes, "run_id": run_id})
    execute_values(cur, text("audit"), [
        (run_id, r.retailer_code, r.sale_date, int(r.rows_loaded), round(float(r.total_amount_loaded), 2),
         int(r.rows_quarantined)) for r in audit.itertuples()])
