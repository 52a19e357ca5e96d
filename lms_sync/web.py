"""The HTTP service behind ``lms-sync serve``: a plain WSGI application, served by waitress.

Routes (exact paths only, so ``/../`` and its encoded forms never reach a file or a handler)::

    GET|HEAD /                              a small page listing the sessions, with subscribe links
    GET|HEAD /sessions.ics[?lang=en]        the feed; ETag, Last-Modified, 304 answers
    GET|HEAD /reports/completion.<fmt>      csv, xlsx, json, html; bearer token required
    GET|HEAD /healthz                       last run's outcome and age; 503 when stale or failed

How the feed bytes are produced (the hot path). ``FeedCache`` keeps the built bytes of each
language with their ETag and ready-made header lists. At most once per ``recheck_seconds`` (1 s)
one request thread stats the programme file and asks SQLite for ``PRAGMA data_version`` (which
changes only when *another* connection committed, e.g. a nightly ``lms-sync sync``). When neither
changed, nothing else happens; every other request answers from memory without touching SQLite or
the disk. When one changed, the programme is reloaded and ``publish_feed`` runs again: it writes to
the store only when the programme really differs from what was published (that write is what
raises SEQUENCE and moves LAST-MODIFIED), so the server never writes per request; other threads keep
answering with the previous bytes while that rebuild runs. A programme file
that fails to load keeps the last good feed online and logs a warning.

Reports are rendered by ``lms_sync.reports`` (``render_report``), after the token is checked.

Access log lines carry method, path, status and size only: never the query string, the client
address or any header (the Authorization header holds a token).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from .errors import ConfigError, LmsSyncError
from .i18n import LANGS, t
from .program import Programme, load_programme
from .publish import publish_feed
from .reports import CONTENT_TYPES, render_report
from .settings import Settings
from .store import Run, Store, utcnow
from .tokens import TokenChecker

log = logging.getLogger(__name__)
access_log = logging.getLogger("lms_sync.web.access")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# Calendar clients poll every few hours; an hour lets a proxy absorb bursts while a moved session
# still reaches everyone well within the feed's REFRESH-INTERVAL (12 h by default).
FEED_MAX_AGE = 3600
PAGE_MAX_AGE = 300
REPORT_FORMATS = ("csv", "xlsx", "json", "html")
DEFAULT_LANG = "fr"
MAX_QUERY_FIELDS = 20

# Limits handed to waitress: requests here are tiny GETs, so anything big is refused early.
MAX_REQUEST_HEADER_SIZE = 16 * 1024
MAX_REQUEST_BODY_SIZE = 1024

SECURITY_HEADERS: Headers = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]
# Non-HTML answers load nothing at all.
CSP_NONE = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

_PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:52rem;padding:0 1rem;color:#1a1a1a}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ddd}"
    ".cancelled td{color:#777}.cancelled del{color:#777}.tag{font-weight:bold;color:#a00}"
    "code{word-break:break-all}"
)
# The page's only style block is allowed by its hash: no inline script or foreign style can run.
_CSS_HASH = base64.b64encode(hashlib.sha256(_PAGE_CSS.encode()).digest()).decode()
CSP_PAGE = f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Report HTML is rendered elsewhere and may carry its own <style>; scripts stay forbidden.
CSP_REPORT_HTML = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

_HOST_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

class HttpError(Exception):
    """An answer other than 200, raised by a handler."""

    def __init__(self, status: str, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


# --- the feed ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedVariant:
    """The feed in one language, with the headers of its 200 and 304 answers built once."""

    data: bytes
    etag: str
    last_modified: datetime | None
    headers_200: Headers = field(repr=False)
    headers_304: Headers = field(repr=False)

    @classmethod
    def build(cls, data: bytes, last_modified: datetime | None) -> FeedVariant:
        """Wrap feed bytes: strong ETag from their hash, Last-Modified from when these bytes were published."""
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        common: Headers = [("ETag", etag), ("Cache-Control", f"public, max-age={FEED_MAX_AGE}")]
        if last_modified is not None:
            common.append(("Last-Modified", http_date(last_modified)))
        common += SECURITY_HEADERS + [("Content-Security-Policy", CSP_NONE)]
        headers_200 = [("Content-Type", "text/calendar; charset=utf-8"), ("Content-Length", str(len(data)))] + common
        return cls(data, etag, last_modified, headers_200, common)

    def not_modified(self, environ: Environ) -> bool:
        """True when the request's validators show the client already has these bytes (RFC 9110 13.2.2)."""
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match is not None:
            # If-None-Match wins over If-Modified-Since; the plain string test is the common case.
            return if_none_match == self.etag or etag_matches(if_none_match, self.etag)
        if_modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
        if if_modified_since and self.last_modified is not None:
            since = parse_http_date(if_modified_since)
            return since is not None and self.last_modified <= since
        return False


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison of an If-None-Match list (or ``*``) with our ETag."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def http_date(moment: datetime) -> str:
    """An IMF-fixdate such as ``Wed, 09 Dec 2020 08:00:00 GMT``."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(text: str) -> datetime | None:
    """The moment an HTTP date names, or None when it is not a date."""
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class FeedCache:
    """The programme and the built feed bytes, refreshed only when the programme or the store changed."""

    def __init__(self, settings: Settings, *, recheck_seconds: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = utcnow) -> None:
        self._now = now
        self._program_file = Path(settings.program_file)
        self._feed_settings = settings.feed
        # Its own connection: feed rebuilds never wait behind a slow report, and data_version works
        # per connection, so the server's own publish_feed commits do not trigger a needless rebuild.
        self._store = Store(settings.state_path, check_same_thread=False)
        self._recheck = recheck_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._next_check = -math.inf
        self._stamp: tuple[int, int, int] | None = None
        self._data_version: int | None = None
        self._programme: Programme | None = None
        # Variants are tagged with the generation they were built for; a change bumps the generation
        # but keeps the old bytes, so while one thread rebuilds (possibly waiting on SQLite's write
        # lock held by a nightly sync) the others keep answering with the previous feed.
        self._generation = 0
        self._variants: dict[str, tuple[int, FeedVariant]] = {}

    def close(self) -> None:
        """Release the store connection."""
        with self._lock:
            self._store.close()

    def programme(self) -> Programme | None:
        """The last programme that loaded without errors (None if none ever did)."""
        if self._clock() >= self._next_check:
            with self._lock:
                self._maybe_refresh()
        return self._programme

    def variant(self, lang: str) -> FeedVariant | None:
        """The feed in ``lang``; None when no valid programme was ever loaded."""
        entry = self._variants.get(lang)
        if entry is not None and entry[0] == self._generation and self._clock() < self._next_check:
            return entry[1]
        if not self._lock.acquire(blocking=False):
            if entry is not None:
                return entry[1]  # another thread is re-checking or rebuilding; these bytes were right a moment ago
            self._lock.acquire()
        try:
            self._maybe_refresh()
            entry = self._variants.get(lang)
            if (entry is None or entry[0] != self._generation) and self._programme is not None:
                entry = (self._generation, self._build(self._programme, lang))
                # Replace, never mutate: lock-free readers always see a complete dict.
                self._variants = {**self._variants, lang: entry}
            return entry[1] if entry is not None else None
        finally:
            self._lock.release()

    def _maybe_refresh(self) -> None:
        # Caller holds self._lock.
        if self._clock() < self._next_check:
            return
        stamp = _file_stamp(self._program_file)
        version = int(self._store.db.execute("PRAGMA data_version").fetchone()[0])
        if self._programme is None or stamp != self._stamp:
            try:
                programme, _warnings = load_programme(self._program_file)
            except ConfigError as err:
                if stamp != self._stamp:  # say it once per file change, not once per second
                    log.warning("programme %s cannot be loaded; still serving the last good feed: %s",
                                self._program_file, err)
                programme = None
            if programme is not None:
                self._programme = programme
                self._generation += 1
            self._stamp = stamp
        if version != self._data_version:
            self._data_version = version
            self._generation += 1
        self._next_check = self._clock() + self._recheck

    def _build(self, programme: Programme, lang: str) -> FeedVariant:
        result = publish_feed(programme, self._store, self._feed_settings, lang=lang, now=self._now())
        if result.changed:
            log.info("feed: %d entr(ies) changed since the last publication", len(result.changed))
        return FeedVariant.build(result.data, result.last_modified)


# --- reports ----------------------------------------------------------------------------------


class ReportRenderer(Protocol):
    """Renders a completion report: ``(body, content type)``."""

    def __call__(self, store: Store, fmt: str, *, run: str | int, since: date | None, lang: str,
                 delimiter: str) -> tuple[bytes, str]: ...


def render_report_with_type(store: Store, fmt: str, *, run: str | int, since: date | None, lang: str,
                            delimiter: str) -> tuple[bytes, str]:
    """The default renderer: ``lms_sync.reports`` and its content type."""
    body = render_report(store, fmt, run=run, since=since, lang=lang, delimiter=delimiter)
    return body, CONTENT_TYPES[fmt]


# --- the application --------------------------------------------------------------------------

class LmsSyncApp:
    """The WSGI application; call ``close()`` when the server stops."""

    def __init__(
        self,
        settings: Settings,
        *,
        renderer: ReportRenderer = render_report_with_type,
        recheck_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        try:
            self.tokens = TokenChecker(settings.serve.report_tokens, settings.serve.report_token_hashes)
        except ValueError as exc:
            raise ConfigError(str(exc), hint="paste the hash printed by `lms-sync token new`") from None
        if not self.tokens.configured:
            log.info("no report token configured: the report endpoints refuse every request")
        self.feed = FeedCache(settings, recheck_seconds=recheck_seconds, clock=clock, now=now)
        self.renderer = renderer
        self._now = now
        # Healthz and reports share one read connection; SQLite connections are not thread-safe.
        self._store = Store(settings.state_path, check_same_thread=False)
        self._store_lock = threading.Lock()
        self._routes: dict[str, Callable[[Environ, str], tuple[str, Headers, bytes]]] = {
            "/sessions.ics": self._feed,
            "/": self._page,
            "/healthz": self._healthz,
        }
        for fmt in REPORT_FORMATS:
            self._routes[f"/reports/completion.{fmt}"] = self._report_handler(fmt)

    def close(self) -> None:
        """Close the store connections."""
        self.feed.close()
        with self._store_lock:
            self._store.close()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Route by exact path; every answer carries the security headers."""
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        handler = self._routes.get(path)
        try:
            if handler is None:
                raise HttpError("404 Not Found", "not found")
            if method != "GET" and method != "HEAD":
                raise HttpError("405 Method Not Allowed", "method not allowed", [("Allow", "GET, HEAD")])
            status, headers, body = handler(environ, method)
        except HttpError as err:
            status, headers, body = _error(err)
        except Exception:  # a bug or an unusable store: log it, answer without details
            log.exception("error while serving %s %s", method, _loggable(path))
            status, headers, body = _error(HttpError("500 Internal Server Error", "internal error"))
        start_response(status, headers)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("%s %s %s %d", method, _loggable(path), status[:3], len(body))
        return [b""] if method == "HEAD" else [body]

    # --- handlers: each returns (status, headers, body) ---

    def _feed(self, environ: Environ, method: str) -> tuple[str, Headers, bytes]:
        query = environ.get("QUERY_STRING")
        lang = _lang(_query(query)) if query else DEFAULT_LANG
        variant = self.feed.variant(lang)
        if variant is None:
            raise HttpError("503 Service Unavailable", "the feed is not available: the programme file "
                            "cannot be loaded (see the server log)", [("Retry-After", "60")])
        if variant.not_modified(environ):
            return "304 Not Modified", variant.headers_304, b""
        return "200 OK", variant.headers_200, variant.data

    def _page(self, environ: Environ, method: str) -> tuple[str, Headers, bytes]:
        lang = _lang(_query(environ.get("QUERY_STRING", "")))
        programme = self.feed.programme()
        if programme is None:
            raise HttpError("503 Service Unavailable", "the programme file cannot be loaded (see the server log)")
        body = render_page(programme, self._feed_url(environ), lang).encode("utf-8")
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", f"public, max-age={PAGE_MAX_AGE}"),
            ("Content-Language", lang),
            ("Vary", "Host"),
            ("Content-Security-Policy", CSP_PAGE),
            *SECURITY_HEADERS,
        ]
        return "200 OK", headers, body

    def _feed_url(self, environ: Environ) -> str:
        if self.settings.feed.public_url:
            return self.settings.feed.public_url
        # The Host header is client-chosen: use it only when it looks like a host name.
        host = environ.get("HTTP_HOST", "")
        if not _HOST_RE.match(host):
            host = f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}/sessions.ics"

    def _healthz(self, environ: Environ, method: str) -> tuple[str, Headers, bytes]:
        with self._store_lock:
            # The nightly sync is what must be healthy; its push and pull record runs of their own.
            runs = self._store.runs(limit=5, kind="sync") or self._store.runs(limit=20)
        body, healthy = health_report(runs, self._now(), self.settings.serve.max_run_age_hours)
        data = json.dumps(body, sort_keys=True).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            ("Content-Security-Policy", CSP_NONE),
            *SECURITY_HEADERS,
        ]
        return ("200 OK" if healthy else "503 Service Unavailable"), headers, data

    def _report_handler(self, fmt: str) -> Callable[[Environ, str], tuple[str, Headers, bytes]]:
        def handler(environ: Environ, method: str) -> tuple[str, Headers, bytes]:
            return self._report(environ, fmt)

        return handler

    def _report(self, environ: Environ, fmt: str) -> tuple[str, Headers, bytes]:
        if not self.tokens.check_header(environ.get("HTTP_AUTHORIZATION")):
            # No detail on purpose: missing, malformed and wrong tokens look the same.
            raise HttpError("401 Unauthorized", "unauthorized", [("WWW-Authenticate", 'Bearer realm="lms-sync"')])
        params = _query(environ.get("QUERY_STRING", ""))
        lang = _lang(params, default=self.settings.report.lang)
        run = _run_param(params)
        since = _since_param(params)
        try:
            with self._store_lock:
                body, content_type = self.renderer(self._store, fmt, run=run, since=since, lang=lang,
                                                   delimiter=self.settings.report.csv_delimiter)
        except LookupError as exc:  # unknown run, or no pull recorded yet
            raise HttpError("404 Not Found", str(exc) or "no such report") from None
        except LmsSyncError as exc:
            raise HttpError("409 Conflict", str(exc)) from None
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Content-Security-Policy", CSP_REPORT_HTML if fmt == "html" else CSP_NONE),
            *SECURITY_HEADERS,
        ]
        if fmt in ("csv", "xlsx"):
            headers.append(("Content-Disposition", f'attachment; filename="completion.{fmt}"'))
        return "200 OK", headers, body


