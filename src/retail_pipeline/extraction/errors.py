"""The one error a retailer extraction raises."""

from __future__ import annotations

from kedro.io.core import DatasetError


class RetailerApiError(DatasetError):
    """The retailer's API could not be read; the message names the retailer and the request."""
