"""Project commands for the `kedro` CLI (Kedro loads `cli` from here, over its own commands).

`kedro run` is Kedro's own command with two changes for the person at the console:

- a user error (a malformed run date, missing credentials, an unknown pipeline or env) ends
  the run with one or two lines naming the value, file or variable and the fix, exit code 2,
  instead of a traceback; program and system faults keep theirs. Missing credentials are all
  named at once, with the env's file (Kedro names the first entry only);
- `-v/--verbose` shows Kedro's log on the console as well as in logs/kedro.log (conf/logging.yml
  keeps the console to warnings, errors and the run's one-line summary).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.project import settings
from kedro.utils import find_kedro_project

from retail_pipeline.run_window import parse_run_date, window_start
from retail_pipeline.user_errors import is_credentials_error, user_error_message


class UserFacingError(click.ClickException):
    """Printed by click as `Error: <message>` with no traceback."""

    exit_code = 2


def show_log_on_console() -> None:
    """Let the console handlers of the logging config pass INFO records too."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "name", None) == "console":
            handler.setLevel(logging.INFO)


def _credentials_message(env: str | None, conf_source: str | None) -> str | None:
    """The env's missing credentials, all of them, with the file and the fix (cli_hooks)."""
    from kedro.framework.session import KedroSession

    from retail_pipeline.cli_hooks import credentials_problem

    try:
        with KedroSession.create(env=env, conf_source=conf_source) as session:
            return credentials_problem(session.load_context())
    except Exception:  # explaining must not hide the original error
        return None


def _check_env(env: str | None, conf_source: str | None) -> None:
    """`--env NAME` must be a folder of the conf source (checked before Kedro warns about it)."""
    if not env:
        return
    project = find_kedro_project(Path.cwd()) or Path.cwd()
    conf = Path(conf_source) if conf_source else project / settings.CONF_SOURCE
    if conf.is_dir() and not (conf / env).is_dir():
        envs = sorted(p.name for p in conf.iterdir() if p.is_dir() and p.name != "base")
        raise UserFacingError(f"--env {env}: {conf / env} is not a folder; the envs are {', '.join(envs)}.")


def _check_window(params: dict[str, Any]) -> None:
    """A malformed run_date or lookback_days, refused before Kedro loads anything (the catalog's
    resolvers refuse it too, before any node runs, for runs that do not come through this command)."""
    if "run_date" in params:
        parse_run_date(params["run_date"])
    if "lookback_days" in params:
        window_start(params.get("run_date", ""), params["lookback_days"])


def _run_callback(verbose: bool, **kwargs: Any) -> Any:
    if verbose:
        show_log_on_console()
    _check_env(kwargs.get("env"), kwargs.get("conf_source"))
    try:
        _check_window(kwargs.get("params") or {})
        return kedro_run.callback(**kwargs)
    except Exception as exc:
        message = user_error_message(exc)
        if message is None:
            raise
        if is_credentials_error(exc):
            message = _credentials_message(kwargs.get("env"), kwargs.get("conf_source")) or message
        raise UserFacingError(message) from None


@click.group(name="retail_pipeline")
def cli() -> None:
    """Commands of the retail_pipeline project."""


# `run` at module level too: `python -m retail_pipeline` (kedro's find_run_command) looks it up here.
run = click.Command(
    name="run",
    callback=_run_callback,
    params=[*kedro_run.params,
            click.Option(["--verbose", "-v"], is_flag=True,
                         help="Show the log on the console too (it is always in logs/kedro.log).")],
    help=kedro_run.help,
    context_settings=kedro_run.context_settings,
)
cli.add_command(run)
