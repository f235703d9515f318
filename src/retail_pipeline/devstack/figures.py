"""The figures `make summary` prints: warehouse facts, source rows, raw zone, accounting, quality.

Every figure is read, never assumed: a part that is missing or unreachable gives a line saying
so (or no line), not an error. Source tables come from the simulator style (retailers/).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from retail_pipeline.devstack.config import LOADER_ROLE, WAREHOUSE_DB, StackConfig
from retail_pipeline.devstack.credentials import db_url, retailer_db_url


def source_rows(style: str) -> tuple[str, sql.Composable, sql.Identifier]:
    """(label, FROM clause, timestamp column) of a simulator style's source records: its main
    table, or for a style of orders with lines (retailers' spec.extra_tables) one record per line,
    as the extraction counts them."""
    from retailers.common.registry import spec

    found = spec(style)
    if found.extra_tables:
        lines = found.extra_tables[0]
        return (f"{found.table} x {lines}",
                sql.SQL("{} JOIN {} USING ({})").format(sql.Identifier(found.table), sql.Identifier(lines),
                                                        sql.Identifier(found.id_column)),
                sql.Identifier(found.ts_column))
    return found.table, sql.Identifier(found.table), sql.Identifier(found.ts_column)


@contextmanager
def _source_cursor(config: StackConfig, code: str, passwords: dict[str, str]) -> Iterator:
    """A cursor on a retailer's simulated database whose session time zone is the retailer's, so
    `ts::date` is the local business date the ingestion windows are in."""
    conn = psycopg2.connect(retailer_db_url(config, code, passwords), connect_timeout=3)
    with closing(conn), conn.cursor() as cur:
        cur.execute("SET TIME ZONE %s", (config.retailers.get(code, {}).get("timezone") or "UTC",))
        yield cur


def _count_jsonl(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def zone_counts(base: Path) -> dict[str, tuple[int, int]]:
    """{retailer_code: (files, records)} for the partitions under `base`."""
    counts = {}
    if base.is_dir():
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            files = sorted(folder.rglob("sales_data.json"))
            counts[folder.name] = (len(files), _count_jsonl(files))
    return counts


def warehouse_figures(config: StackConfig, passwords: dict[str, str]) -> tuple[list[str], str | None]:
    """Lines about the warehouse and the retailer sources, and an example date for the curls."""
    lines: list[str] = []
    example_day = None
    url = db_url(config, WAREHOUSE_DB, LOADER_ROLE, passwords.get(LOADER_ROLE, ""), driver=False)
    try:
        conn = psycopg2.connect(url, connect_timeout=3)
    except psycopg2.Error:
        return ["  (PostgreSQL is not reachable; `make up` starts it)"], None
    with closing(conn), conn.cursor() as cur:
        cur.execute("SELECT table_schema FROM information_schema.tables WHERE table_name = 'fact_sales' "
                    "ORDER BY table_schema = 'public' DESC LIMIT 1")
        found = cur.fetchone()
        if not found:
            lines.append("  fact_sales: not created yet (warehouse migrations have not run)")
        else:
            schema = sql.Identifier(found[0])
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{found[0]}".dim_retailer',))
            if cur.fetchone()[0]:
                cur.execute(sql.SQL(
                    "SELECT coalesce(r.retailer_code, f.retailer_id::text), count(*), min(f.transaction_ts), "
                    "max(f.transaction_ts) FROM {s}.fact_sales f LEFT JOIN {s}.dim_retailer r USING (retailer_id) "
                    "GROUP BY 1 ORDER BY 1").format(s=schema))
            else:
                cur.execute(sql.SQL("SELECT retailer_id::text, count(*), min(transaction_ts), max(transaction_ts) "
                                    "FROM {s}.fact_sales GROUP BY 1 ORDER BY 1").format(s=schema))
            rows = cur.fetchall()
            if not rows:
                lines.append("  fact_sales: empty")
            for code, count, first, last in rows:
                lines.append(f"  fact_sales {code}: {count:,} rows ({first:%Y-%m-%d} .. {last:%Y-%m-%d})"
                             if first and last else f"  fact_sales {code}: {count:,} rows")
    for code, sim in config.simulators.items():
        label, source, ts = source_rows(sim.style)
        try:
            with _source_cursor(config, code, passwords) as cur:
                try:
                    cur.execute(sql.SQL("SELECT count(*), max({c})::date FROM {t}").format(c=ts, t=source))
                except psycopg2.errors.UndefinedTable:
                    lines.append(f"  source {sim.database}.{label}: no table yet")
                    continue
                count, last = cur.fetchone()
                lines.append(f"  source {sim.database}.{label}: {count:,} rows" + (f", latest {last}" if last else ""))
                if example_day is None and last and last <= datetime.now(UTC).date():
                    example_day = last.isoformat()
        except psycopg2.Error as exc:
            lines.append(f"  source {sim.database}: unreadable ({str(exc).strip().splitlines()[0]})")
    return lines, example_day


def _covered_days(raw: Path, code: str) -> tuple[str, str] | None:
    """The first and last day the ingestion runs of `code` requested (from their manifests)."""
    windows = []
    for path in (raw / "manifests" / code).glob("run_date=*/manifest.json"):
        try:
            manifest = json.loads(path.read_text())
            windows.append((str(manifest["window_start"]), str(manifest["window_end"])))
        except (OSError, ValueError, KeyError):
            continue
    return (min(w[0] for w in windows), max(w[1] for w in windows)) if windows else None


def accounting(config: StackConfig, passwords: dict[str, str], raw: Path) -> list[str]:
    """Per retailer: do source rows = facts + quarantined add up, and if not, why (the days no run
    has requested yet, future-dated rows among them, or a real gap for the quality report)."""
    lines = []
    loader = passwords.get(LOADER_ROLE, "")
    try:
        with closing(psycopg2.connect(db_url(config, WAREHOUSE_DB, LOADER_ROLE, loader, driver=False),
                                      connect_timeout=3)) as conn, conn.cursor() as cur:
            warehouse = {}
            for code in config.simulators:
                cur.execute("SELECT (SELECT count(*) FROM fact_sales f JOIN dim_retailer d USING (retailer_id) "
                            "WHERE d.retailer_code = %(c)s), "
                            "(SELECT count(*) FROM warehouse_quarantine WHERE retailer_code = %(c)s)", {"c": code})
                warehouse[code] = cur.fetchone()
    except psycopg2.Error:
        return []
    for code, sim in config.simulators.items():
        covered = _covered_days(raw, code)
        if covered is None:
            continue
        first, last = covered
        _, source, ts = source_rows(sim.style)
        try:
            with _source_cursor(config, code, passwords) as cur:
                cur.execute(sql.SQL("SELECT count(*), count(*) FILTER (WHERE {c}::date BETWEEN %s AND %s), "
                                    "count(*) FILTER (WHERE {c}::date > %s) FROM {t}").format(c=ts, t=source),
                            (first, last, last))
                total, inside, after = cur.fetchone()
        except psycopg2.Error:
            continue
        facts, wq = warehouse[code]
        held = _count_jsonl(sorted((raw / "quarantine" / code).rglob("sales_data.json")))
        line = (f"  {code}: {total:,} source rows; the {inside:,} dated {first} .. {last} (the days runs have "
                f"requested) = {facts:,} facts + {wq:,} warehouse-quarantined + {held:,} quarantined at ingestion")
        gap = inside - facts - wq - held
        if gap:
            line += f" [gap {gap:+,}: see the quality report; rerunning those days is the repair]"
        outside = total - inside
        if outside:
            line += (f"; {outside:,} dated outside those days ({after:,} after {last}: future-dated or not run yet)"
                     if after else f"; {outside:,} dated before {first} (not run yet)")
        lines.append(line)
    return lines


_LATEST_QUALITY_RUN = """
SELECT run_date, check_name, coalesce(retailer_code, '-'), severity, passed, observed, threshold
FROM dq_check_results
WHERE run_id = (SELECT run_id FROM dq_check_results ORDER BY checked_at DESC LIMIT 1)
"""


def quality_figures(config: StackConfig, passwords: dict[str, str]) -> list[str]:
    """The latest quality run from dq_check_results: how many checks passed, and which failed."""
    url = db_url(config, WAREHOUSE_DB, LOADER_ROLE, passwords.get(LOADER_ROLE, ""), driver=False)
    try:
        with closing(psycopg2.connect(url, connect_timeout=3)) as conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('dq_check_results') IS NOT NULL")
            if not cur.fetchone()[0]:
                return []
            cur.execute(_LATEST_QUALITY_RUN)
            results = cur.fetchall()
    except psycopg2.Error:
        return []
    if not results:
        return ["  no quality checks recorded yet"]
    failed = [r for r in results if not r[4]]
    critical = sum(1 for r in failed if r[3] == "critical")
    lines = [f"  last run (run_date {results[0][0]}): {len(results) - len(failed)} of {len(results)} checks "
             f"passed, {critical} critical failure(s), {len(failed) - critical} warning(s)"]
    lines += [f"    FAILED {name} ({retailer}, {severity}): observed {observed}, threshold {threshold}"
              for _, name, retailer, severity, _, observed, threshold in failed]
    return lines


