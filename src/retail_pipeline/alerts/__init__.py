"""Alerts: one message per failed run, critical data-quality failure or data-quality warnings,
POSTed to a webhook (JSON, or a Slack-compatible payload).

Who decides and who sends:

* `kedro run`: `AlertHook` (`retail_pipeline.alerts.hook`, registered in settings.HOOKS) builds
  the alert when the run ends: the run failed (`failure`: the step, the retailer, the error), the
  quality gate failed (`quality_critical`: the checks), or the checks passed with warnings
  (`quality_warning`). At most one per run; sent with `send`.
* Airflow: each task's `kedro run` is started with `RETAIL_ALERTS_VIA=airflow`; the hook then
  hands its alert to the task (one line on stdout, `RETAIL_ALERT {json}`) instead of sending it,
  and the DAG's notifier (`on_failure_callback`, which Airflow calls only after the last retry;
  `on_success_callback` for warnings) sends it once through
  `python -m retail_pipeline.alerts send` with the same configuration. So a retried task alerts
  once, for its final failure.

Configuration: `alerts` in conf/base/parameters_alerts.yml (enabled, format, timeout, attempts,
report link base) and the webhook URL in the credentials entry it names (`alerts_webhook: {url:
...}`, e.g. conf/local/credentials_alerts.yml: never in git). No URL, or `enabled: false`: no
alert and no error. A webhook that fails, refuses or hangs costs at most `attempts` x
`timeout_seconds` (plus a short backoff), is logged as a warning, and never fails the run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

KINDS = ("failure", "quality_critical", "quality_warning")
SEVERITY = {"failure": "error", "quality_critical": "critical", "quality_warning": "warning"}
FORMATS = ("json", "slack")
MARKER = "RETAIL_ALERT "          # the line a Kedro run under Airflow hands its alert over with
VIA_ENV = "RETAIL_ALERTS_VIA"     # "airflow": hand over, do not send
MAX_CHECKS = 25                   # checks listed in one alert (the report has them all)
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+):[^\s/]*@")


def masked(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***."""
    return _PASSWORD_IN_URL.sub(r"\1:***@", text)


def shorten(text: Any, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- configuration --------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertSettings:
    enabled: bool = True
    url: str | None = None
    format: str = "json"
    timeout_seconds: float = 5.0
    attempts: int = 2
    report_base_url: str | None = None
    warnings: bool = True

    @property
    def active(self) -> bool:
        return bool(self.enabled and self.url)

    @property
    def budget_seconds(self) -> float:
        """The longest a delivery may take: every attempt timing out, plus the backoff."""
        return self.attempts * self.timeout_seconds + sum(_backoff(n) for n in range(self.attempts - 1)) + 1.0

    @property
    def where(self) -> str:
        """The webhook without its path (which often holds the secret, e.g. Slack's)."""
        return webhook_label(self.url)

    @classmethod
    def from_config(cls, params: dict[str, Any] | None, credentials: dict[str, Any] | None) -> AlertSettings:
        """From the `alerts` parameters and the credentials; a bad value is logged and replaced by
        its default (configuration of alerts must never fail a run)."""
        params = dict(params or {})
        entry = (credentials or {}).get(str(params.get("credentials") or "alerts_webhook")) or {}
        url = entry.get("url") if isinstance(entry, dict) else entry if isinstance(entry, str) else None
        url = str(url).strip() if url else None
        if url and urlsplit(url).scheme not in ("http", "https"):
            logger.warning("alerts: the webhook URL must be http(s)://, got %s: alerts are off", webhook_label(url))
            url = None
        fmt = str(params.get("format") or "json").lower()
        if fmt not in FORMATS:
            logger.warning("alerts.format must be one of %s, got %r: using json", FORMATS, fmt)
            fmt = "json"
        return cls(
            enabled=_flag(params.get("enabled", True)),
            url=url,
            format=fmt,
            timeout_seconds=_number(params, "timeout_seconds", 5.0, 0.1, 60.0),
            attempts=int(_number(params, "attempts", 2, 1, 5)),
            report_base_url=(str(params["report_base_url"]).strip() or None) if params.get("report_base_url") else None,
            warnings=_flag(params.get("warnings", True)),
        )


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off", "")
    return bool(value)


def _number(params: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    try:
        value = float(params.get(name, default))
        if math.isnan(value):
            raise ValueError
    except (TypeError, ValueError):
        logger.warning("alerts.%s must be a number, got %r: using %s", name, params.get(name), default)
        return default
    return min(max(value, low), high)


def webhook_label(url: str | None) -> str:
    if not url:
        return "(no webhook)"
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/..."


# -- building an alert -----------------------------------------------------------------------
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


# -- rendering -------------------------------------------------------------------------------
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


# -- delivery --------------------------------------------------------------------------------
def _backoff(n: int) -> float:
    return min(0.5 * 2**n, 2.0)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0913
        return None   # a webhook that redirects is misconfigured: say so, do not follow


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, timeout: float) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "retail-pipeline-alerts"})
    with _OPENER.open(request, timeout=timeout) as response:
        response.read(1024)
        return response.status


