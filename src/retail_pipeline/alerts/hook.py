"""`AlertHook`: a `kedro run` alerts once when it ends badly (see `retail_pipeline.alerts`).

* the run failed: a `failure` alert naming the step (node, and what it was loading, running or
  saving), the retailer (the node's namespace, or a retailer the error names), the error, and
  the quality report when the run writes one (the QualityReportHook's "could not complete"
  report);
* the quality gate failed (`DataQualityError`): one `quality_critical` alert with every failed
  critical and warning check, its retailer and message, and the report;
* the run succeeded but quality checks gave warnings: one `quality_warning` alert.

Nothing else alerts (a success without warnings, `info` results). The hook runs after the
other hooks' error handling (`trylast`), so the failure report it links exists; nothing it does
can fail the run or change its error.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from retail_pipeline import alerts
from retail_pipeline.run_steps import RunSteps

logger = logging.getLogger(__name__)


class AlertHook(RunSteps):
    def __init__(self) -> None:
        self._project_path: Path | None = None
        self._credentials: dict[str, Any] = {}
        self._reset()

    def _reset(self, pipeline=None, run_params: dict[str, Any] | None = None) -> None:
        self._reset_steps(pipeline)
        self._run_params = run_params or {}
        self._params: dict[str, Any] = {}
        self._quality: dict[str, Any] = {}
        self._run_date = self._run_id = ""
        self._started = time.time()
        self._results = None

    # -- configuration -------------------------------------------------------------------
    @hook_impl
    def after_context_created(self, context) -> None:
        self._project_path = Path(context.project_path)

    @hook_impl
    def after_catalog_created(self, conf_creds: dict[str, Any]) -> None:
        self._credentials = dict(conf_creds or {})

    def settings(self) -> alerts.AlertSettings:
        return alerts.AlertSettings.from_config(self._params, self._credentials)

    # -- following the run ---------------------------------------------------------------
    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        self._reset(pipeline, run_params)
        self._params = _param(catalog, "alerts") or {}
        self._quality = _param(catalog, "quality") or {}
        self._run_date = str(_param(catalog, "run_date") or "")
        self._run_id = str(_param(catalog, "run_id") or (run_params or {}).get("run_id") or "")

    def _collect(self, node, outputs) -> None:
        import pandas as pd

        results = outputs.get("dq_results")
        if isinstance(results, pd.DataFrame) and {"check_name", "severity", "passed"} <= set(results.columns):
            self._results = results

    # -- the end of the run --------------------------------------------------------------
    @hook_impl(trylast=True)
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        try:
            settings = self.settings()
            if not settings.enabled:
                return
            alerts.dispatch(self.error_alert(error), settings)
        except Exception:  # noqa: BLE001 - the run's own error must surface, not ours
            logger.warning("Could not build the alert for the failed run", exc_info=True)

    @hook_impl(trylast=True)
    def after_pipeline_run(self, run_params, pipeline, catalog) -> None:
        try:
            settings = self.settings()
            if not settings.enabled or self._results is None:
                return
            alert = alerts.quality_alert(self._results, run_date=self._run_date, run_id=self._run_id,
                                         report=self._report(), pipeline=self._pipeline_label())
            if alert is None or (alert["kind"] == "quality_warning" and not settings.warnings):
                return
            alerts.dispatch(alert, settings)
        except Exception:  # noqa: BLE001 - a run that succeeded stays a success
            logger.warning("Could not build the quality alert", exc_info=True)

    def error_alert(self, error: BaseException) -> dict[str, Any]:
        from retail_pipeline.pipelines.quality.results import DataQualityError
        from retail_pipeline.quality.failure import cause_of

        if isinstance(error, DataQualityError) and self._results is not None:
            alert = alerts.quality_alert(self._results, run_date=self._run_date, run_id=self._run_id,
                                         report=self._report(), pipeline=self._pipeline_label())
            if alert is not None and alert["kind"] == "quality_critical":
                alert["error"] = alerts.shorten(str(error).strip().splitlines()[-1], 600)
                return alert
        kind = "quality_critical" if isinstance(error, DataQualityError) else "failure"
        step, node = self.failed_step()
        cause = cause_of(error)
        return alerts.new_alert(
            kind, run_date=self._run_date, run_id=self._run_id,
            retailers=self._retailers(node, step, cause), step=step, error=alerts.shorten(cause, 1000),
            report=self._report(written_by_now=True), pipeline=self._pipeline_label())

    # -- what the alert says -------------------------------------------------------------
    def _retailers(self, node, step: str | None, cause: str) -> list[str]:
        from retail_pipeline.registry import retailer_codes

        codes = retailer_codes()
        if node is not None and node.namespace:
            top = node.namespace.split(".")[0]
            if top in codes:
                return [top]
        named = [code for code in codes if re.search(rf"(?<![\w]){re.escape(code)}(?![\w])", f"{step or ''} {cause}")]
        if named:
            return named
        namespaces = self._run_params.get("namespaces") or []
        return [ns for ns in namespaces if ns in codes]

    def _pipeline_label(self) -> str:
        names = self._run_params.get("pipeline_names") or ["__default__"]
        label = ",".join(names)
        if self._run_params.get("namespaces"):
            label += f" --namespaces {','.join(self._run_params['namespaces'])}"
        return label

    def _report(self, written_by_now: bool = False) -> str | None:
        """The run date's quality report, when this run's pipeline writes one (for a failure: when
        it was written during this run, e.g. the "could not complete" report)."""
        if self._pipeline is None or "dq_report_latest" not in self._pipeline.all_outputs():
            return None
        path = str(self._quality.get("report_path") or "").replace("{run_date}", self._run_date)
        if not path:
            return None
        if "://" in path:
            return path
        local = Path(path)
        if not local.is_absolute() and self._project_path is not None:
            local = self._project_path / local
        if written_by_now and not (local.exists() and local.stat().st_mtime >= self._started - 1):
            return None
        return str(local)


def _param(catalog, name: str) -> Any:
    try:
        return catalog.load(f"params:{name}")
    except Exception:  # noqa: BLE001 - an alert does with what it can get
        return None
