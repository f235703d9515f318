"""Project settings: the config loader (the retailer registry is part of `globals`), the
resolvers of the run window, the catalog class and the project hooks (registry, quality
failure report, run summary, alerts)."""

from kedro.config import OmegaConfigLoader
from omegaconf import OmegaConf
from omegaconf.resolvers import oc

from retail_pipeline.alerts.hook import AlertHook
from retail_pipeline.catalog import RetailContext, RetailDataCatalog
from retail_pipeline.cli_hooks import RunReportHook
from retail_pipeline.hooks import FrozenStartupHook, QualityReportHook, RegistryHook, StagedWindowHook
from retail_pipeline.registry import BASE_ENV, DEFAULT_ENV, with_codes
from retail_pipeline.run_window import new_run_id, resolve_ingested_at, resolve_run_date, window_start

# AlertHook handles a failed run after QualityReportHook (trylast), so the report it links exists.
HOOKS = (RegistryHook(), QualityReportHook(), RunReportHook(), AlertHook(), StagedWindowHook(), FrozenStartupHook())


class ConfigLoader(OmegaConfigLoader):
    """Kedro 1.7's OmegaConfigLoader, registering its resolvers through the API OmegaConf 2.4 keeps.

    Kedro 1.7 calls `OmegaConf.register_new_resolver`, which OmegaConf 2.4 deprecated in favour
    of `register_resolver` (same arguments, same behaviour): every run warned five times. These
    are Kedro's four registration points, unchanged but for that call. Going back to OmegaConf
    2.3 instead would pin antlr4 4.9, older than moto[server] is built for.
    """

    @staticmethod
    def _register_new_resolvers(resolvers):
        for name, resolver in resolvers.items():
            if not OmegaConf.has_resolver(name):
                OmegaConf.register_resolver(name, resolver)

    def _register_globals_resolver(self) -> None:
        OmegaConf.register_resolver("globals", self._get_globals_value, replace=True)

    def _register_runtime_params_resolver(self) -> None:
        OmegaConf.register_resolver("runtime_params", self._get_runtime_value, replace=True)

    @staticmethod
    def _resolve_environment_variables(config) -> None:
        # `${oc.env:...}` only while credentials files are read, as Kedro does.
        if OmegaConf.has_resolver("oc.env"):
            OmegaConf.resolve(config)
            return
        OmegaConf.register_resolver("oc.env", oc.env)
        try:
            OmegaConf.resolve(config)
        finally:
            OmegaConf.clear_resolver("oc.env")


CONFIG_LOADER_CLASS = ConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": BASE_ENV,
    "default_run_env": DEFAULT_ENV,
    # The retailer registry (retailers.yml) is read with the globals, so catalog and parameters
    # use ${globals:retailers}. Merged soft: conf/<env>/retailers.yml may add a retailer or change
    # one retailer's values without repeating the others.
    "config_patterns": {"globals": ["globals*", "retailers*"]},
    "merge_strategy": {"globals": "soft"},
    "custom_resolvers": {
        "run_date": resolve_run_date,
        "window_start": window_start,
        "new_run_id": new_run_id,
        "ingested_at": resolve_ingested_at,
        "with_codes": with_codes,
    },
}

# Kedro's catalog and context, taking `credentials: "{retailer}_api"` in dataset factories
# (catalog.py).
DATA_CATALOG_CLASS = RetailDataCatalog
CONTEXT_CLASS = RetailContext
