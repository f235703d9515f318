"""The report of a run whose quality checks could not complete.

A query that fails, a check that raises, a source or zone that cannot be read, a warehouse that
stops mid-run: the pipeline never reaches its report node, and yesterday's green report would
stay as `dq_report_latest.html`. `QualityReportHook` (retail_pipeline.hooks) renders this page
instead, through the catalog's `dq_report` and `dq_report_latest`: it says that the checks did
not complete, which step failed and why, what completed before, and what did not run.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
from jinja2 import Environment, select_autoescape

CHECK_NAME = "quality_checks_completed"   # the result row recorded for such a run

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Data quality {{ run_date }}: checks could not complete</title>
<style>
 body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem;color:#222;max-width:1200px}
 .sub{color:#666;margin-top:0} .banner{padding:.8rem 1rem;border-radius:6px;font-weight:600;margin:1rem 0}
 .bad{background:#fde8e8;color:#a11}
 table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;font-size:.9rem}
 th,td{border:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top} th{background:#f5f5f5}
 .critical{color:#a11;font-weight:600} .warning{color:#8a5300;font-weight:600} .pass{color:#1e6b34}
 pre{white-space:pre-wrap;font-size:.8rem;background:#fafafa;padding:.5rem}
</style></head><body>
<h1>Data quality report: {{ run_date }}</h1>
<p class="sub">run {{ run_id }}</p>
<div class="banner bad">CHECKS COULD NOT COMPLETE: {{ headline }}</div>
<h2>What failed</h2>
<table>
<tr><th>step</th><td>{{ step }}</td></tr>
<tr><th>cause</th><td>{{ cause }}</td></tr>
<tr><th>what to do</th><td>Fix the cause, then rerun the run date
 (<code>kedro run --pipeline quality --params run_date={{ run_date }}</code>, or the whole run):
 the checks below are not a verdict on this day's data.</td></tr>
</table>
<h2>Checks that completed before the failure</h2>
{% if rows %}<table><tr><th>check</th><th>retailer</th><th>severity</th><th>result</th><th>message</th></tr>
{% for r in rows %}<tr><td>{{ r.check_name }}</td><td>{{ r.retailer }}</td><td>{{ r.severity }}</td>
<td class="{{ 'pass' if r.passed else r.severity }}">{{ 'pass' if r.passed else 'FAIL' }}</td><td>{{ r.message }}</td></tr>{% endfor %}
</table>{% else %}<p>None.</p>{% endif %}
<h2>Steps that did not run</h2>
{% if not_run %}<ul>{% for n in not_run %}<li>{{ n }}</li>{% endfor %}</ul>{% else %}<p>None.</p>{% endif %}
<h2>The error</h2>
<pre>{{ error_text }}</pre>
</body></html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+):[^\s/]*@")


def masked(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***."""
    return _PASSWORD_IN_URL.sub(r"\1:***@", text)


_KEDRO_WRAPPERS = ("Failed while loading data from dataset", "Failed while saving data to dataset")


def cause_of(error: BaseException) -> str:
    """The error's message on one line, with its type; Kedro's "Failed while loading data from
    dataset <its whole description>" first line is dropped (the dataset's own message follows)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith(_KEDRO_WRAPPERS):
        lines = lines[1:]
    return masked(f"{type(error).__name__}: {' '.join(lines) if lines else '(no message)'}")


def headline(run_date: str, step: str, cause: str, in_quality: bool) -> str:
    """One line: what did not complete, where, and why."""
    if in_quality:
        return f"Data-quality checks could not complete for run_date {run_date}: {step} failed: {cause}"
    return (f"Data-quality checks did not run for run_date {run_date}: the run stopped at {step} "
            f"before them: {cause}")


def render_failure_html(*, run_date: str, run_id: str, step: str, cause: str, in_quality: bool,
                        completed: pd.DataFrame | None, not_run: list[str], error: BaseException) -> str:
    rows = []
    if completed is not None and not completed.empty:
        for r in completed.itertuples(index=False):
            details = r.details if isinstance(r.details, dict) else json.loads(r.details or "{}")
            rows.append({"check_name": r.check_name, "severity": r.severity, "passed": bool(r.passed),
                         "retailer": "(all retailers)" if pd.isna(r.retailer_code) else str(r.retailer_code),
                         "message": details.get("message", "")})
    rows.sort(key=lambda r: (r["passed"], r["check_name"], r["retailer"]))
    chain, seen, current = [], set(), error
    while current is not None and id(current) not in seen and len(chain) < 5:
        seen.add(id(current))
        chain.append(masked(f"{type(current).__name__}: {current}"))
        current = current.__cause__ or current.__context__
    return _env.from_string(_TEMPLATE).render(
        run_date=run_date, run_id=run_id, step=step, cause=cause, rows=rows, not_run=not_run,
        headline=headline(run_date, step, cause, in_quality), error_text="\n\ncaused by ".join(chain)[:20000],
    )


def failure_result(step: str, cause: str, message: str) -> dict[str, Any]:
    """The critical result row recorded in dq_check_results for a run that could not complete."""
    from retail_pipeline.pipelines.quality.results import result

    return result(None, CHECK_NAME, "critical", None, None, False, message=message, step=step, cause=cause)
