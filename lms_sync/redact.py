"""Removing secrets (the Moodle token, report tokens) from text before it is shown, logged or stored."""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "[redacted]"
# Shorter values would mask ordinary words; every real token is far longer.
MIN_SECRET_LENGTH = 6


def _forms(secret: str) -> set[str]:
    # The same secret as it appears echoed in a form body, a URL or a JSON string.
    return {secret, quote(secret), quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


class Redactor:
    """Replaces each configured secret, and its URL- and JSON-encoded forms, with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_LENGTH:
                forms |= _forms(secret)
        # Longest first, so a secret that contains another is masked whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text
