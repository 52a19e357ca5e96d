#!/usr/bin/env python3
"""Benchmark ``lms-sync serve``: feed requests per second (200 and 304) and the server's peak memory.

Starts ``lms-sync serve`` as a subprocess on a free loopback port, with a copy of
config/program.toml and a fresh state store, then drives it with a load generator:

* ``wrk`` when it is installed (``--tool auto``, the default) and asked for;
* otherwise a Python generator: several processes, each with one raw socket at a time (keep-alive
  where the server allows it), sending a prebuilt request and reading just enough of the answer to
  check its status and length. Raw sockets instead of ``requests`` keep the client's CPU cost low,
  because on a 2-core machine the generator competes with the server for the same cores.

Note: waitress closes the connection after every 304 answer (it sends no Content-Length on a 304,
so it falls back to close-delimited framing), so the 304 phase measures one TCP connection per
request, which is also what a calendar app polling every few hours does.

Targets (issue 6): 304 answers at >= 1,000 requests/s; server peak RSS (VmHWM) < 60 MB.
Prints PASS or FAIL and exits 1 on FAIL.

    python benchmarks/bench_serve.py                 # 5 s per phase, 3 client processes
    python benchmarks/bench_serve.py --duration 10 --clients 4
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_304_RPS = 1000.0
TARGET_RSS_MB = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command() -> list[str]:
    """The ``lms-sync`` entry point of this interpreter's environment."""
    script = Path(sys.executable).parent / "lms-sync"
    if script.exists():
        # Run the script with this interpreter: one process, whose pid is the server's.
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "from lms_sync.cli import run; run()"]


def read_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def http_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection (set-up and checks only)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Poll until the server answers, or fail if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode} before answering")
        try:
            http_get(port, "/healthz")
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not answer in time")


# --- Python load generator ----------------------------------------------------------------------


def _read_response(sock: socket.socket, buf: bytearray) -> tuple[int, bool, bytearray]:
    """Read one response; return (status, server keeps the connection, leftover bytes)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    match = re.search(rb"\r\ncontent-length: *(\d+)", lower)
    close = b"\r\nconnection: close" in lower
    length = int(match.group(1)) if match and status != 304 else 0
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    return status, not close, body[length:]


def _worker(port: int, request: bytes, expect: int, deadline: float, max_requests: int,
            out: mp.Queue) -> None:  # type: ignore[type-arg]
    done = errors = connections = 0
    sock: socket.socket | None = None
    buf = bytearray()
    while done + errors < max_requests and time.monotonic() < deadline:
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                connections += 1
                buf = bytearray()
            sock.sendall(request)
            status, keep, buf = _read_response(sock, buf)
            if status == expect:
                done += 1
            else:
                errors += 1
            if not keep:
                sock.close()
                sock = None
        except OSError:
            errors += 1
            if sock is not None:
                sock.close()
            sock = None
    if sock is not None:
        sock.close()
    out.put((done, errors, connections))


def python_load(port: int, request: bytes, expect: int, clients: int, duration: float,
                max_requests: int) -> tuple[float, int, int, int]:
    """Run the generator; return (requests/s of expected answers, ok, errors, connections opened)."""
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start = time.monotonic()
    deadline = start + duration
    procs = [ctx.Process(target=_worker, args=(port, request, expect, deadline, max_requests // clients, out))
             for _ in range(clients)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=duration + 30) for _ in procs]
    elapsed = time.monotonic() - start
    for proc in procs:
        proc.join()
    ok = sum(r[0] for r in results)
    return ok / elapsed, ok, sum(r[1] for r in results), sum(r[2] for r in results)


def wrk_load(port: int, path: str, headers: dict[str, str], duration: float, clients: int) -> float:
    """Requests/s measured by wrk (non-2xx/3xx answers make it fail)."""
    cmd = ["wrk", "-t", "2", "-c", str(clients * 2), "-d", f"{max(1, int(duration))}s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    result = subprocess.run([*cmd, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True)
    if "Non-2xx or 3xx" in result.stdout:
        raise SystemExit("wrk saw unexpected answers:\n" + result.stdout)
    match = re.search(r"Requests/sec:\s*([\d.]+)", result.stdout)
    if not match:
        raise SystemExit("cannot read wrk's output:\n" + result.stdout)
    return float(match.group(1))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when the targets are met."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per phase (default 5)")
    parser.add_argument("--clients", type=int, default=3, help="load generator processes (default 3)")
    parser.add_argument("--requests", type=int, default=200_000, help="cap on requests per phase")
    parser.add_argument("--threads", type=int, default=4, help="server worker threads (default 4)")
    parser.add_argument("--tool", choices=("auto", "python", "wrk"), default="auto",
                        help="load generator: auto (wrk when installed, default), python or wrk")
    parser.add_argument("--quiet-server", action="store_true",
                        help="run the server at log level WARNING (no access log lines)")
    args = parser.parse_args(argv)
    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    if tool == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed; use --tool python")

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        program = Path(tmp) / "program.toml"
        shutil.copy(REPO / "config" / "program.toml", program)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_SYNC_")}
        env["LMS_SYNC_LOG__LEVEL"] = "WARNING" if args.quiet_server else "INFO"
        log_path = Path(tmp) / "server.log"
        cmd = [*server_command(), "--program", str(program), "--state", str(Path(tmp) / "state.sqlite3"),
               "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(args.threads)]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
        try:
            wait_ready(port, proc)
            status, headers, body = http_get(port, "/sessions.ics")
            assert status == 200, status
            etag = headers["etag"]
            assert http_get(port, "/sessions.ics", {"If-None-Match": etag})[0] == 304
            rss_idle = read_status(proc.pid)
            print(f"server pid {proc.pid} on 127.0.0.1:{port}, {args.threads} threads; feed {len(body)} bytes; "
                  f"load: {tool}, {args.clients} client(s), {args.duration:g} s per phase; "
                  f"access log {'off' if args.quiet_server else 'on'}")
            print(f"idle RSS {rss_idle['VmRSS'] / 1024:.1f} MB")

            phases = [("200", {}, 200), ("304", {"If-None-Match": etag}, 304)]
            rates: dict[str, float] = {}
            for name, extra, expect in phases:
                if tool == "wrk":
                    rate = wrk_load(port, "/sessions.ics", extra, args.duration, args.clients)
                    print(f"{name}: {rate:8.0f} req/s (wrk)")
                else:
                    lines = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                    request = f"GET /sessions.ics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{lines}\r\n".encode()
                    rate, ok, errors, conns = python_load(port, request, expect, args.clients, args.duration,
                                                          args.requests)
                    print(f"{name}: {rate:8.0f} req/s  ({ok} answers, {errors} errors, {conns} connections)")
                    if errors:
                        print(f"  {errors} unexpected answers or socket errors")
                rates[name] = rate
            peak = read_status(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        peak_mb = peak["VmHWM"] / 1024
        print(f"server peak RSS (VmHWM) {peak_mb:.1f} MB, RSS now {peak['VmRSS'] / 1024:.1f} MB")

    failures = []
    if rates["304"] < TARGET_304_RPS:
        failures.append(f"304 rate {rates['304']:.0f} req/s < {TARGET_304_RPS:.0f}")
    if peak_mb >= TARGET_RSS_MB:
        failures.append(f"peak RSS {peak_mb:.1f} MB >= {TARGET_RSS_MB:.0f} MB")
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print(f"PASS: 304 at {rates['304']:.0f} req/s (target {TARGET_304_RPS:.0f}), "
          f"peak RSS {peak_mb:.1f} MB (target < {TARGET_RSS_MB:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
