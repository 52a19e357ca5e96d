"""How waitress serves the application: limits chosen so slow or idle clients cannot starve the feed.

waitress reads every request whole in its one I/O thread before a worker thread sees it, so a client
that connects and sends nothing (or trickles its headers) costs a socket, not a worker. What runs out
is connections: the old limit of 200 let about 200 half-open connections lock every calendar out.
The limits here: up to ``serve.max_connections`` (1,000) open at once, polled with ``poll()`` rather
than ``select()`` (which stops at 1,024 descriptors), idle ones closed after ``serve.idle_timeout``
(30 s). Beyond that, put the shipped nginx configuration in front: nginx buffers slow clients itself
and holds tens of thousands of connections.
"""

from __future__ import annotations

import logging
import resource
from typing import Any

log = logging.getLogger("lms_sync.web")

# Requests here are tiny GETs, so anything big is refused early.
MAX_REQUEST_HEADER_SIZE = 16 * 1024
MAX_REQUEST_BODY_SIZE = 1024
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_IDLE_TIMEOUT = 30
# Descriptors the process needs besides its connections: the store, the log, the listening socket...
SPARE_FILES = 64


def server_options(host: str, port: int, threads: int, *, max_connections: int = DEFAULT_MAX_CONNECTIONS,
                   idle_timeout: int = DEFAULT_IDLE_TIMEOUT) -> dict[str, Any]:
    """Keyword arguments for ``waitress.create_server``: the bind address and the connection limits."""
    return {
        "host": host,
        "port": port,
        "threads": threads,
        "ident": "lms-sync",
        "max_request_header_size": MAX_REQUEST_HEADER_SIZE,
        "max_request_body_size": MAX_REQUEST_BODY_SIZE,
        "connection_limit": max_connections,
        "channel_timeout": idle_timeout,  # a connection silent this long is closed
        "cleanup_interval": max(1, min(10, idle_timeout)),
        "asyncore_use_poll": True,  # select() cannot watch more than 1,024 descriptors
        # X-Forwarded-* are believed or not by the application (serve.trusted_proxies, werkzeug's
        # ProxyFix, which also knows X-Forwarded-Prefix); waitress would strip some of them first.
        "clear_untrusted_proxy_headers": False,
        "expose_tracebacks": False,
    }


def allow_open_files(connections: int) -> int:
    """Raise the soft limit on open files so ``connections`` fit (never above the hard limit); return the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (OSError, ValueError):
            pass  # a sandbox forbidding setrlimit (the unit sets LimitNOFILE instead): warned below
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning("only %d open files allowed (ulimit -n; LimitNOFILE= in the unit): fewer than %d connections "
                    "can be served at once", soft, connections)
    return soft
