"""The WSGI application: werkzeug parses the request, routes it and answers conditional requests.

Each handler takes a werkzeug ``Request`` and returns a ``Response``; every answer carries the
security headers. Access log lines carry method, path, status and size only: never the query string,
the client address or any header (the Authorization header holds a token).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..errors import ConfigError, LmsSyncError
from ..i18n import LANGS
from ..publish import ALL
from ..program import AttestationRule
from ..reports.attestation_views import ATTESTATION_VIEWS
from ..reports.cumulative_views import CUMULATIVE_VIEWS
from ..reports.views import VIEW_NAMES
from ..settings import Settings
from ..store import Store, utcnow
from ..tokens import TokenChecker
from .feed_cache import FeedCache
from .headers import CSP_NONE, CSP_REPORT_HTML, SECURITY_HEADERS, loggable, parse_http_date
from .health import health_report
from .page import CSP_PAGE, render_page
from .report_cache import RETRY_AFTER_SECONDS, ReportCache, ReportRenderer, ReportsBusy, render_report_with_type

log = logging.getLogger("lms_sync.web")
access_log = logging.getLogger("lms_sync.web.access")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]

PAGE_MAX_AGE = 300
REPORT_FORMATS = ("csv", "xlsx", "json", "html")
REPORT_KINDS = ("completion", "attestation", "programmes")
DEFAULT_LANG = "fr"
MAX_QUERY_FIELDS = 20

_HOST_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")

# Exact paths only, so ``/../`` and its encoded forms never reach a handler; GET rules answer HEAD too.
ROUTES = Map(
    [
        Rule("/", endpoint="page", methods=["GET"]),
        Rule("/sessions.ics", endpoint="feed", methods=["GET"]),
        Rule("/programs/<string:programme>/sessions.ics", endpoint="programme_feed", methods=["GET"]),
        Rule("/healthz", endpoint="healthz", methods=["GET"]),
        Rule(f"/reports/<any({','.join(REPORT_KINDS)}):kind>.<any({','.join(REPORT_FORMATS)}):fmt>",
             endpoint="report", methods=["GET"]),
    ],
    merge_slashes=False,
)


class HttpError(Exception):
    """An answer other than 200, raised by a handler."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _response(body: bytes, status: int, content_type: str, *, csp: str = CSP_NONE, **headers: str) -> Response:
    response = Response(body, status=status, content_type=content_type)
    response.headers["Content-Security-Policy"] = csp
    for name, value in [*SECURITY_HEADERS, *((k.replace("_", "-"), v) for k, v in headers.items())]:
        response.headers[name] = value
    return response


