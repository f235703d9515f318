"""Delivery of an alert to its webhook, `attempts` tries at most (429 and 5xx and connection
errors retried with a short backoff, other 4xx not, no redirect followed), the whole delivery
bounded in time even when the server trickles, and never raising: a delivery that fails is a
warning in the log, never a failed run.

A plain urllib loop rather than urllib3's `Retry`: urllib3 logs every retry with the request
path, and a webhook's path is its secret (Slack's are).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from retail_pipeline.alerts.messages import masked, shorten
from retail_pipeline.alerts.settings import BACKOFF_MAX_SECONDS, AlertSettings

logger = logging.getLogger(__name__)


def _backoff(n: int) -> float:
    return min(0.5 * 2**n, BACKOFF_MAX_SECONDS)


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


