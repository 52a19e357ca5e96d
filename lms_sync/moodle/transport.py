"""HTTP transport to Moodle's REST web services: the only module in lms_sync that imports requests.

It flattens parameters the way PHP reads them, POSTs them with the token in the form body, types every
failure at the boundary (see ``lms_sync.errors``) and retries transient faults when that is safe.
Neither the token nor Moodle's ``debuginfo`` ever reaches a log record, a message or a ``repr``: every
answer is redacted before it is decoded, because a misconfigured proxy or plugin may echo the
request (token included) in an error message.

Each call has a deadline (``moodle.deadline``) from connecting to the answer's last byte, enforced by
a timer that shuts the socket down, because the read timeout alone bounds one socket read only: a
site trickling one byte a second would otherwise hold a run (and its lock) for as long as it likes.
Answers are read in chunks and refused past ``moodle.max_response_mb``.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

import requests
import tenacity
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError

from .. import __version__
from ..errors import (
    AccessDenied,
    AlreadyExists,
    ConfigError,
    InvalidParameter,
    InvalidToken,
    MoodleError,
    MoodleRemoteError,
    MoodleUnavailable,
    NotFound,
    NotMoodleEndpoint,
    TransientError,
    WebServicesDisabled,
)
from ..redact import Redactor
from ..settings import MoodleSettings

log = logging.getLogger("lms_sync.moodle")

ENDPOINT = "/webservice/rest/server.php"
FIXED_FIELDS = ("wstoken", "wsfunction", "moodlewsrestformat")
USER_AGENT = f"lms_sync/{__version__}"
# Retry-After and the backoff never make one wait longer than this.
MAX_SINGLE_WAIT = 60.0

_HINT_URL = "check LMS_SYNC_MOODLE__URL: it must be the Moodle site root (the address of its front page)"
_HINT_TOKEN = (
    "check LMS_SYNC_MOODLE__TOKEN (Site administration > Server > Web services > Manage tokens); "
    "a request over the site's max_input_vars also drops the token"
)

# errorcode -> exception class; codes not listed become MoodleRemoteError.
ERRORCODE_CLASSES: dict[str, type[MoodleError]] = {
    "invalidtoken": InvalidToken,
    "accessexception": AccessDenied,
    "nopermissions": AccessDenied,
    "wsusercannotassign": AccessDenied,
    "cannotviewreport": AccessDenied,
    "errorreportview": AccessDenied,
    "criteriaerror": AccessDenied,  # core_course_get_categories: "Missing permissions to search on a criterion"
    "invalidparameter": InvalidParameter,
    "errorinvalidparam": InvalidParameter,
    "invalidrecord": NotFound,
    "invalidrecordunknown": NotFound,
    "usernotenroled": NotFound,
    "errorcatcontextnotvalid": NotFound,
    "errorcoursecontextnotvalid": NotFound,
    "shortnametaken": AlreadyExists,
    "courseidnumbertaken": AlreadyExists,
    "categoryidnumbertaken": AlreadyExists,
    "idnumbertaken": AlreadyExists,
    "usernameexists": AlreadyExists,
    "emailexists": AlreadyExists,
    "sitemaintenance": TransientError,
    # Moodle's database refused a write the call made on the side (seen on the real test site, once in
    # a few hundred parallel completion reads): the transaction was rolled back, so a read is retried
    # and a write is left to the journal's look-up like any answer lost in transit.
    "dmlwriteexception": TransientError,
}

_ERRORCODE_HINTS: dict[str, str] = {
    "invalidtoken": _HINT_TOKEN,
    "accessexception": (
        "add function {wsfunction} to the token's external service (Site administration > Server > "
        "Web services > External services > Functions) and make the sync account an authorised user of it"
    ),
    "nopermissions": "give the sync account's role the capability named in the message, at system level",
    "wsusercannotassign": "allow the sync account's role to assign that role (Define roles > Allow role assignments)",
    "cannotviewreport": "enable completion on the course and grant the sync account report/completion:view",
    "errorreportview": "add the sync account to the report's audience in Report builder",
    "nocriteriaset": "set the course's completion criteria in Moodle (Course > Course completion)",
    "criteriaerror": "give the sync account's role moodle/category:manage (and viewhiddencategories) at system level",
    "sitemaintenance": "the site is in maintenance mode; run again when it is back",
    "dmlwriteexception": "Moodle's database refused a write (usually two requests at once); run again, and "
                         "if it persists see the site's error log",
}


class RequestNotSent(TransientError):
    """The request never reached Moodle (connection refused, DNS, connect timeout): safe to retry any call."""


class AnswerTooLarge(TransientError):
    """The answer went past ``moodle.max_response_mb``: a fault of the path or the site, not retried."""


# ------------------------------------------------------------------------------------------- deadlines

_current = threading.local()  # the _Watch of the call this thread is making


class _Watch:
    """Ends one call at its deadline: a timer shuts its socket down, so a blocked read returns at once."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        # Sockets, not connections: http.client drops ``conn.sock`` once a close-delimited answer starts,
        # while the answer keeps reading from the same socket.
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watch:
        _current.watch = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _current.watch = None

    def attach(self, sock: socket.socket | None) -> None:
        """Watch this socket (called by the connection when the call connects or reuses it)."""
        if sock is None:
            return
        with self._lock:
            self._socks.append(sock)
            fired = self.fired
        if fired:
            _shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            socks = list(self._socks)
        for sock in socks:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        # The plain socket's shutdown, also under TLS: it wakes a read blocked in another thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _Watched:
    """Mixed into urllib3's connections: each connect and reuse registers the socket with the call's watch."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.attach(getattr(self, "sock", None))  # a kept-alive connection (None: connect() comes next)
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.attach(getattr(self, "sock", None))


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter with connections that a call's deadline can cut, proxies included."""

    _pools = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pools)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = dict(self._pools)
        return manager


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls_reason(exc: BaseException) -> tuple[str, str]:
    """What went wrong in a TLS handshake, and what to do, from the ssl library's words."""
    text = str(exc)
    ca_hint = "set moodle.ca_bundle to your CA's certificate file (PEM), or verify_tls = false for a lab only"
    if "certificate has expired" in text:
        return "the site's certificate has expired", "renew the certificate on the Moodle server"
    if "Hostname mismatch" in text or "doesn't match" in text:
        return ("the site's certificate is for another host name",
                "use the host name the certificate names in LMS_SYNC_MOODLE__URL")
    if "self-signed" in text or "unable to get local issuer" in text or "CERTIFICATE_VERIFY_FAILED" in text:
        return "the site's certificate is not signed by a trusted authority", ca_hint
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return ("the site did not answer TLS (is it http:// only, or the wrong port?)",
                "check LMS_SYNC_MOODLE__URL: https:// for a TLS site, and the right port")
    return "the TLS handshake failed", ca_hint