def make_app(settings: Settings, *, renderer: ReportRenderer = render_report_with_type, recheck_seconds: float = 1.0,
             clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = utcnow) -> LmsSyncApp:
    """The WSGI application for these settings (``renderer`` defaults to ``lms_sync.reports``)."""
    return LmsSyncApp(settings, renderer=renderer, recheck_seconds=recheck_seconds, clock=clock, now=now)


def server_options(host: str, port: int, threads: int) -> dict[str, Any]:
    """Keyword arguments for ``waitress.create_server``: the bind address and the request limits."""
    return {
        "host": host,
        "port": port,
        "threads": threads,
        "ident": "lms-sync",
        "max_request_header_size": MAX_REQUEST_HEADER_SIZE,
        "max_request_body_size": MAX_REQUEST_BODY_SIZE,
        "channel_timeout": 60,  # idle keep-alive connections are dropped after a minute
        "connection_limit": 200,
        "expose_tracebacks": False,
    }


# --- pure helpers -----------------------------------------------------------------------------


def health_report(runs: list[Run], now: datetime, max_age_hours: float) -> tuple[dict[str, Any], bool]:
    """The /healthz body and whether it is healthy: the newest finished run succeeded and is recent."""
    running = bool(runs) and runs[0].status == "running"
    last = next((r for r in runs if r.status != "running"), None)
    body: dict[str, Any] = {"running": running, "max_age_hours": max_age_hours, "last_run": None}
    if last is None:
        body["status"] = "no run recorded"
        return body, False
    finished = last.finished_at or last.started_at
    age_hours = round(max((now - finished).total_seconds(), 0.0) / 3600, 2)
    body["last_run"] = {
        "id": last.id,
        "kind": last.kind,
        "outcome": last.status,
        "exit_code": last.exit_code,
        "finished_at": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "age_hours": age_hours,
    }
    healthy = last.status == "ok" and age_hours <= max_age_hours
    if healthy:
        body["status"] = "ok"
    elif last.status != "ok":
        body["status"] = "last run did not succeed"
    else:
        body["status"] = "last run is too old"
    return body, healthy


