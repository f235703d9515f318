"""Project hooks."""

import gc
import logging

from kedro.framework.hooks import hook_impl

from retail_pipeline import registry
from retail_pipeline.run_steps import RunSteps

logger = logging.getLogger(__name__)


class RegistryHook:
    """Pipelines are built for the retailers of the session's own configuration.

    The session's registry (its conf source and env) becomes the active one before anything
    reads the pipelines; when its codes differ from those the project's pipelines were built
    for (another conf source in the same process, e.g. a test's copy), the pipelines are built
    again.
    """

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        from kedro.framework.project import PACKAGE_NAME, pipelines

        where = f"{context.config_loader.conf_source} (env {context.env or 'local'})"
        changed = registry.activate(context.config_loader["globals"].get("retailers"), where)
        if changed and PACKAGE_NAME:
            pipelines.configure(f"{PACKAGE_NAME}.pipeline_registry")


class QualityReportHook(RunSteps):
    """A run that cannot finish its quality checks still writes a report saying so.

    The quality pipeline renders its report in a node near the end; a query, a check, a source
    or the warehouse failing earlier stops the run before it, and yesterday's green report would
    stay as `dq_report_latest.html`. This hook follows the run's steps (which node is loading,
    running or saving what, and the check results that completed) and, when a run whose
    pipeline writes `dq_report_latest` fails before doing so, it:

    * renders `retail_pipeline.quality.failure` through the catalog's `dq_report` and
      `dq_report_latest` (which step failed, why, what completed, what did not run);
    * appends a critical `quality_checks_completed` row (and the completed results, unless they
      were saved) to `dq_check_results`, when the warehouse takes it;
    * for a failure inside the quality pipeline, adds a note to the error, so the last line of
      the failed run says the checks could not complete, which step failed and the cause.

    The error itself is never replaced or swallowed. A failed gate (DataQualityError) already
    wrote its report: nothing is done then. Nothing this hook does can fail the run.
    """

    def __init__(self) -> None:
        self._reset(active=False, pipeline=None)

    def _reset(self, active: bool, pipeline) -> None:
        self._reset_steps(pipeline)
        self._active = active
        self._results: list = []

    def _collect(self, node, outputs) -> None:
        import pandas as pd

        for name, value in outputs.items():
            if name.endswith("_results") and isinstance(value, pd.DataFrame) and "check_name" in value:
                self._results.append(value)

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        self._reset(active="dq_report_latest" in pipeline.all_outputs(), pipeline=pipeline)

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        from retail_pipeline.pipelines.quality.results import DataQualityError

        if not self._active or "dq_report_latest" in self._written or isinstance(error, DataQualityError):
            return
        try:
            self._report_failure(error, run_params, catalog)
        except Exception:  # noqa: BLE001 - the run's own error must surface, not ours
            logger.exception("Could not write the quality failure report")

    # -- the failure report --------------------------------------------------------------
    def _failed_step(self) -> tuple[str, bool]:
        """('<node> (<what it was doing>)', whether the node is a quality node)."""
        step, node = self.failed_step()
        if step is None:
            return "an unknown step", False
        return step, node is not None and _is_quality_node(node)

    def _report_failure(self, error, run_params, catalog) -> None:
        import pandas as pd

        from retail_pipeline.pipelines.quality.reporting import assemble_results
        from retail_pipeline.quality import failure

        run_date = _param(catalog, "run_date") or str((run_params or {}).get("runtime_params", {}).get("run_date", ""))
        run_id = _param(catalog, "run_id") or str((run_params or {}).get("run_id") or "")
        params = _param(catalog, "quality") or {}
        step, in_quality = self._failed_step()
        cause = failure.cause_of(error)
        failed = step.split(" (")[0]
        not_run = sorted(n.name for n in self._pipeline.nodes
                         if _is_quality_node(n) and n.name not in self._done and n.name != failed)
        completed = pd.concat(self._results, ignore_index=True) if self._results else None
        html = failure.render_failure_html(run_date=run_date, run_id=run_id, step=step, cause=cause,
                                           in_quality=in_quality, completed=completed, not_run=not_run,
                                           error=error)
        written = []
        for name in ("dq_report", "dq_report_latest"):
            try:
                catalog.save(name, html)
                written.append(name)
            except Exception as exc:  # noqa: BLE001 - a full disk must not hide the run's error
                logger.error("Could not save the quality failure report %s: %s", name, failure.masked(str(exc)))
        headline = failure.headline(run_date, step, cause, in_quality)
        report_path = str(params.get("report_path", "")).replace("{run_date}", run_date)
        logger.error("%s. Report: %s", headline, report_path or ", ".join(written))
        try:
            rows = pd.DataFrame([failure.failure_result(step, cause, headline)])
            frames = [rows] if "dq_check_results" in self._written or completed is None else [completed, rows]
            table, _ = assemble_results(run_id, run_date, *frames)
            catalog.save("dq_check_results", table)
        except Exception as exc:  # noqa: BLE001 - e.g. the warehouse is down: the report says it all
            logger.warning("Could not record the failed quality run in dq_check_results: %s",
                           failure.masked(" ".join(str(exc).split()))[:300])
        if in_quality and hasattr(error, "add_note"):
            where = f" Report: {report_path}" if written and report_path else ""
            error.add_note(f"{headline}.{where}")


def _is_quality_node(node) -> bool:
    """A quality node's own name starts with dq_ (`retailer_N.dq_...` in a retailer namespace)."""
    return node.name.rsplit(".", 1)[-1].startswith("dq_")


def _param(catalog, name: str):
    try:
        return catalog.load(f"params:{name}")
    except Exception:  # noqa: BLE001 - a failure report does with what it can get
        return None


class StagedWindowHook:
    """A run that fails between two chunks of a retailer's window drops what it staged.

    The raw zone already holds the old window, unchanged (nothing is moved before the last
    chunk); the staging folder would otherwise wait for the next access of that retailer.
    """

    @hook_impl
    def on_pipeline_error(self) -> None:
        from retail_pipeline.datasets.zone_commit import abort_open

        dropped = abort_open()
        if dropped:
            logger.warning("dropped %d raw-zone window(s) staged by the failed run; the raw zone keeps "
                           "the previous files and manifests", dropped)


class FrozenStartupHook:
    """For the length of a run, what the session built before it (modules, config, pipelines,
    catalog) is out of the garbage collector's sight (`gc.freeze`, after one collection so that
    no garbage is frozen with it): full collections stop re-walking it, and ParallelRunner's
    workers, forked after this, do not copy it on write and exit without walking it. After the
    run it is handed back, so a process that runs sessions one after another (tests, notebooks)
    still collects what they leave."""

    @hook_impl
    def before_pipeline_run(self) -> None:
        gc.collect()
        gc.freeze()

    @hook_impl
    def after_pipeline_run(self) -> None:
        gc.unfreeze()

    @hook_impl
    def on_pipeline_error(self) -> None:
        gc.unfreeze()
