"""Project settings: config resolvers for the run window, and the project hooks."""

from kedro.config import OmegaConfigLoader

from retail_pipeline.hooks import RunDateHook
from retail_pipeline.run_window import new_run_id, resolve_run_date, window_start

HOOKS = (RunDateHook(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {
        "run_date": resolve_run_date,
        "window_start": window_start,
        "new_run_id": new_run_id,
    },
}

# The retailers the pipelines are built for. Adding one is: its catalog entries and
# parameters (conf/base), a pandera source model (schemas/sources.py) and its code here.
RETAILERS = ("retailer_1", "retailer_2", "retailer_3")
