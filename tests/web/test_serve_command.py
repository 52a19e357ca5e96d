"""``lms-sync serve`` itself: its arguments, the address it listens on, what it says at start-up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lms_sync.cli import main


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_a_port_out_of_range_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str], port: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--port", port])
    assert caught.value.code == 2
    assert f"argument --port: '{port}' is not a TCP port; give a number from 1 to 65535" in capsys.readouterr().err


def test_an_address_in_use_is_a_clear_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"error: cannot listen on 127.0.0.1:{port}: the address is already in use" in err
    assert "internal error" not in err


def _first_line(workdir: Path, *env: tuple[str, str]) -> str:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LMS_SYNC_")}
    environ.update(env)
    proc = subprocess.Popen([sys.executable, "-m", "lms_sync", "serve", "--port", str(port)], cwd=workdir,
                            env={**environ, "PYTHONPATH": str(Path(__file__).parents[2])},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        return proc.stdout.readline().replace(str(port), "PORT")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_the_start_up_message_shows_the_public_url(workdir: Path) -> None:
    public = "https://formation.ena.tn/lms-sync/sessions.ics"
    assert _first_line(workdir, ("LMS_SYNC_FEED__PUBLIC_URL", public)) == (
        f"serving on http://127.0.0.1:PORT/ (public feed: {public}); Ctrl-C to stop\n")
    assert _first_line(workdir) == ("serving on http://127.0.0.1:PORT/ (feed: http://127.0.0.1:PORT/sessions.ics; "
                                    "set feed.public_url for the address subscribers use); Ctrl-C to stop\n")
