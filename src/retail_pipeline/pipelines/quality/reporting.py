"""Results, report and gate: the end of the quality pipeline.

`assemble_results` stamps the run on every check's rows; `render_report` writes the HTML report
(dated and latest) and logs a summary; `quality_gate` fails the run when a critical check
failed, after both are saved. A run that cannot get this far still gets a report: see
`retail_pipeline.quality.failure` and the `QualityReportHook` in `retail_pipeline.hooks`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd

from retail_pipeline.run_window import parse_run_date

from .results import RESULT_COLUMNS, DataQualityError

logger = logging.getLogger(__name__)


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
    warnings = failed_checks(results, "warning")
    lines = [f"Data quality for {run_date}: {total - len(failed)} of {total} checks passed, "
             f"{len(critical)} critical failures, {len(warnings)} warnings"
             + (f", {len(failed) - len(critical) - len(warnings)} info." if len(failed) > len(critical) + len(warnings)
                else ".")]
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
    saved (it takes the report node's summary as input), so both survive the failure. The
    message ends with the verdict: the checks and retailers that failed, and the report."""
    critical = failed_checks(results, "critical")
    if critical.empty:
        logger.info("Quality gate passed: no critical check failed.")
        return
    names = sorted({f"{r.check_name} ({_retailer_label(r.retailer_code)})" for r in critical.itertuples()})
    lines = summary.splitlines()
    report = next((line for line in lines if line.startswith("Report: ")), None)
    body = [line for line in lines if line != report]
    verdict = (f"{len(critical)} critical data-quality check(s) failed for run_date "
               f"{critical['run_date'].iloc[0]}: {', '.join(names)}."
               + (f" {report}" if report else ""))
    raise DataQualityError("\n".join([*body, verdict]))
