"""Pieces of `datasets.retailer_api.RetailerApiDataset`, one concern per module.

- `errors`: `RetailerApiError`.
- `responses`: the envelope and paging fields a response must have.
- `paging`: one walk over every page of a window (page number, offset or cursor).
- `frames`: records -> compact Arrow-backed columns, page by page.
- `consistency`: when an extraction may be trusted although the source changes while it is
  paged (data version, or a verified reread), and the bounded repeats otherwise.
"""
