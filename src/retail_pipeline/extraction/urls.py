"""URLs as they may be shown: never with the password (or user) of a `user:pw@host` base URL.

Every URL that reaches a log line, an error or a dataset description goes through `mask_url`;
`mask_text` also blanks given secrets (keys, tokens) in free text such as exception messages.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


def mask_url(url: str) -> str:
    """The URL with any userinfo replaced by ***."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", str(url))


def mask_text(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """Free text with every URL's userinfo and each given secret masked."""
    text = mask_url(text)
    for secret in secrets:
        if secret:
            text = text.replace(str(secret), MASK)
    return text


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """(the URL without userinfo, (user, password) or None)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), (parts.username or "", parts.password or "")


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port
