"""The fixed words participants and DGIDT see, in French (default) and English."""

from __future__ import annotations

from typing import Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")

MESSAGES: dict[str, dict[Lang, str]] = {
    "cancelled_prefix": {"fr": "ANNULÉ – ", "en": "CANCELLED – "},
    "platform": {"fr": "Plateforme", "en": "Platform"},
    "programme": {"fr": "Programme", "en": "Programme"},
    "organizer": {"fr": "Organisateur", "en": "Organiser"},
    "partners": {"fr": "Partenaires", "en": "Partners"},
}


def t(key: str, lang: str = "fr") -> str:
    """The text for ``key`` in ``lang`` (French when the language is unknown)."""
    texts = MESSAGES[key]
    return texts.get(lang, texts["fr"])  # type: ignore[call-overload]
