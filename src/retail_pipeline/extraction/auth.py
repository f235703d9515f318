"""Auth styles (`api.auth.style` in conf/base/retailers.yml), selected by name.

- `api_key`: the key from credentials in a header, with an optional scheme
  ({header: Authorization, scheme: Bearer} or {header: X-API-Key}); credentials {base_url, api_key}.
- `oauth2_client_credentials`: RFC 6749 4.4. A token from `POST <base_url><token_endpoint>`
  (form `grant_type=client_credentials`, client authenticated with HTTP Basic), cached and
  fetched again shortly before it expires; a 401 mid-extraction (the token expired or was
  revoked early) fetches a new one once and repeats the request. Credentials {base_url,
  client_id, client_secret}.

A style is a class with `headers()` (for each request) and `refresh(reply) -> bool` (a 401
came: may a fresh credential help?). Secrets never appear in messages (`secrets`).
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from retail_pipeline.extraction.errors import RetailerApiError
from retail_pipeline.extraction.http import Reply, Transport, error_text
from retail_pipeline.extraction.styles import Styles

AUTH: Styles[Auth] = Styles("auth")


class Auth:
    """Base class: `credentials_hint` names what to check when the API refuses us."""

    credentials_hint = "check the api_key in credentials.yml"
    secret_keys: tuple[str, ...] = ()

    def __init__(self, retailer: str, config: dict[str, Any], credentials: dict[str, Any]) -> None:
        self.retailer, self.config, self.credentials = retailer, config, credentials
        missing = [key for key in self.secret_keys if not credentials.get(key)]
        if missing:
            raise RetailerApiError(f"{retailer}: no {' or '.join(missing)} in its API credentials "
                                   f"({retailer}_api in conf/<env>/credentials.yml)")

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(str(self.credentials[key]) for key in self.secret_keys)

    def bind(self, transport: Transport, base_url: str) -> None:
        """Called once per extraction, before the first request."""

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def refresh(self, reply: Reply) -> bool:
        return False

    def stats(self) -> dict[str, Any]:
        """Extraction statistics of the style (e.g. tokens fetched)."""
        return {}


@AUTH.register("api_key")
class ApiKeyAuth(Auth):
    secret_keys = ("api_key",)

    def __init__(self, retailer: str, config: dict[str, Any], credentials: dict[str, Any]) -> None:
        super().__init__(retailer, config, credentials)
        self.header = config.get("header", "Authorization")
        default_scheme = "Bearer" if self.header.lower() == "authorization" else None
        self.scheme = config.get("scheme", default_scheme)

    def headers(self) -> dict[str, str]:
        key = str(self.credentials["api_key"])
        return {self.header: f"{self.scheme} {key}" if self.scheme else key}


@AUTH.register("oauth2_client_credentials")
class OAuth2ClientCredentials(Auth):
    credentials_hint = "check client_id and client_secret in credentials.yml"
    secret_keys = ("client_id", "client_secret")
    refresh_margin = 0.2  # of the token's lifetime, at most 30 s: fetch a new one this early

    def __init__(self, retailer: str, config: dict[str, Any], credentials: dict[str, Any]) -> None:
        super().__init__(retailer, config, credentials)
        if not config.get("token_endpoint"):
            raise RetailerApiError(f"{retailer}: auth style oauth2_client_credentials needs a token_endpoint")
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self.tokens_fetched = 0

    @property
    def secrets(self) -> tuple[str, ...]:
        return (*super().secrets, *((self._token,) if self._token else ()))

    def bind(self, transport: Transport, base_url: str) -> None:
        self._transport = transport
        self._token_url = base_url.rstrip("/") + "/" + str(self.config["token_endpoint"]).lstrip("/")
        self._token = None
        self.tokens_fetched = 0

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its lock and token (ParallelRunner sends the dataset to a worker)."""
        return {**self.__dict__, "_lock": None, "_token": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def headers(self) -> dict[str, str]:
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._fetch_token()
            return {"Authorization": f"Bearer {self._token}"}

    def refresh(self, reply: Reply) -> bool:
        """A 401 with a token: forget it, so the repeat fetches a new one."""
        with self._lock:
            self._token = None
        return True

    def stats(self) -> dict[str, Any]:
        return {"tokens_fetched": self.tokens_fetched}

    def _fetch_token(self) -> None:
        client = f"{quote(str(self.credentials['client_id']), safe='')}:{quote(str(self.credentials['client_secret']), safe='')}"
        headers = {"Authorization": "Basic " + base64.b64encode(client.encode()).decode(),
                   "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        shown = f"POST {self._transport.mask(self._token_url)}"
        body = urlencode({"grant_type": "client_credentials"}).encode()
        reply = self._transport.request("POST", self._token_url, headers=headers, body=body, shown=shown,
                                        counted=False)
        if reply.status != 200:
            raise RetailerApiError(f"{self.retailer}: the token request {shown} was refused with HTTP "
                                   f"{reply.status}{error_text(reply.content)} ({self.credentials_hint})")
        try:
            payload = orjson.loads(reply.content)
            token, ttl = payload["access_token"], float(payload.get("expires_in") or 3600)
            if not isinstance(token, str) or not token:
                raise TypeError("access_token is not a non-empty string")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RetailerApiError(f"{self.retailer}: malformed token response from {shown}: "
                                   f"{type(exc).__name__}: {exc}") from None
        self._token = token
        self._renew_at = time.monotonic() + ttl - min(30.0, ttl * self.refresh_margin)
        self.tokens_fetched += 1
