"""Fixtures of the extraction tests: loopback servers and datasets built from a registry entry."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from retail_pipeline.datasets.retailer_api import RetailerApiDataset
from tests.extraction.servers import Loopback, Route

KEY = "extraction-test-key-4711"
WINDOW = {"window_start": "2024-03-30", "window_end": "2024-03-31"}


@pytest.fixture
def loopback() -> Callable[[Route], Loopback]:
    """Starts loopback servers (`loopback(route)`); all stopped at teardown."""
    servers: list[Loopback] = []

    def start(route: Route) -> Loopback:
        servers.append(Loopback(route))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def make_dataset(base_url: str, api: dict, fields: dict | None = None, credentials: dict | None = None,
                 code: str = "acme_foods", **options) -> RetailerApiDataset:
    """A dataset for one registry entry `code` with this `api:` block (as the catalog factory
    builds it), fast retries and no consistency reread unless asked."""
    registry = {code: {"api": api, "source": {"fields": fields or {"transaction_id": "order_id"}}}}
    config = {"retailer": code, "retailers": registry, **WINDOW,
              "credentials": credentials or {"base_url": base_url, "api_key": KEY},
              "retry": {"max_attempts": 2, "backoff_seconds": 0.01},
              "consistency": {"version_header": "X-Data-Version"}, **options}
    return RetailerApiDataset(**config)
