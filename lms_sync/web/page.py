"""The subscription page: the sessions, cancelled ones marked, and the subscribe links."""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import date

from ..i18n import t
from ..program import Programme

_PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:52rem;padding:0 1rem;color:#1a1a1a}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ddd}"
    ".cancelled td{color:#777}.cancelled del{color:#777}.tag{font-weight:bold;color:#a00}"
    "code{word-break:break-all}"
)
# The page's only style block is allowed by its hash: no inline script or foreign style can run.
_CSS_HASH = base64.b64encode(hashlib.sha256(_PAGE_CSS.encode()).digest()).decode()
CSP_PAGE = f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def render_page(programme: Programme, feed_url: str, lang: str) -> str:
    """The HTML page listing the sessions, every interpolated value escaped.

    ``feed_url`` is absolute (calendar apps need it); every other link is relative, so the page works
    under whatever prefix a reverse proxy gives it.
    """
    esc = html.escape
    suffix = "?lang=en" if lang == "en" else ""
    https_url = feed_url + suffix
    webcal_url = "webcal://" + feed_url.split("://", 1)[-1] + suffix
    city = programme.timezone.rsplit("/", 1)[-1].replace("_", " ")
    rows = []
    for session in sorted(programme.sessions, key=lambda s: (s.start, s.id)):
        when = _long_date(session.start.date(), lang)
        hours = f"{session.start:%H:%M}–{session.end:%H:%M}"
        if session.end.date() != session.start.date():
            hours = f"{session.start:%H:%M} – {_long_date(session.end.date(), lang)} {session.end:%H:%M}"
        title = esc(session.title)
        if session.cancelled:
            title = f'<del>{title}</del> <span class="tag">{esc(t("web_cancelled", lang))}</span>'
            rows.append(f'<tr class="cancelled"><td>{esc(when)}</td><td>{esc(hours)}</td><td>{title}</td></tr>')
        else:
            rows.append(f"<tr><td>{esc(when)}</td><td>{esc(hours)}</td><td>{title}</td></tr>")
    table = (
        "<table><thead><tr>"
        f"<th>{esc(t('web_date', lang))}</th><th>{esc(t('web_time', lang).format(city=city))}</th>"
        f"<th>{esc(t('web_session', lang))}</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        if rows else f"<p>{esc(t('web_no_sessions', lang))}</p>"
    )
    other = "en" if lang == "fr" else "fr"
    description = f"<p>{esc(programme.description.strip())}</p>" if programme.description.strip() else ""
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(programme.title)}</title><style>{_PAGE_CSS}</style></head><body><main>"
        f"<h1>{esc(programme.title)}</h1>{description}"
        f"<h2>{esc(t('web_subscribe', lang))}</h2><p>{esc(t('web_subscribe_help', lang))}</p>"
        f'<ul><li><a href="{esc(webcal_url)}">{esc(t("web_webcal", lang))}</a></li>'
        f'<li>{esc(t("web_https", lang))}{" : " if lang == "fr" else ": "}<a href="{esc(https_url)}"><code>{esc(https_url)}</code></a></li></ul>'
        f"<h2>{esc(t('web_sessions', lang))}</h2>{table}"
        # Relative: "?lang=en" stays under the page's own path, behind any proxy prefix.
        f'<p><a href="?lang={other}" hreflang="{other}" lang="{other}">{esc(t("web_other_lang", lang))}</a></p>'
        "</main></body></html>\n"
    )


def _long_date(day: date, lang: str) -> str:
    weekdays = t("web_weekdays", lang).split()
    months = t("web_months", lang).split()
    # Same order in both languages: "mercredi 9 décembre 2020", "Wednesday 9 December 2020".
    return f"{weekdays[day.weekday()]} {day.day} {months[day.month - 1]} {day.year}"
