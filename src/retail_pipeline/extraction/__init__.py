"""Pieces of `datasets.retailer_api.RetailerApiDataset`, one concern per module.

- `client`: one retailer's API as its registry entry describes it; one page request.
- `auth`: auth styles by name (`api_key`, `oauth2_client_credentials`).
- `paging`: paging styles by name (`page_number`, `offset`, `cursor`, `next_link`): one walk
  over every page of a window, refusing inconsistent paging metadata.
- `styles`: the name -> class registries (a new style is one class).
- `http`: urllib3's pool and `Retry` (backoff, `Retry-After`), no redirects.
- `deadlines`: each attempt's and the whole extraction's wall-clock limit.
- `responses`: the envelope and paging fields a response must have.
- `frames`: records (or order lines) -> compact Arrow-backed columns, page by page.
- `consistency`: when an extraction may be trusted although the source changes while it is
  paged (data version, or a verified reread), and the bounded repeats otherwise.
- `urls`: URLs as shown in logs and errors (no `user:pw@`).
- `errors`: `RetailerApiError`.
"""
