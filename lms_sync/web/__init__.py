"""The HTTP service behind ``lms-sync serve``: a WSGI application (werkzeug) served by waitress.

Routes (exact paths only)::

    GET|HEAD /                              a small page listing the sessions, with subscribe links
    GET|HEAD /sessions.ics[?lang=en]        the feed; ETag, Last-Modified, 304 answers
    GET|HEAD /reports/completion.<fmt>      csv, xlsx, json, html; bearer token required
    GET|HEAD /healthz                       last run's outcome and age; 503 when stale or failed

One module per concern: ``app`` (routing and handlers), ``feed_cache`` (the feed bytes, the hot
path), ``report_cache`` (reports rendered off the request path), ``page``, ``health``, ``headers``
and ``server`` (waitress's limits).
"""

from .app import REPORT_FORMATS, LmsSyncApp, make_app
from .headers import http_date, parse_http_date
from .health import health_report
from .page import render_page
from .report_cache import ReportRenderer, render_report_with_type
from .server import allow_open_files, server_options

__all__ = [
    "REPORT_FORMATS",
    "LmsSyncApp",
    "ReportRenderer",
    "allow_open_files",
    "health_report",
    "http_date",
    "make_app",
    "parse_http_date",
    "render_page",
    "render_report_with_type",
    "server_options",
]
