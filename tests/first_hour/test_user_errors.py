"""A user error ends `kedro run` in one or two lines that name the value, file or variable and
the fix: no traceback, exit code 2, before anything runs. Program faults keep their traceback.

Each case runs the real CLI (`python -m kedro run`) in a subprocess, on a copy of conf/ whose
credentials point nowhere: a run that got past the checks would fail on a connection instead.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.fixtures.kedro_project import PROJECT_ROOT


def kedro_run(conf, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KEDRO_"))}
    env["KEDRO_DISABLE_TELEMETRY"] = "true"
    return subprocess.run([sys.executable, "-m", "kedro", "run", "--conf-source", str(conf), *args],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


def message(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert "Traceback" not in result.stderr and len(lines) <= 2, lines
    assert lines[0].startswith("Error: "), lines
    return lines


@pytest.mark.parametrize(("params", "names"), [
    ("run_date=2024-02-30", ["'2024-02-30'", "day is out of range for month", "--params run_date="]),
    ("run_date=15/01/2024", ["'15/01/2024'", "YYYY-MM-DD", "--params run_date="]),
    ("lookback_days=-1", ["lookback_days", "-1", "--params lookback_days="]),
])
def test_a_malformed_run_parameter_is_one_line_naming_it_and_the_fix(kedro_project, params, names):
    lines = message(kedro_run(kedro_project.conf, "--params", params))
    for name in names:
        assert name in lines[0], lines


def test_an_env_without_credentials_names_the_env_the_file_and_the_readme(kedro_project):
    for found in (kedro_project.conf / "s3").glob("*credentials*"):  # the developer's own, if any
        found.unlink()
    lines = message(kedro_run(kedro_project.conf, "--env", "s3"))
    assert "env 's3'" in lines[0] and "raw_zone" in lines[0] and "s3/credentials.yml" in lines[0], lines
    assert "s3/README.md" in lines[1], lines


def test_an_unset_environment_variable_in_credentials_names_the_variable_and_the_file(kedro_project, monkeypatch):
    (kedro_project.conf / "s3" / "credentials.yml").write_text(yaml.safe_dump(
        {"raw_zone": {"key": "${oc.env:RETAIL_TEST_UNSET_KEY}"}}))
    monkeypatch.delenv("RETAIL_TEST_UNSET_KEY", raising=False)
    lines = message(kedro_run(kedro_project.conf, "--env", "s3"))
    assert "RETAIL_TEST_UNSET_KEY" in lines[0] and "s3/credentials.yml" in lines[0], lines


@pytest.mark.parametrize(("args", "names"), [
    (["--pipelines", "nope"], ["'nope'", "kedro registry list"]),
    (["--env", "nope"], ["--env nope", "the envs are", "s3"]),
])
def test_kedro_user_errors_are_short_too(kedro_project, args, names):
    text = "\n".join(message(kedro_run(kedro_project.conf, *args)))
    for name in names:
        assert name in text, text


def test_a_fault_that_is_not_the_users_keeps_its_traceback(kedro_project):
    """A warehouse that does not answer is not a typing mistake: the traceback stays, and its
    last line names the cause."""
    result = kedro_run(kedro_project.conf, "--pipelines", "quality", "--params", "run_date=2024-01-15")
    assert result.returncode not in (0, 2), result.stdout + result.stderr
    assert "Traceback" in result.stderr
