"""Bearer tokens for the report endpoints: generated here, stored as SHA-256, checked in constant time.

Two kinds of token are accepted by ``lms-sync serve``:

* ``serve.report_tokens``: tokens written in the settings (a secret the operator chose), compared
  with ``hmac.compare_digest``;
* ``serve.report_token_hashes``: the SHA-256 (hex) of tokens made by ``lms-sync token new``; the
  token itself is shown once and never stored, so a leaked settings file does not leak it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

from pydantic import SecretStr

TOKEN_BYTES = 32  # 256 bits of randomness: far beyond guessing, short enough to paste
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def new_token() -> str:
    """A fresh random token, URL-safe (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest of a token, as written in ``serve.report_token_hashes``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenChecker:
    """Decides whether a presented bearer token is one of the configured ones."""

    def __init__(self, tokens: Iterable[SecretStr] = (), hashes: Iterable[str] = ()) -> None:
        self._tokens = [t.get_secret_value().encode("utf-8") for t in tokens if t.get_secret_value()]
        self._hashes: list[bytes] = []
        for value in hashes:
            value = value.strip().lower()
            if not _HEX64.match(value):
                # A typo here would silently lock everyone out; refuse it loudly at start-up instead.
                raise ValueError("serve.report_token_hashes must hold 64-character SHA-256 hex digests")
            self._hashes.append(bytes.fromhex(value))

    @property
    def configured(self) -> bool:
        """True when at least one token can be accepted."""
        return bool(self._tokens or self._hashes)

    def check(self, presented: bytes) -> bool:
        """True when ``presented`` matches a token; compares against every candidate in constant time."""
        if not presented:
            return False
        digest = hashlib.sha256(presented).digest()
        ok = False
        # No early exit: the time taken does not tell which entry (or whether any) matched.
        for token in self._tokens:
            ok |= hmac.compare_digest(presented, token)
        for stored in self._hashes:
            ok |= hmac.compare_digest(digest, stored)
        return ok

    def check_header(self, authorization: str | None) -> bool:
        """True when an ``Authorization`` header value carries an accepted bearer token."""
        if not authorization:
            return False
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        # WSGI hands header values over as latin-1 text; get the bytes the client really sent back.
        try:
            presented = credentials.strip().encode("latin-1")
        except UnicodeEncodeError:
            return False
        return self.check(presented)
