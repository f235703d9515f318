"""`make summary`: what the warehouse, the raw zone and the quality runs hold, and what to open next.

One section line per registry retailer; the example API calls are written from each entry's
`api:` (method, endpoint, date parameters, auth style), so a new retailer shows up by itself.
"""

from __future__ import annotations

import json
import os
import shlex
from datetime import UTC, datetime, timedelta

from retail_pipeline.devstack import figures
from retail_pipeline.devstack.config import HOST, LOADER_ROLE, READER_ROLE, WAREHOUSE_DB, Simulator, StackConfig
from retail_pipeline.devstack.postgres import bin_dir
from retail_pipeline.devstack.state import load_secrets, say

_TOKEN_FIELD = "python3 -c 'import json, sys; print(json.load(sys.stdin)[\"access_token\"])'"


def example_calls(entry: dict, sim: Simulator, day: str, host: str = "localhost") -> list[str]:
    """Shell lines that fetch one day from a retailer's API as the pipeline does (auth, dates)."""
    api = entry["api"]
    auth, dates = api["auth"], api["dates"]
    base = f"http://{host}:{sim.port}"
    lines, args = [], []
    if auth["style"] == "oauth2_client_credentials":
        client = shlex.quote(f"{sim.secrets['client_id']}:{sim.secrets['client_secret']}")
        lines.append(f'TOKEN=$(curl -s -u {client} -d grant_type=client_credentials '
                     f'"{base}{auth["token_endpoint"]}" | {_TOKEN_FIELD})')
        args.append('-H "Authorization: Bearer $TOKEN"')
    else:
        value = f"{auth['scheme']} {sim.secrets['api_key']}" if auth.get("scheme") else sim.secrets["api_key"]
        args.append(f'-H "{auth["header"]}: {value}"')
    window = {dates["start"]: day, dates["end"]: day}
    url = f"{base}{api['endpoint']}"
    if dates.get("in", "query") == "body":
        args = ["-X", api.get("method", "POST"), *args, '-H "Content-Type: application/json"',
                f"-d {shlex.quote(json.dumps(window))}"]
    else:
        url += "?" + "&".join(f"{key}={value}" for key, value in window.items())
        if api.get("method", "GET") != "GET":
            args.insert(0, f"-X {api['method']}")
    lines.append(f'curl {" ".join(args)} "{url}"')
    return lines


def _holdings(config: StackConfig, passwords: dict[str, str]) -> str | None:
    """The warehouse, raw zone, accounting and quality sections; the example day for the calls."""
    say("== What the stack holds ==")
    if passwords:
        lines, example_day = figures.warehouse_figures(config, passwords)
    else:
        lines, example_day = ["  (no stack yet: `make up` creates it)"], None
    for line in lines:
        say(line)

    raw = config.data_dir / "01_raw"
    say(f"\n== Raw zone ({config.display(raw)}) ==")
    accepted, quarantined = figures.zone_counts(raw / "raw"), figures.zone_counts(raw / "quarantine")
    if not accepted and not quarantined:
        say("  no partitions yet (the ingestion pipeline writes them)")
    for code in sorted(set(accepted) | set(quarantined)):
        files, records = accepted.get(code, (0, 0))
        q_files, q_records = quarantined.get(code, (0, 0))
        say(f"  {code}: {records:,} records in {files} partition files; {q_records:,} quarantined ({q_files} files)")

    accounting = figures.accounting(config, passwords, raw) if passwords else []
    if accounting:
        say("\n== Does it add up (source rows = facts + quarantined) ==")
        for line in accounting:
            say(line)

    reports = config.data_dir / "08_reporting"
    found = sorted((p for p in reports.rglob("*.html")), key=lambda p: p.stat().st_mtime) if reports.is_dir() else []
    say("\n== Quality ==")
    for line in figures.quality_figures(config, passwords) if passwords else []:
        say(line)
    say(f"  latest report: {config.display(found[-1])}" if found else "  no quality report yet")
    return example_day


def summary(config: StackConfig) -> int:
    passwords = load_secrets(config, create=False) if config.secrets_file.exists() else {}
    example_day = _holdings(config, passwords)

    day = example_day or (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    try:
        psql = config.display(bin_dir() / "psql")
    except RuntimeError:
        psql = "psql"
    pgpass = config.display(config.pgpass_file)
    say("\n== Open next ==")
    say("  SQL as the read-only BI role:  make psql   (or: make psql SQL='SELECT count(*) FROM fact_sales')")
    say(f"    the same by hand: PGPASSFILE={pgpass} {psql} -h {HOST} -p {config.pg_port} -U {READER_ROLE} {WAREHOUSE_DB}")
    say(f"    (as the loader: -U {LOADER_ROLE}; all connection strings are in {config.display(config.credentials_file)})")
    say(f"  The retailer APIs ({day}):")
    for code, sim in config.simulators.items():
        say(f"    # {code} ({config.retailers[code].get('name', code)}, {sim.style} simulator)")
        for line in example_calls(config.retailers[code], sim, day):
            say(f"    {line}")
    viz_port = os.environ.get("RETAIL_VIZ_PORT", "4141")
    say(f"  The pipeline graph:   make viz, then http://127.0.0.1:{viz_port}")
    notebooks = sorted((config.root / "notebooks").glob("*.ipynb"))
    shown = ", ".join(config.display(n) for n in notebooks) or "notebooks/"
    say(f"  Notebooks:            make lab (JupyterLab with the project's Kedro kernel): {shown}")
    say("  Stop everything:      make down")
    return 0
