"""Text compared as a French reader compares it."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """``text`` without case or accents ("Élodie" -> "elodie"): the key of the reports' order and of cohort keys."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in plain if not unicodedata.combining(c))
