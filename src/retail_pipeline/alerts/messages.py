"""Alerts as data (`new_alert`, `quality_alert`) and as webhook payloads (`render`: JSON, or
Slack's text + blocks)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from retail_pipeline.alerts.settings import AlertSettings

KINDS = ("failure", "quality_critical", "quality_warning")
SEVERITY = {"failure": "error", "quality_critical": "critical", "quality_warning": "warning"}
MAX_CHECKS = 25                   # checks listed in one alert (the report has them all)
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+):[^\s/]*@")


def masked(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***."""
    return _PASSWORD_IN_URL.sub(r"\1:***@", text)


def shorten(text: Any, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def new_alert(kind: str, *, run_date: str, run_id: str = "", retailers: list[str] | None = None,
              checks: list[dict[str, Any]] | None = None, step: str | None = None,
              error: str | None = None, report: str | None = None, pipeline: str | None = None,
              source: str = "kedro") -> dict[str, Any]:
    """The structured alert (what happened, where); `render` makes the webhook payload of it."""
    if kind not in KINDS:
        raise ValueError(f"alert kind must be one of {KINDS}, got {kind!r}")
    return {
        "kind": kind, "run_date": str(run_date or ""), "run_id": str(run_id or ""),
        "retailers": sorted({str(r) for r in retailers or [] if r}),
        "checks": list(checks or []), "step": step, "error": masked(error) if error else None,
        "report": report, "pipeline": pipeline, "source": source,
    }


def failed_check_rows(results) -> list[dict[str, Any]]:
    """The failed critical and warning checks of a results frame (`dq_results`), critical first."""
    rank = {"critical": 0, "warning": 1}
    rows = []
    for row in results.itertuples(index=False):
        if bool(row.passed) or row.severity not in rank:
            continue
        code = row.retailer_code if isinstance(row.retailer_code, str) else None
        details = row.details if isinstance(row.details, dict) else {}
        rows.append({
            "check_name": str(row.check_name), "retailer_code": code, "severity": str(row.severity),
            "observed": _plain(row.observed), "threshold": _plain(row.threshold),
            "message": shorten(details.get("message", ""), 300),
        })
    return sorted(rows, key=lambda r: (rank[r["severity"]], r["check_name"], r["retailer_code"] or ""))


def _plain(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def quality_alert(results, *, run_date: str, run_id: str = "", report: str | None = None,
                  pipeline: str | None = None) -> dict[str, Any] | None:
    """The run's one quality alert: critical when a critical check failed (warnings listed too),
    a warning alert when only warnings failed, None when neither did."""
    checks = failed_check_rows(results)
    if not checks:
        return None
    kind = "quality_critical" if any(c["severity"] == "critical" for c in checks) else "quality_warning"
    retailers = [c["retailer_code"] for c in checks if c["retailer_code"]]
    return new_alert(kind, run_date=run_date, run_id=run_id, retailers=retailers, checks=checks,
                     report=report, pipeline=pipeline)


def report_link(report: str | None, base_url: str | None = None) -> str | None:
    """The report as a link: `<base_url>/<file name>` when a base URL is configured (reports
    published on a web server), else a file:// URI of the local file."""
    if not report:
        return None
    if "://" in report:
        return report
    if base_url:
        return f"{base_url.rstrip('/')}/{Path(report).name}"
    try:
        return Path(report).resolve().as_uri()
    except ValueError:
        return report


def _check_label(check: dict[str, Any]) -> str:
    return f"{check['check_name']} ({check.get('retailer_code') or 'all retailers'})"


def title(alert: dict[str, Any]) -> str:
    kind, day = alert["kind"], alert.get("run_date") or "?"
    checks = alert.get("checks") or []
    airflow = alert.get("airflow") or {}
    if kind == "failure":
        where = (f"Airflow task {airflow.get('dag_id')}.{airflow.get('task_id')}" if airflow
                 else f"kedro run --pipelines {alert.get('pipeline') or '__default__'}")
        tries = f" after {airflow['try_number']} attempt(s)" if airflow.get("try_number") else ""
        who = f" ({', '.join(alert['retailers'])})" if alert.get("retailers") else ""
        return f"Retail pipeline FAILED for {day}{who}: {where}{tries}"
    critical = [c for c in checks if c["severity"] == "critical"]
    warnings = [c for c in checks if c["severity"] == "warning"]
    if kind == "quality_critical":
        more = f"; {len(warnings)} warning(s)" if warnings else ""
        return (f"Data quality CRITICAL for {day}: {len(critical)} critical check(s) failed: "
                f"{shorten(', '.join(_check_label(c) for c in critical), 200)}{more}")
    return (f"Data quality warnings for {day}: {len(warnings)} check(s): "
            f"{shorten(', '.join(_check_label(c) for c in warnings), 200)}")


def _lines(alert: dict[str, Any], settings: AlertSettings) -> list[str]:
    """The body, one fact per line (plain text; Slack's mrkdwn shows it as it is)."""
    lines = [f"Run date: {alert.get('run_date') or '?'}   run id: {alert.get('run_id') or '?'}"]
    lines.append(f"Retailers: {', '.join(alert['retailers']) if alert.get('retailers') else 'all retailers'}")
    if alert.get("step"):
        lines.append(f"Step: {alert['step']}")
    if alert.get("error"):
        lines.append(f"Error: {shorten(alert['error'], 600)}")
    checks = alert.get("checks") or []
    for check in checks[:MAX_CHECKS]:
        lines.append(f"[{check['severity'].upper()}] {_check_label(check)}: {check.get('message') or ''}".rstrip(": "))
    if len(checks) > MAX_CHECKS:
        lines.append(f"... and {len(checks) - MAX_CHECKS} more in the report")
    link = report_link(alert.get("report"), settings.report_base_url)
    if link:
        lines.append(f"Report: {link}")
    airflow = alert.get("airflow") or {}
    if airflow.get("log_url"):
        lines.append(f"Airflow log: {airflow['log_url']}")
    return lines


def render(alert: dict[str, Any], settings: AlertSettings) -> dict[str, Any]:
    """The webhook payload: the alert as JSON (with `title` and `text`), or Slack's
    `{"text", "blocks"}` (incoming webhooks and Block Kit)."""
    head = title(alert)
    lines = _lines(alert, settings)
    link = report_link(alert.get("report"), settings.report_base_url)
    if settings.format == "slack":
        icon = {"failure": ":x:", "quality_critical": ":rotating_light:", "quality_warning": ":warning:"}[alert["kind"]]
        body = "\n".join(lines)
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": shorten(head, 150)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": shorten_block(body)}},
        ]
        if link:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{link}|Open the report>"}]})
        return {"text": f"{icon} {head}", "blocks": blocks}
    payload = {
        "source": "retail_pipeline", "kind": alert["kind"], "severity": SEVERITY[alert["kind"]],
        "title": head, "text": "\n".join([head, *lines]),
        **{k: alert.get(k) for k in ("run_date", "run_id", "retailers", "checks", "step", "error", "pipeline")},
        "report_url": link,
    }
    if alert.get("airflow"):
        payload["airflow"] = alert["airflow"]
    return payload


def shorten_block(text: str, limit: int = 2900) -> str:
    """Slack refuses a section text over 3000 characters."""
    return text if len(text) <= limit else text[: limit - 20] + "\n... (see the report)"