def deliver(payload: dict[str, Any], settings: AlertSettings) -> bool:
    """POST the payload, `attempts` times at most (a 4xx answer other than 429 is not retried);
    the whole delivery is bounded by `settings.budget_seconds` even when the server trickles.
    Never raises; a delivery that fails is logged as a warning."""
    body = json.dumps(payload, default=str).encode()
    outcome: dict[str, Any] = {"ok": False, "why": "no attempt made"}

    def attempt_all() -> None:
        for n in range(settings.attempts):
            try:
                status = _post(settings.url, body, settings.timeout_seconds)
                outcome.update(ok=200 <= status < 300, why=f"HTTP {status}")
                if outcome["ok"]:
                    return
            except urllib.error.HTTPError as exc:
                outcome["why"] = f"HTTP {exc.code} {exc.reason}"
                if 300 <= exc.code < 500 and exc.code != 429:
                    return
            except Exception as exc:  # noqa: BLE001 - refused, timed out, reset, DNS...
                outcome["why"] = masked(shorten(f"{type(exc).__name__}: {exc}", 200))
            if n + 1 < settings.attempts:
                time.sleep(_backoff(n))

    worker = threading.Thread(target=attempt_all, name="retail-alert", daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(settings.budget_seconds)
    if worker.is_alive():
        outcome["why"] = f"no answer within {settings.budget_seconds:.0f} s"
    if outcome["ok"]:
        logger.info("alert sent to %s (%.1f s)", settings.where, time.monotonic() - started)
        return True
    logger.warning("Could not deliver the alert to the webhook %s after %d attempt(s): %s. "
                   "The run's outcome is unchanged.", settings.where, settings.attempts, outcome["why"])
    return False


def send(alert: dict[str, Any], settings: AlertSettings) -> bool:
    """Render and deliver one alert when alerts are on; never raises."""
    try:
        if not settings.active:
            logger.info("alert not sent (%s): %s", "alerts disabled" if not settings.enabled else "no webhook configured",
                        title(alert))
            return False
        return deliver(render(alert, settings), settings)
    except Exception as exc:  # noqa: BLE001 - an alert must never fail the run
        logger.warning("Could not send the alert: %s", masked(shorten(f"{type(exc).__name__}: {exc}", 300)))
        return False


def via_airflow() -> bool:
    return os.environ.get(VIA_ENV, "").strip().lower() == "airflow"


def hand_over(alert: dict[str, Any]) -> None:
    """Under Airflow: one line on stdout for the task (KedroRunOperator) to pick up."""
    sys.stdout.write(MARKER + json.dumps(alert, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def dispatch(alert: dict[str, Any], settings: AlertSettings) -> None:
    """Send the alert, or hand it to the Airflow task that runs this Kedro run."""
    if via_airflow():
        try:
            hand_over(alert)
        except Exception:  # noqa: BLE001
            logger.warning("Could not hand the alert over to Airflow", exc_info=True)
        return
    send(alert, settings)
