"""``lms-sync serve`` (the feed, the session page, reports and health over HTTP) and ``lms-sync token new``."""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import socket
from types import FrameType

from ..context import Context
from ..errors import EXIT_OK, ConfigError
from ..tokens import new_token, token_hash
from .base import SubParsers, add_command

ORDER = 80

log = logging.getLogger(__name__)


def register(sub: SubParsers, parent: argparse.ArgumentParser) -> None:
    """Add ``serve`` and ``token``."""
    serve = add_command(
        sub, parent, "serve",
        summary="serve the feed, the sessions page, reports and /healthz over HTTP",
        description="Run the HTTP service with waitress, bound to 127.0.0.1:8080 by default (settings "
        "serve.host and serve.port). GET /sessions.ics is the calendar feed (ETag, Last-Modified, 304 "
        "answers; ?lang=en for English); GET / lists the sessions with subscribe links; "
        "GET /reports/completion.{csv,xlsx,json,html} needs 'Authorization: Bearer <token>' (tokens in "
        "serve.report_tokens, or hashes from `lms-sync token new` in serve.report_token_hashes); "
        "GET /healthz answers 503 when the last run failed or is older than serve.max_run_age_hours. "
        "Put it behind the site's reverse proxy for HTTPS, and set feed.public_url for the page's links.",
        examples="  lms-sync serve\n  lms-sync serve --host 127.0.0.1 --port 8081\n"
        "  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8080/reports/completion.csv",
        handler=cmd_serve,
    )
    serve.add_argument("--host", help="address to bind (default: serve.host, 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="TCP port, 1 to 65535 (default: serve.port, 8080)")
    serve.add_argument("--threads", type=_threads, help="worker threads, 1 to 64 (default: serve.threads, 4)")

    token = add_command(
        sub, parent, "token",
        summary="make bearer tokens for the report endpoints",
        description="Manage the tokens that `lms-sync serve` accepts for /reports/.",
        examples="  lms-sync token new",
        handler=_token_help,
    )
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION")
    add_command(
        token_sub, parent, "new",
        summary="generate a report token and print its SHA-256 for the settings",
        description="Generate a random token and print it once, with its SHA-256. Give the token to the "
        "person who reads the reports; put only the SHA-256 in the settings (serve.report_token_hashes, "
        "or LMS_SYNC_SERVE__REPORT_TOKEN_HASHES as a JSON list). The token itself is stored nowhere, so "
        "a lost token is replaced, not recovered.",
        examples="  lms-sync token new\n"
        "  # config/settings.toml:\n  #   [serve]\n  #   report_token_hashes = [\"<sha256 printed above>\"]",
        handler=cmd_token_new,
    )
    token.set_defaults(_token_parser=token)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port; give a number from 1 to 65535")
    return int(text)


def _threads(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of threads from 1 to 64")
    return int(text)


def _listen_error(host: str, port: int, exc: OSError) -> ConfigError:
    """Why the server cannot listen, and what to do (exit 2: the address is part of the configuration)."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(f"cannot listen on {where}: the address is already in use",
                           hint="another program (perhaps another `lms-sync serve`) listens there: stop it, "
                           "or choose another --port (serve.port)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ConfigError(f"cannot listen on {where}: permission denied",
                           hint="ports below 1024 need root: keep lms-sync on a high port such as 8080 behind "
                           "the web server (deploy/nginx/lms-sync.conf)")
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
        return ConfigError(f"cannot listen on {where}: no such address on this machine",
                           hint="use 127.0.0.1 behind the web server, or an address this machine has (--host)")
    return ConfigError(f"cannot listen on {where}: {exc.strerror or exc}", hint="check --host and --port")


def _token_help(ctx: Context, args: argparse.Namespace) -> int:
    args._token_parser.print_help()
    return EXIT_OK


def cmd_token_new(ctx: Context, args: argparse.Namespace) -> int:
    """Print a new token and the hash to configure."""
    token = new_token()
    print("token (give it to the report reader; it is shown only this once):")
    print(f"  {token}")
    print("sha256 (add it to serve.report_token_hashes in the settings):")
    print(f"  {token_hash(token)}")
    return EXIT_OK


def cmd_serve(ctx: Context, args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    # Imported here so the other commands do not pay for waitress.
    from waitress import create_server

    from ..web import allow_open_files, make_app, server_options

    settings = ctx.settings
    host = args.host or settings.serve.host
    port = args.port if args.port is not None else settings.serve.port
    threads = args.threads or settings.serve.threads
    app = make_app(settings.model_copy(update={"serve": settings.serve.model_copy(update={"threads": threads})}))
    allow_open_files(settings.serve.max_connections)
    try:
        try:
            server = create_server(app, **server_options(
                host, port, threads, max_connections=settings.serve.max_connections,
                idle_timeout=settings.serve.idle_timeout))
        except OSError as exc:
            raise _listen_error(host, port, exc) from None
        except ValueError:  # waitress's word for a host name that resolves to nothing
            raise ConfigError(f"cannot listen on {host}:{port}: the host name does not resolve",
                              hint="use an address (127.0.0.1 behind the web server) or a name in /etc/hosts") from None

        def stop(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(0)  # waitress's run() catches SystemExit and shuts its threads down

        signal.signal(signal.SIGTERM, stop)
        shown = f"[{host}]" if ":" in host else host
        where = f"http://{shown}:{server.effective_port}/"  # type: ignore[union-attr]
        public = settings.feed.public_url
        feed = f"public feed: {public}" if public else f"feed: {where}sessions.ics; set feed.public_url for the " \
            "address subscribers use"
        print(f"serving on {where} ({feed}); Ctrl-C to stop", flush=True)
        if host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("listening on %s: put a reverse proxy with HTTPS in front of it", host)
        server.run()
    finally:
        app.close()
    return EXIT_OK
