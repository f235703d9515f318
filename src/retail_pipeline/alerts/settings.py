"""Alert settings: the `alerts` parameters and the webhook URL from the credentials; a bad value
is logged and replaced by its default (the configuration of alerts must never fail a run)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

FORMATS = ("json", "slack")
BACKOFF_MAX_SECONDS = 2.0  # between delivery attempts (webhook.py)


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
        return self.attempts * (self.timeout_seconds + BACKOFF_MAX_SECONDS) + 1.0  # backoff bounded above

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


