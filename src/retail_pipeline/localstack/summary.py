"""`make summary`: what the warehouse, the raw zone and the quality runs hold, and what to open next."""

from __future__ import annotations

import json
import os
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
from psycopg2 import sql

from retail_pipeline.localstack.config import HOST, LOADER_ROLE, READER_ROLE, RETAILERS, WAREHOUSE_DB, StackConfig
from retail_pipeline.localstack.postgres import bin_dir
from retail_pipeline.localstack.stack import _display, db_url, load_secrets, say


def _count_jsonl(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def _zone_counts(base: Path) -> dict[str, tuple[int, int]]:
    """{retailer_code: (files, records)} for the partitions under `base`."""
    counts = {}
    if base.is_dir():
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            files = sorted(folder.rglob("sales_data.json"))
            counts[folder.name] = (len(files), _count_jsonl(files))
    return counts


def _warehouse_figures(config: StackConfig, passwords: dict[str, str]) -> tuple[list[str], str | None]:
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
    for r in RETAILERS:
        url = db_url(config, r.db_name, LOADER_ROLE, passwords.get(LOADER_ROLE, ""), driver=False)
        try:
            with closing(psycopg2.connect(url, connect_timeout=3)) as conn, conn.cursor() as cur:
                cur.execute("SELECT to_regclass(%s) IS NOT NULL", (r.table,))
                if not cur.fetchone()[0]:
                    lines.append(f"  source {r.db_name}.{r.table}: no table yet")
                    continue
                cur.execute(sql.SQL("SELECT count(*), max({c})::date FROM {t}").format(
                    c=sql.Identifier(r.ts_column), t=sql.Identifier(r.table)))
                count, last = cur.fetchone()
                lines.append(f"  source {r.db_name}.{r.table}: {count:,} rows" + (f", latest {last}" if last else ""))
                if r.code == "retailer_1" and last and last <= datetime.now(UTC).date():
                    example_day = last.isoformat()
        except psycopg2.Error as exc:
            lines.append(f"  source {r.db_name}: unreadable ({str(exc).strip().splitlines()[0]})")
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


def _accounting(config: StackConfig, passwords: dict[str, str], raw: Path) -> list[str]:
    """Per retailer: do source rows = facts + quarantined add up, and if not, why (the days no run
    has requested yet, future-dated rows among them, or a real gap for the quality report)."""
    lines = []
    loader = passwords.get(LOADER_ROLE, "")
    try:
        with closing(psycopg2.connect(db_url(config, WAREHOUSE_DB, LOADER_ROLE, loader, driver=False),
                                      connect_timeout=3)) as conn, conn.cursor() as cur:
            warehouse = {}
            for r in RETAILERS:
                cur.execute("SELECT (SELECT count(*) FROM fact_sales f JOIN dim_retailer d USING (retailer_id) "
                            "WHERE d.retailer_code = %(c)s), "
                            "(SELECT count(*) FROM warehouse_quarantine WHERE retailer_code = %(c)s)", {"c": r.code})
                warehouse[r.code] = cur.fetchone()
    except psycopg2.Error:
        return []
    for r in RETAILERS:
        covered = _covered_days(raw, r.code)
        if covered is None:
            continue
        first, last = covered
        try:
            url = db_url(config, r.db_name, LOADER_ROLE, loader, driver=False)
            with closing(psycopg2.connect(url, connect_timeout=3)) as conn, conn.cursor() as cur:
                cur.execute(sql.SQL("SELECT count(*), count(*) FILTER (WHERE {c}::date BETWEEN %s AND %s), "
                                    "count(*) FILTER (WHERE {c}::date > %s) FROM {t}").format(
                    c=sql.Identifier(r.ts_column), t=sql.Identifier(r.table)), (first, last, last))
                total, inside, after = cur.fetchone()
        except psycopg2.Error:
            continue
        facts, wq = warehouse[r.code]
        held = sum(1 for f in (raw / "quarantine" / r.code).rglob("sales_data.json") for line in open(f, "rb")
                   if line.strip()) if (raw / "quarantine" / r.code).is_dir() else 0
        line = (f"  {r.code}: {total:,} source rows; the {inside:,} dated {first} .. {last} (the days runs have "
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


def _quality_figures(config: StackConfig, passwords: dict[str, str]) -> list[str]:
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


def summary(config: StackConfig) -> int:
    passwords = load_secrets(config, create=False) if config.secrets_file.exists() else {}
    say("== What the stack holds ==")
    if passwords:
        lines, example_day = _warehouse_figures(config, passwords)
    else:
        lines, example_day = ["  (no stack yet: `make up` creates it)"], None
    for line in lines:
        say(line)

    raw = config.data_dir / "01_raw"
    say(f"\n== Raw zone ({_display(config, raw)}) ==")
    accepted, quarantined = _zone_counts(raw / "raw"), _zone_counts(raw / "quarantine")
    if not accepted and not quarantined:
        say("  no partitions yet (the ingestion pipeline writes them)")
    for code in sorted(set(accepted) | set(quarantined)):
        files, records = accepted.get(code, (0, 0))
        q_files, q_records = quarantined.get(code, (0, 0))
        say(f"  {code}: {records:,} records in {files} partition files; {q_records:,} quarantined ({q_files} files)")

    accounting = _accounting(config, passwords, raw) if passwords else []
    if accounting:
        say("\n== Does it add up (source rows = facts + quarantined) ==")
        for line in accounting:
            say(line)

    reports = config.data_dir / "08_reporting"
    found = sorted((p for p in reports.rglob("*.html")), key=lambda p: p.stat().st_mtime) if reports.is_dir() else []
    say("\n== Quality ==")
    for line in _quality_figures(config, passwords) if passwords else []:
        say(line)
    say(f"  latest report: {_display(config, found[-1])}" if found else "  no quality report yet")

    day = example_day or (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    p1, p2, p3 = (config.api_ports[r.code] for r in RETAILERS)
    k1, k2, k3 = (config.api_keys[r.code] for r in RETAILERS)
    try:
        psql = _display(config, bin_dir() / "psql")
    except RuntimeError:
        psql = "psql"
    pgpass = _display(config, config.pgpass_file)
    say("\n== Open next ==")
    say("  SQL as the read-only BI role:  make psql   (or: make psql SQL='SELECT count(*) FROM fact_sales')")
    say(f"    the same by hand: PGPASSFILE={pgpass} {psql} -h {HOST} -p {config.pg_port} -U {READER_ROLE} {WAREHOUSE_DB}")
    say(f"    (as the loader: -U {LOADER_ROLE}; all connection strings are in {_display(config, config.credentials_file)})")
    say("  The retailer APIs:")
    say(f'    curl -H "Authorization: Bearer {k1}" "http://localhost:{p1}/sales?start_date={day}&end_date={day}"')
    say(f'    curl -H "X-API-Key: {k2}" "http://localhost:{p2}/transactions?from={day}&to={day}"')
    say(f'    curl -X POST -H "apikey: {k3}" -H "Content-Type: application/json" '
        f'-d \'{{"dateFrom": "{day}", "dateTo": "{day}"}}\' "http://localhost:{p3}/sales/query"')
    viz_port = os.environ.get("RETAIL_VIZ_PORT", "4141")
    say(f"  The pipeline graph:   make viz, then http://127.0.0.1:{viz_port}")
    notebooks = sorted((config.root / "notebooks").glob("*.ipynb"))
    shown = ", ".join(_display(config, n) for n in notebooks) or "notebooks/"
    say(f"  Notebooks:            make lab (JupyterLab with the project's Kedro kernel): {shown}")
    say("  Stop everything:      make down")
    return 0
