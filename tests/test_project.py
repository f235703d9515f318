"""The Kedro project itself: registry, run_date parameter, telemetry."""

import pytest

from retail_pipeline.run_window import InvalidRunDate, parse_run_date, window_dates, window_start


def test_registry_knows_the_three_pipelines_and_default_is_their_sum():
    from kedro.framework.project import configure_project, pipelines

    configure_project("retail_pipeline")
    assert {"ingestion", "transformation", "quality", "__default__"} <= set(pipelines)
    expected = set()
    for name in ("ingestion", "transformation", "quality"):
        expected |= {n.name for n in pipelines[name].nodes}
    assert {n.name for n in pipelines["__default__"].nodes} == expected


def test_the_pipelines_namespaces_are_the_retailer_registry():
    from kedro.framework.project import configure_project, pipelines

    from retail_pipeline.registry import project_retailers

    configure_project("retail_pipeline")
    codes = set(project_retailers())
    for name in ("ingestion", "transformation", "quality"):
        assert {n.namespace for n in pipelines[name].nodes} - {None} == codes, name
    assert {f"params:retailers.{code}" for code in codes} <= pipelines["ingestion"].inputs()


@pytest.mark.parametrize("bad", ["2024-1-5", "15/01/2024", "2024-02-30", "yesterday", "2024-01-15x"])
def test_malformed_run_date_is_refused_with_a_clear_message(bad):
    with pytest.raises(InvalidRunDate, match="run_date"):
        parse_run_date(bad)


def test_run_date_defaults_to_yesterday_utc():
    from datetime import UTC, datetime, timedelta

    assert parse_run_date("") == datetime.now(UTC).date() - timedelta(days=1)


def test_window_covers_lookback_days_inclusive():
    assert window_start("2024-03-02", 3) == "2024-02-28"
    assert [d.isoformat() for d in window_dates("2024-02-28", "2024-03-01")] == [
        "2024-02-28", "2024-02-29", "2024-03-01"]


def test_kedro_run_refuses_malformed_run_date_before_running(kedro_project):
    """Refused by the run-window resolvers while the catalog is made: no node runs, no request
    is made (the APIs' placeholder credentials point nowhere), nothing is written."""
    from kedro.framework.hooks import hook_impl

    from tests.fixtures.kedro_project import PROJECT_ROOT

    started = []

    class Spy:
        @hook_impl
        def before_node_run(self, node):
            started.append(node.name)

    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    configure_project("retail_pipeline")
    with KedroSession.create(project_path=PROJECT_ROOT, conf_source=str(kedro_project.conf),
                             runtime_params={"run_date": "2024-13-45"}) as session:
        session._hook_manager.register(Spy())
        with pytest.raises(Exception) as err:
            session.run()
    assert any(isinstance(e, InvalidRunDate) for e in _chain(err.value)), err.value
    assert "YYYY-MM-DD" in str(err.value)
    assert started == []
    assert not any(path.is_file() for path in kedro_project.data.rglob("*"))


def _chain(exc):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def test_runtime_run_date_reaches_parameters(kedro_project):
    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    from tests.fixtures.kedro_project import PROJECT_ROOT

    configure_project("retail_pipeline")
    with KedroSession.create(project_path=PROJECT_ROOT, conf_source=str(kedro_project.conf),
                             runtime_params={"run_date": "2024-01-15"}) as session:
        context = session.load_context()
        assert context.params["run_date"] == "2024-01-15"
        assert context.params["lookback_days"] == 3
        assert context.params["run_id"]


def test_loading_the_configuration_warns_nothing(kedro_project):
    """Kedro 1.7 registers its resolvers through an API OmegaConf 2.4 deprecates; the project's
    config loader (settings.ConfigLoader) uses the current one, so no run starts with warnings."""
    import warnings

    from kedro.framework.project import configure_project
    from kedro.framework.session import KedroSession

    from tests.fixtures.kedro_project import PROJECT_ROOT

    configure_project("retail_pipeline")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with KedroSession.create(project_path=PROJECT_ROOT, conf_source=str(kedro_project.conf),
                                 runtime_params={"run_date": "2024-01-15"}) as session:
            context = session.load_context()
            assert context.params["run_date"] == "2024-01-15"
            assert "retailer_1.raw_sales" in context.catalog
            assert "raw_zone" in context.config_loader["credentials"]
    assert not [f"{w.category.__name__}: {w.message}" for w in caught]


def test_the_console_shows_warnings_and_the_log_file_everything_unless_verbose(kedro_project, tmp_path):
    """conf/logging.yml: INFO goes to logs/kedro.log only; `kedro run -v` shows it on the console."""
    import os
    import subprocess
    import sys

    from tests.fixtures.kedro_project import PROJECT_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KEDRO_"))}
    env["KEDRO_DISABLE_TELEMETRY"] = "true"

    def run(*flags: str) -> str:
        result = subprocess.run([sys.executable, "-m", "kedro", "run", *flags, "--conf-source",
                                 str(kedro_project.conf), "--pipelines", "no_such_pipeline"],
                                cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 2, result.stderr
        return result.stdout + result.stderr

    log = PROJECT_ROOT / "logs" / "kedro.log"
    quiet, verbose = run(), run("-v")
    assert "INFO" not in quiet and "Kedro project" not in quiet, quiet
    assert "INFO kedro.framework.session.session: Kedro project" in verbose, verbose
    assert "Kedro project" in log.read_text()[-20000:]


def test_a_run_freezes_what_the_session_built_and_hands_it_back_after():
    """FrozenStartupHook: garbage made before the run is collected, not frozen with the rest;
    a cycle let go of during the run waits; after the run the collector takes it again."""
    import gc
    import weakref

    from retail_pipeline.hooks import FrozenStartupHook
    from retail_pipeline.settings import HOOKS

    assert any(isinstance(hook, FrozenStartupHook) for hook in HOOKS)

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    garbage = Cycle()
    garbage_ref = weakref.ref(garbage)
    del garbage
    kept = Cycle()
    kept_ref = weakref.ref(kept)
    hook = FrozenStartupHook()
    try:
        hook.before_pipeline_run()
        assert garbage_ref() is None
        assert gc.get_freeze_count() > 0
        del kept
        gc.collect()
        assert kept_ref() is not None  # frozen: the run's collections leave it alone
    finally:
        hook.after_pipeline_run()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert kept_ref() is None
    hook.before_pipeline_run()
    hook.on_pipeline_error()  # a failed run hands it back too
    assert gc.get_freeze_count() == 0
