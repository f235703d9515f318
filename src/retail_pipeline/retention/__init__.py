"""Retention: remove what is older than `keep_days` from the warehouse and the zones, audited,
never a day a run still to be run needs (`python -m retail_pipeline.retention`, docs/production.md).

Modules: `rules` (pure: cutoff, look-back rule, paths), `warehouse` (partitions and rows, per
retailer under its load lock), `zones` (raw, quarantine, landing, manifests through fsspec),
`config` (settings from a KedroSession), `run` (one run), `__main__` (the command line).
"""

from retail_pipeline.retention.rules import Item, RetentionRefused

__all__ = ["Item", "RetentionRefused"]