def _error(err: HttpError) -> Response:
    response = _response((err.message + "\n").encode("utf-8"), err.status, "text/plain; charset=utf-8",
                         Cache_Control="no-store")
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


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
        report_seats: int | None = None,
    ) -> None:
        """Open the store connections; ``report_seats`` defaults to half the worker threads."""
        self.settings = settings
        try:
            self.tokens = TokenChecker(settings.serve.report_tokens, settings.serve.report_token_hashes)
        except ValueError as exc:
            raise ConfigError(str(exc), hint="paste the hash printed by `lms-sync token new`") from None
        if not self.tokens.configured:
            log.info("no report token configured: the report endpoints refuse every request")
        self._now = now
        self.feed = FeedCache(settings, recheck_seconds=recheck_seconds, clock=clock, now=now)
        seats = report_seats if report_seats is not None else max(1, settings.serve.threads // 2)
        self.reports = ReportCache(settings, renderer, seats=seats, recheck_seconds=recheck_seconds, clock=clock)
        # Healthz has its own read connection; SQLite connections are not thread-safe.
        self._store = Store(settings.state_path, check_same_thread=False)
        self._store_lock = threading.Lock()
        self._handlers: dict[str, Callable[..., Response]] = {
            "page": self._page, "feed": self._feed, "programme_feed": self._programme_feed,
            "healthz": self._healthz, "report": self._report,
        }
        hops = settings.serve.trusted_proxies
        # X-Forwarded-* are client-chosen unless a proxy we trust sets them: believed only when told so.
        self._wsgi: Callable[[Environ, StartResponse], Iterable[bytes]] = (
            ProxyFix(self._serve, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)
            if hops else self._serve
        )

    def close(self) -> None:
        """Close the store connections and stop the report thread."""
        self.feed.close()
        self.reports.close()
        with self._store_lock:
            self._store.close()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Route by exact path (behind ``serve.trusted_proxies`` proxies); every answer carries the security headers."""
        return self._wsgi(environ, start_response)

    def _serve(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, values = ROUTES.bind_to_environ(environ).match()
            response = self._handlers[str(endpoint)](request, **values)
        except NotFound:
            response = _error(HttpError(404, "not found"))
        except MethodNotAllowed:
            response = _error(HttpError(405, "method not allowed", {"Allow": "GET, HEAD"}))
        except HttpError as err:
            response = _error(err)
        except Exception:  # a bug or an unusable store: log it, answer without details
            log.exception("error while serving %s %s", request.method, loggable(request.path))
            response = _error(HttpError(500, "internal error"))
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("%s %s %d %d", request.method, loggable(request.path), response.status_code,
                            response.content_length or 0)
        return response(environ, start_response)

    # --- handlers ---

    def _programme_feed(self, request: Request, programme: str) -> Response:
        if not self.feed.knows(programme):
            raise HttpError(404, "no such programme")
        return self._feed(request, scope=programme)

    def _feed(self, request: Request, scope: str = ALL) -> Response:
        lang = _lang(request)
        variant = self.feed.variant(lang, scope)
        if variant is None:
            raise HttpError(503, "the feed is not available: the programme file cannot be loaded (see the server "
                            "log)", {"Retry-After": "60"})
        response = Response(variant.data, headers=variant.headers)
        # The wall clock, not the injectable publishing clock: "in the future" is about the client's claim.
        return response.make_conditional(_without_future_dates(request.environ, datetime.now(UTC)))

    def _page(self, request: Request) -> Response:
        lang = _lang(request)
        programmes = self.feed.programmes()
        if programmes is None:
            raise HttpError(503, "the programme file cannot be loaded (see the server log)")
        body = render_page(programmes, self._feed_url(request), lang).encode("utf-8")
        return _response(body, 200, "text/html; charset=utf-8", csp=CSP_PAGE,
                         Cache_Control=f"public, max-age={PAGE_MAX_AGE}", Content_Language=lang, Vary="Host")

    def _feed_url(self, request: Request) -> str:
        if self.settings.feed.public_url:
            return self.settings.feed.public_url
        # The Host header is client-chosen: use it only when it looks like a host name.
        root = request.root_url if _HOST_RE.match(request.host) else (
            f"{request.scheme}://{request.environ.get('SERVER_NAME', 'localhost')}:"
            f"{request.environ.get('SERVER_PORT', '80')}{request.script_root}/")
        return root + "sessions.ics"

    def _report_programme(self, request: Request) -> str | None:
        """``?program=ID``; may be left out when there is one programme."""
        programme = _one(request, "program")
        programmes = self.feed.programmes() or ()
        if programme is None:
            if len(programmes) > 1:
                raise HttpError(400, "give program=ID, one of: " + ", ".join(p.id for p in programmes))
            return programmes[0].id if programmes else None
        if not self.feed.knows(programme):
            raise HttpError(404, "no such programme")
        return programme

    def _attestation_rule(self, programme_id: str | None) -> AttestationRule:
        """The programme's [attestation] rule, read from its file as the feed last loaded it."""
        found = next((p for p in self.feed.programmes() or () if p.id == programme_id), None)
        if found is None:
            raise HttpError(404, "no programme file for this report: its attestation rule cannot be read")
        if found.attestation is None:
            raise HttpError(404, f"programme {found.id} has no [attestation] rule; add it to its file")
        return found.attestation

    def _healthz(self, request: Request) -> Response:
        with self._store_lock:
            # The nightly sync is what must be healthy; its push and pull record runs of their own.
            runs = self._store.runs(limit=5, kind="sync") or self._store.runs(limit=20)
        body, healthy = health_report(runs, self._now(), self.settings.serve.max_run_age_hours)
        return _response(json.dumps(body, sort_keys=True).encode(), 200 if healthy else 503, "application/json",
                         Cache_Control="no-store")

    def _report(self, request: Request, kind: str, fmt: str) -> Response:
        if not self.tokens.check_header(request.headers.get("Authorization")):
            # No detail on purpose: missing, malformed and wrong tokens look the same.
            raise HttpError(401, "unauthorized", {"WWW-Authenticate": 'Bearer realm="lms-sync"'})
        lang = _lang(request, default=self.settings.report.lang)
        run, since = _run_param(request), _since_param(request)
        if kind != "completion" and since is not None:
            raise HttpError(400, "since applies to the completion report only")
        if kind == "programmes" and run != "latest":
            raise HttpError(400, "the report across programmes is of every programme's latest snapshot: leave run out")
        views = {"attestation": ATTESTATION_VIEWS, "programmes": CUMULATIVE_VIEWS}.get(kind, VIEW_NAMES)
        view = _view_param(request, fmt, views)
        # Across programmes, program=ID narrows to one; left out, every programme is in it.
        programme = self._report_programme(request) if kind != "programmes" or _one(request, "program") else None
        rule = self._attestation_rule(programme) if kind == "attestation" else None
        try:
            body, content_type = self.reports.get(fmt, run=run, since=since, lang=lang,
                                                  delimiter=self.settings.report.csv_delimiter, programme_id=programme,
                                                  report=kind, view=view, rule=rule)
        except ReportsBusy:
            raise HttpError(503, "the report is being prepared; try again in a few seconds",
                            {"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
        except LookupError as exc:  # unknown run, or no pull recorded yet
            raise HttpError(404, str(exc) or "no such report") from None
        except LmsSyncError as exc:
            raise HttpError(409, str(exc)) from None
        response = _response(body, 200, content_type, csp=CSP_REPORT_HTML if fmt == "html" else CSP_NONE,
                             Cache_Control="no-store")
        if fmt in ("csv", "xlsx"):
            name = kind if view == views[0] else f"{kind}-{view}"
            response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
        return response


def make_app(settings: Settings, *, renderer: ReportRenderer = render_report_with_type, recheck_seconds: float = 1.0,
             clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = utcnow,
             report_seats: int | None = None) -> LmsSyncApp:
    """The WSGI application for these settings (``renderer`` defaults to ``lms_sync.reports``)."""
    return LmsSyncApp(settings, renderer=renderer, recheck_seconds=recheck_seconds, clock=clock, now=now,
                      report_seats=report_seats)


# --- request helpers ----------------------------------------------------------------------------


def _without_future_dates(environ: Environ, now: datetime) -> Environ:
    """The environ without an If-Modified-Since later than now: RFC 9110 13.1.3 has it ignored, not trusted."""
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since:
        moment = parse_http_date(since)
        if moment is None or moment > now:
            return {k: v for k, v in environ.items() if k != "HTTP_IF_MODIFIED_SINCE"}
    return environ


def _one(request: Request, name: str) -> str | None:
    if len(request.args) > MAX_QUERY_FIELDS:
        raise HttpError(400, "too many query parameters")
    values = request.args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise HttpError(400, f"give {name} once")
    return values[0]


def _lang(request: Request, default: str = DEFAULT_LANG) -> str:
    lang = _one(request, "lang")
    if lang is None:
        return default
    if lang not in LANGS:
        raise HttpError(400, "lang must be fr or en")
    return lang


def _run_param(request: Request) -> str | int:
    run = _one(request, "run")
    if run is None or run == "latest":
        return "latest"
    if run.isascii() and run.isdigit() and 0 < len(run) <= 18 and int(run) > 0:
        return int(run)
    raise HttpError(400, "run must be latest or a run number")


def _view_param(request: Request, fmt: str, views: tuple[str, ...]) -> str:
    view = _one(request, "view")
    if view is None:
        return views[0]  # each report's first view is its default
    if fmt != "csv":
        raise HttpError(400, "view applies to CSV only: the other formats hold every view")
    if view not in views:
        raise HttpError(400, "view must be one of " + ", ".join(views))
    return view


def _since_param(request: Request) -> date | None:
    since = _one(request, "since")
    if since is None:
        return None
    try:
        if len(since) != 10:
            raise ValueError
        return date.fromisoformat(since)
    except ValueError:
        raise HttpError(400, "since must be a date like 2021-01-31") from None
