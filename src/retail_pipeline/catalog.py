"""The project's DataCatalog: Kedro's, with per-retailer credentials in dataset factories.

Kedro 1.7 looks up a factory's `credentials: NAME` when it reads the catalog, before it fills
the placeholders, so `"{retailer}.api_sales": {credentials: "{retailer}_api"}` fails with
"Unable to find credentials '{retailer}_api'". This catalog fills the name first: a credentials
name with placeholders is looked up when the dataset is made, as `<code>_api` for
`<code>.api_sales`. So that a missing entry still stops a run before it starts (as Kedro
does for plain names), the names a `{retailer}` placeholder gives are checked for every
retailer of the registry when the catalog is made.

`kedro run` makes its catalog with settings.DATA_CATALOG_CLASS, but `context.catalog` (notebooks,
kedro-viz, hooks) always with Kedro's own class, and `kedro run --runner ParallelRunner` with
Kedro's SharedMemoryDataCatalog: `RetailContext` makes both ours too.
"""

from __future__ import annotations

import re
from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.context.catalog_mixins import CatalogCommandsMixin
from kedro.io import DataCatalog, SharedMemoryDataCatalog
from kedro.io.catalog_config_resolver import CatalogConfigResolver, _resolve_credentials
from kedro.io.core import DatasetNotFoundError, generate_timestamp

from retail_pipeline.registry import retailer_codes

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


class _Deferred(dict):
    """Credentials whose lookup leaves names with placeholders as they are (filled later)."""

    def __missing__(self, name: str) -> str:
        if _PLACEHOLDER.search(name):
            return name
        raise KeyError(name)


class RetailCatalogConfigResolver(CatalogConfigResolver):
    """Kedro's resolver, filling placeholders in a factory's credentials name before the lookup."""

    def __init__(self, config=None, credentials=None, default_runtime_patterns=None):
        self._credentials = dict(credentials or {})
        super().__init__(config, _Deferred(self._credentials), default_runtime_patterns)
        for name in sorted(credential_names(config or {}) - set(self._credentials)):
            _resolve_credentials({"credentials": name}, self._credentials)  # Kedro's error, named

    def resolve_pattern(self, ds_name: str) -> dict[str, Any]:
        return _resolve_credentials(super().resolve_pattern(ds_name), self._credentials)


class _RetailResolving:
    """`from_config` with RetailCatalogConfigResolver, for the project's catalog classes."""

    @classmethod
    def from_config(cls, catalog, credentials=None, load_versions=None, save_version=None,
                    validation_enabled: bool = True):
        resolver = RetailCatalogConfigResolver(catalog or {}, credentials, cls.default_runtime_patterns)
        unknown = sorted(name for name in (load_versions or {}) if not (
            name in resolver.config or resolver.match_dataset_pattern(name)))
        if unknown:
            raise DatasetNotFoundError(f"'load_versions' keys [{', '.join(unknown)}] are not found in the catalog.")
        return cls(load_versions=load_versions or {}, save_version=save_version or generate_timestamp(),
                   config_resolver=resolver, validation_enabled=validation_enabled)


class RetailDataCatalog(_RetailResolving, DataCatalog, CatalogCommandsMixin):
    """DataCatalog (with the `kedro catalog` commands) using RetailCatalogConfigResolver."""


class RetailSharedMemoryDataCatalog(_RetailResolving, SharedMemoryDataCatalog):
    """The catalog of `kedro run --runner ParallelRunner` (Kedro makes it with its own
    SharedMemoryDataCatalog, whatever DATA_CATALOG_CLASS says), resolving as RetailDataCatalog."""


class RetailContext(KedroContext):
    """KedroContext whose `catalog` is a RetailDataCatalog, as `kedro run`'s is (and the
    ParallelRunner's shared-memory catalog a RetailSharedMemoryDataCatalog)."""

    @property
    def catalog(self) -> RetailDataCatalog:
        return self._get_catalog(catalog_class=RetailDataCatalog)

    def _get_catalog(self, catalog_class: type = DataCatalog, **kwargs):
        if catalog_class is SharedMemoryDataCatalog:
            catalog_class = RetailSharedMemoryDataCatalog
        return super()._get_catalog(catalog_class=catalog_class, **kwargs)


def credential_names(catalog_config: dict[str, Any]) -> set[str]:
    """Every credentials name a catalog config uses, `{retailer}` names given for each retailer
    of the registry (for checks that list what an env lacks)."""
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("credentials"), str):
                names.add(value["credentials"])
            for item in value.values():
                walk(item)

    walk(catalog_config)
    expanded = set()
    for name in names:
        fields = set(_PLACEHOLDER.findall(name))
        if not fields:
            expanded.add(name)
        elif fields == {"retailer"}:
            expanded |= {name.format(retailer=code) for code in retailer_codes()}
    return expanded
