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
import os
import sys
from typing import Any

from retail_pipeline.alerts.messages import (KINDS, MAX_CHECKS, SEVERITY, failed_check_rows, masked,
                                             new_alert, quality_alert, render, report_link, shorten,
                                             title)
from retail_pipeline.alerts.settings import FORMATS, AlertSettings, webhook_label
from retail_pipeline.alerts.webhook import deliver

__all__ = ["FORMATS", "KINDS", "MARKER", "MAX_CHECKS", "SEVERITY", "VIA_ENV", "AlertSettings", "deliver",
           "dispatch", "failed_check_rows", "hand_over", "masked", "new_alert", "quality_alert", "render",
           "report_link", "send", "shorten", "title", "via_airflow", "webhook_label"]

logger = logging.getLogger(__name__)

MARKER = "RETAIL_ALERT "          # the line a Kedro run under Airflow hands its alert over with
VIA_ENV = "RETAIL_ALERTS_VIA"     # "airflow": hand over, do not send


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
