"""Retailer 4's OAuth2 client-credentials grant (RFC 6749 section 4.4) and bearer tokens.

Tokens are signed by itsdangerous (Flask's own signing library) with a key made at start, and
carry their expiry, so each keeps the lifetime it was issued with (`expires_in`) and a restart
invalidates them all, as with a real authorisation server. The lifetime comes from the fault
knob `token_ttl` when set, else from the app's setting.
"""

from __future__ import annotations

import secrets
import time
from typing import Callable
from urllib.parse import unquote_plus

from flask import Request
from itsdangerous import BadSignature, URLSafeSerializer

from retailers.common.faults import Faults
from retailers.common.web import keys_match

DEFAULT_TTL = 60


class ClientError(Exception):
    """A token request refused: `error` is the RFC 6749 5.2 code, `status` the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


class TokenIssuer:
    def __init__(self, client_id: str, client_secret: str, ttl: int, faults: Faults,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl < 0:
            raise ValueError(f"token lifetime must be >= 0 seconds, got {ttl}")
        self._client_id, self._client_secret, self._ttl = client_id, client_secret, ttl
        self._faults, self._clock = faults, clock
        self._signer = URLSafeSerializer(secrets.token_bytes(32), salt="retailer-4-access-token")

    def lifetime(self) -> int:
        knob = self._faults.knob("token_ttl")
        return self._ttl if knob is None else int(knob)

    def authenticate(self, request: Request) -> None:
        """Check the client's id and secret (HTTP Basic or form fields, not both); raise ClientError."""
        form = request.form
        basic = request.authorization if (request.headers.get("Authorization") or "").lower().startswith("basic ") else None
        in_form = form.get("client_id") is not None or form.get("client_secret") is not None
        if basic is not None and in_form:
            raise ClientError("invalid_request", "use one client authentication method, not both")
        if basic is not None:
            # RFC 6749 2.3.1 form-urlencodes id and secret before base64; many clients do not:
            # either way is accepted.
            pairs = [(basic.username or "", basic.password or "")]
            pairs.append((unquote_plus(pairs[0][0]), unquote_plus(pairs[0][1])))
        else:
            pairs = [(form.get("client_id"), form.get("client_secret"))]
        # Every comparison is made (constant time), so timing tells nothing about a near miss.
        results = [keys_match(cid, self._client_id) & keys_match(secret, self._client_secret) for cid, secret in pairs]
        if not any(results):
            raise ClientError("invalid_client", "unknown client or wrong secret", 401)

    def issue(self) -> tuple[str, int]:
        ttl = self.lifetime()
        token = self._signer.dumps({"exp": self._clock() + ttl, "jti": secrets.token_hex(8)})
        return token, ttl

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        try:
            claims = self._signer.loads(token)
        except BadSignature:
            return False
        return isinstance(claims, dict) and isinstance(claims.get("exp"), (int, float)) and claims["exp"] > self._clock()
