"""Project hooks."""

from kedro.framework.hooks import hook_impl

from retail_pipeline.run_window import parse_run_date


class RunDateHook:
    """Refuse a malformed `run_date` before any node runs or any request is made."""

    @hook_impl
    def after_context_created(self, context) -> None:
        parse_run_date(context.params.get("run_date"))
