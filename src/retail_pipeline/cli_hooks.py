"""For the person at the console: a progress bar while a run works and one line per run saying
what it extracted, loaded and checked (RunReportHook), and missing credentials explained
(`credentials_problem`, used by `kedro run` in cli.py).

The full log goes to logs/kedro.log (conf/logging.yml); the console shows warnings, errors and
these lines only (`kedro run -v` shows the log on the console too).
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl
from tqdm import tqdm

from retail_pipeline.catalog import credential_names
from retail_pipeline.run_window import window_start

logger = logging.getLogger(__name__)
SQL_DIR = Path(__file__).resolve().parents[2] / "sql" / "runs"


def credentials_problem(context) -> str | None:
    """What the context's env lacks of the credentials its catalog names, said for a person
    (the env, the file, the entries, the fix); None when nothing is missing.

    Kedro stops at the first missing entry with `Unable to find credentials 'raw_zone'`, which
    names neither the env nor the file; `kedro run` (cli.py) shows this instead.
    """
    env = context.env or "local"
    folder = (context.project_path / context.config_loader.conf_source / env).resolve()
    try:
        shown = folder.relative_to(context.project_path.resolve())
    except ValueError:
        shown = folder
    path = shown / "credentials.yml"
    try:
        credentials = context.config_loader["credentials"]
    except MissingConfigException:
        credentials = {}
    except Exception as exc:  # e.g. ${oc.env:AWS_ACCESS_KEY_ID} unset
        if "Environment variable" not in str(exc):
            raise
        return f"{path}: {' '.join(str(exc).split())}. Export it, or write the value in the file (it is git-ignored)."
    missing = sorted(credential_names(context.config_loader["catalog"]) - set(credentials))
    if not missing:
        return None
    if env == "local":
        fix = "`make up` writes it for the local stack (conf/README.md)."
    elif (folder / "README.md").exists():
        fix = f"Create it as {shown / 'README.md'} shows (secrets from the environment, never from git)."
    else:
        fix = "Create it (conf/README.md says how; secrets from the environment, never from git)."
    return f"Kedro env '{env}' has no credentials {', '.join(missing)}: {path} is missing or lacks them.\n{fix}"


def _psycopg2_dsn(con: str) -> str:
    return con.replace("postgresql+psycopg2://", "postgresql://", 1)


class RunReportHook:
    """A progress bar over the run's nodes (only on a terminal) and one line when the run ends."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None
        self._warehouse: str | None = None
        self._started = 0.0

    @hook_impl
    def after_catalog_created(self, conf_creds: dict[str, Any]) -> None:
        self._warehouse = (conf_creds.get("warehouse") or {}).get("con")

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._started = time.monotonic()
        label = f"run_date {_param(catalog, 'run_date')}"
        self._bar = tqdm(total=len(pipeline.nodes), desc=label, unit="step", leave=False,
                         disable=None, file=sys.stderr, dynamic_ncols=True)

    @hook_impl
    def before_node_run(self, node) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(node.name, refresh=True)

    @hook_impl
    def after_node_run(self, node) -> None:
        if self._bar is not None:
            self._bar.update(1)

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._close()

    @hook_impl
    def after_pipeline_run(self, pipeline, catalog) -> None:
        self._close()
        line = self.report(pipeline, catalog)
        logger.info(line)
        tqdm.write(line, file=sys.stdout)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def report(self, pipeline, catalog) -> str:
        """`run_date D (window A..D): <extracted>; <loaded>; <checked>; N s` (never raises)."""
        run_date, run_id = _param(catalog, "run_date"), _param(catalog, "run_id")
        outputs = pipeline.all_outputs()
        retailers = sorted(name.split(".")[0] for name in outputs if name.endswith(".raw_sales"))
        parts = []
        for wanted, count in ((retailers, lambda: _extracted(catalog, retailers)),
                              (any(name.split(".")[-1] == "warehouse_star_schema" for name in outputs), lambda: self._loaded(run_id)),
                              ("dq_check_results" in outputs, lambda: self._checked(run_id))):
            if wanted:
                try:
                    parts.append(count())
                except Exception as exc:  # a summary must never fail a run that succeeded
                    logger.info("run summary: counts unavailable", exc_info=True)
                    parts.append(f"(counts unavailable: {type(exc).__name__})")
        try:
            window = f" (window {window_start(run_date, _param(catalog, 'lookback_days'))}..{run_date})"
        except ValueError:
            window = ""
        return f"run_date {run_date}{window}: " + "; ".join([*parts, f"{time.monotonic() - self._started:.1f} s"])

    def _query(self, name: str, run_id: str) -> tuple:
        """One row of sql/runs/<name>.sql for this run, as the loader role."""
        import psycopg2

        statement = (SQL_DIR / f"{name}.sql").read_text()
        with closing(psycopg2.connect(_psycopg2_dsn(self._warehouse), connect_timeout=5)) as conn, \
                conn.cursor() as cur:
            cur.execute(statement, {"run_id": run_id})
            return cur.fetchone()

    def _loaded(self, run_id: str) -> str:
        loaded, quarantined = self._query("run_loaded", run_id)
        return f"warehouse loaded {loaded:,} facts ({quarantined:,} quarantined at load)"

    def _checked(self, run_id: str) -> str:
        total, passed, critical = self._query("run_checked", run_id)
        warnings = total - passed - critical
        tail = f", {warnings} warning(s): see the report" if warnings else ""
        return f"quality {passed} of {total} checks passed{tail}"


def _param(catalog, name: str) -> Any:
    try:
        return catalog.load(f"params:{name}")
    except Exception:
        return None


def _extracted(catalog, retailers: list[str]) -> str:
    """From each retailer's manifest: rows received, written to the raw zone, quarantined; the
    retailers without a manifest for the run date (it loads None) are named, not counted."""
    received = written = quarantined = 0
    missing = []
    for code in retailers:
        manifest = catalog.load(f"{code}.ingestion_manifest")
        if manifest is None:
            missing.append(code)
            continue
        received += int(manifest["rows_received"])
        written += int(manifest["rows_written"])
        quarantined += int(manifest["rows_quarantined"])
    counted = len(retailers) - len(missing)
    who = next(c for c in retailers if c not in missing) if counted == 1 else f"{counted} retailers"
    tail = f" (no ingestion manifest for {', '.join(missing)})" if missing else ""
    return f"{who} sent {received:,} records: {written:,} to the raw zone, {quarantined:,} quarantined{tail}"
