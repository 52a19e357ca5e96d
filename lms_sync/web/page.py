"""The subscription page: each programme's sessions, cancelled ones marked, and the subscribe links.

With one programme the page is that programme's; with several, a link to the feed of every
programme first, then each programme with its own feed's link, live ones first.
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import date, datetime

from collections.abc import Sequence

from ..i18n import t
from ..program import Programme
from ..publish import feed_url_for

_PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:52rem;padding:0 1rem;color:#1a1a1a}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ddd}"
    ".cancelled td{color:#777}.cancelled del{color:#777}.tag{font-weight:bold;color:#a00}"
    "code{word-break:break-all}"
)
# The page's only style block is allowed by its hash: no inline script or foreign style can run.
_CSS_HASH = base64.b64encode(hashlib.sha256(_PAGE_CSS.encode()).digest()).decode()
CSP_PAGE = f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def render_page(programmes: Sequence[Programme] | Programme, feed_url: str, lang: str) -> str:
    """The HTML page listing the sessions, every interpolated value escaped.

    ``feed_url`` is the absolute address of the feed of every programme (calendar apps need it);
    every other link is relative, so the page works under whatever prefix a reverse proxy gives it.
    """
    esc = html.escape
    if isinstance(programmes, Programme):
        programmes = [programmes]
    # Live programmes first, each group by its first session (one without sessions last).
    shown = sorted(programmes, key=lambda p: (p.archived, min((s.start for s in p.sessions), default=datetime.max),
                                              p.id))
    other = "en" if lang == "fr" else "fr"
    if len(shown) == 1:
        (programme,) = shown
        title = programme.title
        body = _description(programme) + _subscribe(feed_url, lang, "web_subscribe") + \
            f"<h2>{esc(t('web_sessions', lang))}</h2>{_sessions(programme, lang)}"
    else:
        title = t("web_all_programmes", lang)
        body = _subscribe(feed_url, lang, "web_subscribe_all", help_text=True)
        for programme in shown:
            tag = f' <span class="tag">{esc(t("web_archived", lang))}</span>' if programme.archived else ""
            body += (f'<section id="{esc(programme.id)}"><h2>{esc(programme.title)}{tag}</h2>'
                     + _description(programme)
                     + _subscribe(feed_url_for(feed_url, programme.id), lang, "web_subscribe_one", level=3,
                                  help_text=False)
                     + _sessions(programme, lang) + "</section>")
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_PAGE_CSS}</style></head><body><main>"
        f"<h1>{esc(title)}</h1>{body}"
        # Relative: "?lang=en" stays under the page's own path, behind any proxy prefix.
        f'<p><a href="?lang={other}" hreflang="{other}" lang="{other}">{esc(t("web_other_lang", lang))}</a></p>'
        "</main></body></html>\n"
    )


def _description(programme: Programme) -> str:
    text = programme.description.strip()
    return f"<p>{html.escape(text)}</p>" if text else ""


def _subscribe(feed_url: str, lang: str, heading: str, *, level: int = 2, help_text: bool = True) -> str:
    esc = html.escape
    suffix = "?lang=en" if lang == "en" else ""
    https_url = feed_url + suffix
    webcal_url = "webcal://" + feed_url.split("://", 1)[-1] + suffix
    helper = f"<p>{esc(t('web_subscribe_help', lang))}</p>" if help_text else ""
    return (
        f"<h{level}>{esc(t(heading, lang))}</h{level}>{helper}"
        f'<ul><li><a href="{esc(webcal_url)}">{esc(t("web_webcal", lang))}</a></li>'
        f'<li>{esc(t("web_https", lang))}{" : " if lang == "fr" else ": "}<a href="{esc(https_url)}"><code>'
        f"{esc(https_url)}</code></a></li></ul>"
    )


def _sessions(programme: Programme, lang: str) -> str:
    esc = html.escape
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
    if not rows:
        return f"<p>{esc(t('web_no_sessions', lang))}</p>"
    return (
        "<table><thead><tr>"
        f"<th>{esc(t('web_date', lang))}</th><th>{esc(t('web_time', lang).format(city=city))}</th>"
        f"<th>{esc(t('web_session', lang))}</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _long_date(day: date, lang: str) -> str:
    weekdays = t("web_weekdays", lang).split()
    months = t("web_months", lang).split()
    # Same order in both languages: "mercredi 9 décembre 2020", "Wednesday 9 December 2020".
    return f"{weekdays[day.weekday()]} {day.day} {months[day.month - 1]} {day.year}"
