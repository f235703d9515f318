"""`python -m retail_pipeline.alerts send [--env ENV] [--conf-source DIR] < alert.json`

Sends one alert (the JSON object `retail_pipeline.alerts.new_alert` makes, read from stdin) with
the project's alert configuration of that env: `alerts` parameters and the webhook from the
credentials, as `kedro run` would. The Airflow DAG's notifier uses it, so Airflow and a local run
alert the same way, from the same configuration. Exit code 0 whether or not the alert could be
delivered (the outcome is printed and logged); 2 for input that is not an alert.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from retail_pipeline import alerts


def load_settings(env: str | None, conf_source: str | None) -> alerts.AlertSettings:
    """The env's alert settings, read with the project's own config loader (base, then env)."""
    from retail_pipeline import settings as project

    conf = Path(conf_source) if conf_source else Path.cwd() / "conf"
    args = dict(project.CONFIG_LOADER_ARGS)
    loader = project.CONFIG_LOADER_CLASS(conf_source=str(conf), env=env or None, **args)
    try:
        credentials = loader["credentials"]
    except Exception as exc:  # noqa: BLE001 - e.g. no credentials file, an unset ${oc.env:...}
        alerts.logger.warning("alerts: could not read the credentials of env %s: %s", env or "local",
                              alerts.shorten(alerts.masked(str(exc)), 300))
        credentials = {}
    try:
        params = loader["parameters"].get("alerts") or {}
    except Exception as exc:  # noqa: BLE001
        alerts.logger.warning("alerts: could not read the alerts parameters: %s", alerts.shorten(str(exc), 300))
        params = {}
    return alerts.AlertSettings.from_config(params, credentials)


def _alert(raw: str) -> dict[str, Any]:
    alert = json.loads(raw)
    if not isinstance(alert, dict) or alert.get("kind") not in alerts.KINDS:
        raise ValueError(f"not an alert (kind must be one of {alerts.KINDS})")
    base = alerts.new_alert(alert["kind"], run_date=alert.get("run_date") or "")
    return {**base, **alert}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retail_pipeline.alerts")
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="send the alert read from stdin (JSON)")
    send.add_argument("--env", default=None, help="Kedro env (default: local)")
    send.add_argument("--conf-source", default=None, help="configuration folder (default: ./conf)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        alert = _alert(sys.stdin.read())
    except ValueError as exc:
        print(f"alerts send: {exc}", file=sys.stderr)
        return 2
    settings = load_settings(args.env, args.conf_source)
    if not settings.active:
        print(f"alert not sent: {'alerts disabled' if not settings.enabled else 'no webhook configured'}")
        return 0
    sent = alerts.send(alert, settings)
    print(f"alert {'sent to' if sent else 'NOT delivered to'} {settings.where}: {alerts.title(alert)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