def render_page(programme: Programme, feed_url: str, lang: str) -> str:
    """The HTML page listing the sessions, every interpolated value escaped."""
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
    other_href = "/?lang=en" if other == "en" else "/"
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
        f'<p><a href="{other_href}" hreflang="{other}" lang="{other}">{esc(t("web_other_lang", lang))}</a></p>'
        "</main></body></html>\n"
    )


def _long_date(day: date, lang: str) -> str:
    weekdays = t("web_weekdays", lang).split()
    months = t("web_months", lang).split()
    # Same order in both languages: "mercredi 9 décembre 2020", "Wednesday 9 December 2020".
    return f"{weekdays[day.weekday()]} {day.day} {months[day.month - 1]} {day.year}"


def _error(err: HttpError) -> tuple[str, Headers, bytes]:
    body = (err.message + "\n").encode("utf-8")
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("Content-Security-Policy", CSP_NONE),
        *SECURITY_HEADERS,
        *err.headers,
    ]
    return err.status, headers, body


def _query(query: str | None) -> dict[str, list[str]]:
    if not query:
        return {}
    try:
        return parse_qs(query, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise HttpError("400 Bad Request", "too many query parameters") from None


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise HttpError("400 Bad Request", f"give {name} once")
    return values[0]


def _lang(params: dict[str, list[str]], default: str = DEFAULT_LANG) -> str:
    lang = _one(params, "lang")
    if lang is None:
        return default
    if lang not in LANGS:
        raise HttpError("400 Bad Request", "lang must be fr or en")
    return lang


def _run_param(params: dict[str, list[str]]) -> str | int:
    run = _one(params, "run")
    if run is None or run == "latest":
        return "latest"
    if run.isascii() and run.isdigit() and 0 < len(run) <= 18 and int(run) > 0:
        return int(run)
    raise HttpError("400 Bad Request", "run must be latest or a run number")


def _since_param(params: dict[str, list[str]]) -> date | None:
    since = _one(params, "since")
    if since is None:
        return None
    try:
        if len(since) != 10:
            raise ValueError
        return date.fromisoformat(since)
    except ValueError:
        raise HttpError("400 Bad Request", "since must be a date like 2021-01-31") from None


def _loggable(path: str) -> str:
    # The path is client-chosen: cut it short and drop control characters so it cannot forge log lines.
    return _CONTROL.sub("?", path[:200])