# ---------------------------------------------------------------------------------------------- params


def _scalar(value: Any) -> str:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "1" if value else "0"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime sent to Moodle; attach a timezone so the instant is unambiguous")
        return str(int(value.timestamp()))
    if isinstance(value, date):
        raise ValueError("a date has no instant; send an aware datetime or Unix seconds")
    if isinstance(value, Enum):
        return _scalar(value.value)
    return str(value)


def flatten_params(params: Mapping[str, Any] | None, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested params into PHP form fields (``events[0][name]``); bools 1/0, ``None`` omitted."""
    out: list[tuple[str, str]] = []
    if not params:
        return out

    def walk(key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for sub, subvalue in value.items():
                walk(f"{key}[{sub}]", subvalue)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(f"{key}[{index}]", item)
        else:
            out.append((key, _scalar(value)))

    for name, value in params.items():
        walk(f"{prefix}[{name}]" if prefix else str(name), value)
    return out


def field_count(params: Mapping[str, Any] | None) -> int:
    """How many form fields a call sends, the three fixed ones (token, function, format) included."""
    return len(FIXED_FIELDS) + len(flatten_params(params))


# --------------------------------------------------------------------------------------------- decoding


def _strip_html(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _capability(message: str) -> str | None:
    # Moodle words it "... permissions to do that (Create courses)." : the name is the last parenthesis.
    found = re.search(r"\(([^()]+)\)\.?\s*$", message)
    return found.group(1) if found else None


def error_from_body(wsfunction: str, body: Mapping[str, Any]) -> MoodleError:
    """Turn Moodle's ``{"exception", "errorcode", "message", "debuginfo"?}`` into a typed error (debuginfo dropped)."""
    errorcode = str(body.get("errorcode") or "")
    message = str(body.get("message") or "Moodle reported an error")
    if errorcode and not re.fullmatch(r"[A-Za-z0-9_.:-]+", errorcode):
        # The password policy puts its HTML text in errorcode: it is a validation message, not a code.
        return InvalidParameter(_strip_html(errorcode), wsfunction=wsfunction, hint="fix the value Moodle refused")
    if "<" in message:
        message = _strip_html(message)
    cls = ERRORCODE_CLASSES.get(errorcode, MoodleRemoteError)
    hint = _ERRORCODE_HINTS.get(errorcode, "").format(wsfunction=wsfunction) or None
    if cls is AccessDenied:
        capability = _capability(message) if errorcode == "nopermissions" else None
        if capability:
            hint = f"give the sync account's role the capability \u201c{capability}\u201d at system level"
        return AccessDenied(message, capability=capability, wsfunction=wsfunction, errorcode=errorcode, hint=hint)
    if cls is InvalidParameter and errorcode == "invalidparameter":
        hint = "Moodle gives the reason only with developer debugging on; check types and unknown keys"
    return cls(message, wsfunction=wsfunction, errorcode=errorcode or None, hint=hint)


def _is_error_body(data: Any) -> bool:
    return isinstance(data, dict) and "exception" in data and "errorcode" in data


def decode_response(
    wsfunction: str, status: int, content_type: str, body: str, headers: Mapping[str, str] | None = None
) -> Any:
    """Decode one HTTP answer: the JSON value on success (``None`` for JSON ``null``), else a typed error."""
    headers = headers or {}
    if status == 429 or status >= 500:
        raise TransientError(
            f"HTTP {status} from Moodle", wsfunction=wsfunction, retry_after=_retry_after(headers.get("Retry-After")),
            hint="the site is overloaded or down (lms_sync retried with backoff); run again later",
        )
    if status == 403 and not body.strip():
        raise WebServicesDisabled(
            "HTTP 403 with an empty body: web services or the REST protocol are disabled",
            wsfunction=wsfunction,
            hint="enable web services and the REST protocol (Site administration > Server > Web services > Overview)",
        )
    try:
        data = json.loads(body)
    except ValueError:
        raise _not_moodle(wsfunction, status, content_type, body) from None
    if _is_error_body(data):
        raise error_from_body(wsfunction, data)
    if status != 200:
        raise _not_moodle(wsfunction, status, content_type, body)
    return data


def _not_moodle(wsfunction: str, status: int, content_type: str, body: str) -> NotMoodleEndpoint:
    head = body.lstrip()[:200].lower()
    if status in (301, 302, 303, 307, 308):
        what, hint = f"HTTP {status} redirect", _HINT_URL + " (use the final address, https:// included)"
    elif head.startswith("<?xml") or "xml" in content_type:
        what = "an XML answer"
        hint = "something between lms_sync and Moodle dropped moodlewsrestformat=json; " + _HINT_URL
    elif head.startswith(("<!doctype", "<html")) or "<html" in head or "html" in content_type:
        what, hint = f"an HTML page (HTTP {status})", _HINT_URL
        if status == 200:
            hint += "; if the page is Moodle's own, turn off debug display (it breaks JSON answers)"
    else:
        what, hint = f"a non-JSON answer (HTTP {status}, {content_type or 'no content type'})", _HINT_URL
    return NotMoodleEndpoint(f"the URL answered {what}, not Moodle's JSON web-service API", wsfunction=wsfunction, hint=hint)


# -------------------------------------------------------------------------------------------- transport


def _never_sent(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError)


class _BackoffWait(tenacity.wait.wait_base):
    """Exponential backoff with jitter, but at least what the server asked for in Retry-After."""

    def __init__(self, cap: float) -> None:
        self._backoff = tenacity.wait_exponential_jitter(initial=1, max=min(30.0, cap), jitter=1)
        self._cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        wait = self._backoff(retry_state)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        return min(wait, self._cap, MAX_SINGLE_WAIT)


class MoodleTransport:
    """One requests.Session to one Moodle site; ``call`` is the only way lms_sync reaches Moodle."""

    def __init__(
        self,
        settings: MoodleSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        total_seconds: float | None = None,
    ) -> None:
        """Build the session from the settings; ``sleep`` is injectable so tests never wait.

        ``total_seconds`` bounds all the calls of this transport together (``check`` gives its verdict
        within ``moodle.deadline`` whatever the site does).
        """
        if not settings.url:
            raise ConfigError("Moodle URL is not set", hint="set LMS_SYNC_MOODLE__URL (or [moodle] url)")
        if settings.token is None or not settings.token.get_secret_value():
            raise ConfigError("Moodle token is not set", hint="set LMS_SYNC_MOODLE__TOKEN or [moodle] token_file")
        self.settings = settings
        self.url = settings.url.rstrip("/") + ENDPOINT
        self._token = settings.token
        self._redact = Redactor([settings.token.get_secret_value()])
        self._sleep = sleep
        self._ends_at = None if total_seconds is None else time.monotonic() + total_seconds
        self._max_bytes = int(settings.max_response_mb * 1024 * 1024)
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._session.headers["Accept"] = "application/json"
        parts = requests.utils.urlparse(settings.url)
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            log.warning("moodle.url is http:// (%s): the token travels in clear over the network; use https://",
                        parts.hostname)
        adapter = _DeadlineAdapter(pool_connections=1, pool_maxsize=max(settings.concurrency, 1), max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._verify: bool | str
        if not settings.verify_tls:
            log.warning("TLS certificate verification is OFF for %s (verify_tls = false): use this only for a lab", settings.url)
            self._verify = False
        elif settings.ca_bundle is not None:
            self._verify = str(settings.ca_bundle)
        else:
            self._verify = True

    def __repr__(self) -> str:
        return f"MoodleTransport(url={self.url!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> MoodleTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def redact(self, text: str) -> str:
        """Replace the token (also URL- or JSON-encoded) wherever it appears in ``text``."""
        return self._redact(text)

    def call(
        self, wsfunction: str, params: Mapping[str, Any] | None = None, *, write: bool = False, retry_safe: bool = False
    ) -> Any:
        """Call one wsfunction; reads are retried on transient faults, writes only when ``retry_safe``."""
        fields = flatten_params(params)
        total = len(FIXED_FIELDS) + len(fields)
        budget = self.settings.max_input_vars
        if total > budget:
            raise InvalidParameter(
                f"request has {total} form fields, over max_input_vars={budget}; PHP would silently drop the rest",
                wsfunction=wsfunction,
                hint="split the batch (lms_sync.moodle.batching), or raise moodle.max_input_vars if the site allows it",
            )

        def should_retry(exc: BaseException) -> bool:
            if not isinstance(exc, TransientError) or isinstance(exc, AnswerTooLarge):
                return False
            return not write or retry_safe or isinstance(exc, RequestNotSent) or exc.errorcode == "sitemaintenance"

        attempts = self.settings.retry_attempts
        retrying = tenacity.Retrying(
            sleep=self._sleep,
            stop=tenacity.stop_after_attempt(attempts) | tenacity.stop_after_delay(self.settings.retry_max_seconds),
            wait=_BackoffWait(self.settings.retry_max_seconds),
            retry=tenacity.retry_if_exception(should_retry),
            before_sleep=lambda state: self._log_retry(wsfunction, state, attempts),
            reraise=True,
        )
        return retrying(self._send, wsfunction, fields)

    def _log_retry(self, wsfunction: str, state: tenacity.RetryCallState, attempts: int) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s (attempt %d of %d); retrying in %.1f s",
            self.redact(str(exc) if exc else wsfunction),
            state.attempt_number,
            attempts,
            wait,
        )

    def _send(self, wsfunction: str, fields: Iterable[tuple[str, str]]) -> Any:
        data = [
            ("wstoken", self._token.get_secret_value()),
            ("wsfunction", wsfunction),
            ("moodlewsrestformat", "json"),
            *fields,
        ]
        seconds = self.settings.deadline
        if self._ends_at is not None:
            seconds = min(seconds, self._ends_at - time.monotonic())
            if seconds <= 0:
                raise TransientError(
                    f"no time left: the calls to {self.settings.url} took longer than {self.settings.deadline:g} s "
                    "in all", wsfunction=wsfunction, hint="the site is very slow; run again later")
        started = time.monotonic()
        log.debug("POST %s (%d fields)", wsfunction, len(data))
        with _Watch(seconds) as watch:
            try:
                status, content_type, headers, body = self._post(data, wsfunction, seconds)
            except requests.exceptions.SSLError as exc:
                reason, hint = _tls_reason(exc)
                raise MoodleUnavailable(f"TLS error talking to {self.settings.url}: {reason}",
                                        wsfunction=wsfunction, hint=hint) from None
            except requests.RequestException as exc:
                if watch.fired:
                    raise self._too_slow(wsfunction, seconds) from None
                raise self._transient(wsfunction, exc) from None
            except OSError as exc:  # requests' own checks: a CA bundle that vanished since start-up
                raise MoodleUnavailable(
                    f"cannot set up the connection to {self.settings.url}: {exc}", wsfunction=wsfunction,
                    hint="check moodle.ca_bundle (the file must exist and be readable)") from None
            if watch.fired:
                raise self._too_slow(wsfunction, seconds)
        log.debug("%s: HTTP %d, %d bytes in %.2f s", wsfunction, status, len(body), time.monotonic() - started)
        # Redacted before anything reads it: whatever Moodle or a proxy echoes never leaves this module.
        return decode_response(wsfunction, status, content_type, self.redact(body), headers)

    def _post(
        self, data: list[tuple[str, str]], wsfunction: str, seconds: float
    ) -> tuple[int, str, Mapping[str, str], str]:
        """POST and read the whole answer in chunks, refusing it past the size cap."""
        response = self._session.post(
            self.url,
            data=data,
            timeout=(min(self.settings.connect_timeout, seconds), min(self.settings.read_timeout, seconds)),
            verify=self._verify,
            allow_redirects=False,  # a redirected POST becomes a GET and loses the token
            stream=True,
        )
        with response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise self._too_large(wsfunction)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > self._max_bytes:  # counted after decompression: a small gzip bomb is caught too
                    raise self._too_large(wsfunction)
                chunks.append(chunk)
            body = b"".join(chunks).decode("utf-8", errors="replace")
            return response.status_code, response.headers.get("Content-Type", ""), response.headers, body

    def _too_slow(self, wsfunction: str, seconds: float) -> TransientError:
        return TransientError(
            f"no complete answer from {self.settings.url} within {seconds:g} s (the deadline of one call)",
            wsfunction=wsfunction,
            hint="the site or the network is very slow; a write may have been applied, and the next run "
            "looks it up before retrying. Raise moodle.deadline only if the site is known to be this slow",
        )

    def _too_large(self, wsfunction: str) -> AnswerTooLarge:
        return AnswerTooLarge(
            f"the answer from {self.settings.url} is larger than {self.settings.max_response_mb:g} MB",
            wsfunction=wsfunction,
            hint="something between lms_sync and Moodle sends an endless answer; if the site really answers "
            "this much, lower pull.report_page_size or raise moodle.max_response_mb",
        )

    def _transient(self, wsfunction: str, exc: requests.RequestException) -> TransientError:
        kind = type(exc).__name__
        where = self.settings.url
        if _never_sent(exc):
            return RequestNotSent(
                f"cannot connect to {where} ({kind})",
                wsfunction=wsfunction,
                hint="check LMS_SYNC_MOODLE__URL, DNS and the network path to the site",
            )
        if isinstance(exc, requests.Timeout):
            msg = f"no answer from {where} within {self.settings.read_timeout:g} s ({kind})"
            hint = "the request may have been applied; the next run looks the object up before retrying"
        elif isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
            msg = f"the answer from {where} was cut short ({kind})"
            hint = "the site or a proxy dropped the connection mid-answer; a write may have been applied, and " \
                   "the next run looks it up before retrying"
        elif any(word in str(exc).lower() for word in ("reset", "aborted", "closed connection")):
            msg = f"the connection to {where} was closed or reset before the answer came ({kind})"
            hint = "the site, a proxy or a firewall cut the connection; run again, and check the path if it persists"
        else:
            msg, hint = f"connection to {where} failed ({kind})", "check LMS_SYNC_MOODLE__URL and the network path to the site"
        return TransientError(self.redact(msg), wsfunction=wsfunction, hint=hint)
