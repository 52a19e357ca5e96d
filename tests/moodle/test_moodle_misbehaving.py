"""The transport against a real loopback stand-in that misbehaves: deadlines, caps, resets, echoed tokens."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lms_sync import errors
from lms_sync.cli import main
from lms_sync.context import Context
from lms_sync.moodle.transport import AnswerTooLarge, MoodleTransport
from lms_sync.settings import MoodleSettings
from tests.fakes.loopback import LoopbackMoodle

SITE_INFO = "core_webservice_get_site_info"


@pytest.fixture
def site() -> Iterator[LoopbackMoodle]:
    """A loopback stand-in answering site info until told to misbehave."""
    with LoopbackMoodle() as running:
        yield running


def call(settings: MoodleSettings, sleeps: list[float] | None = None) -> object:
    """One site-info call through a fresh transport (retries record their wait instead of sleeping)."""
    with MoodleTransport(settings, sleep=(sleeps if sleeps is not None else []).append) as transport:
        return transport.call(SITE_INFO)


@pytest.mark.parametrize("kind", ["trickle", "stall"])
def test_a_trickling_or_silent_site_fails_at_the_deadline(site: LoopbackMoodle, kind: str) -> None:
    """One byte every 20 ms (each read well within read_timeout) or no answer at all: the call ends at its deadline."""
    site.misbehave(kind, interval=0.02) if kind == "trickle" else site.misbehave(kind)
    started = time.monotonic()
    with pytest.raises(errors.TransientError) as caught:
        call(site.settings(deadline=0.3, read_timeout=5.0))
    took = time.monotonic() - started
    assert 0.3 <= took < 1.5
    assert "no complete answer from" in str(caught.value) and "within 0.3 s" in str(caught.value)
    assert caught.value.exit_code == errors.EXIT_UNAVAILABLE


def test_check_answers_within_its_deadline_against_a_trickling_site(
    site: LoopbackMoodle, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LMS_SYNC_MOODLE__URL", site.url)
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", site.token)
    monkeypatch.setenv("LMS_SYNC_MOODLE__DEADLINE", "0.4")
    site.misbehave("trickle", interval=0.02)
    started = time.monotonic()
    assert main(["check"]) == 3
    # The trickle would last for ever: without the deadline check hangs. The bound is loose (25 times the
    # deadline) so a loaded machine cannot fail it; what --help promises (the verdict within moodle.deadline)
    # is the transport's deadline, tested exactly without wall-clock bounds in test_moodle_transport.py.
    assert time.monotonic() - started < 10.0
    out = capsys.readouterr().out
    assert "no complete answer" in out and "lms_sync cannot use this Moodle site" in out


def test_checks_calls_share_one_deadline(site: LoopbackMoodle) -> None:
    """Calls that each answer in time cannot stretch check past its total (moodle.deadline)."""
    slow = json.dumps({"sitename": "S"}).encode()  # 17 bytes at 50 ms each: about 0.85 s
    site.misbehave("trickle", interval=0.05, body=slow)
    # Wide margins (the first call has 0.65 s to spare, the second at most 0.75 s for 0.85 s of answer):
    # a loaded CI machine must not turn the first call's success into a timeout.
    with MoodleTransport(site.settings(deadline=1.5), total_seconds=1.6) as transport:
        assert transport.call(SITE_INFO) == {"sitename": "S"}
        with pytest.raises(errors.TransientError, match="no complete answer"):
            transport.call(SITE_INFO)  # only what is left of the half second
        with pytest.raises(errors.TransientError, match="no time left"):
            transport.call(SITE_INFO)


def test_a_reset_read_is_retried_over_a_real_socket(site: LoopbackMoodle) -> None:
    site.misbehave("reset", times=1)
    sleeps: list[float] = []
    assert call(site.settings(retry_attempts=2), sleeps)["sitename"] == "Loopback Moodle"  # type: ignore[index]
    assert len(site.requests) == 2 and len(sleeps) == 1


def test_a_reset_write_is_not_retried(site: LoopbackMoodle) -> None:
    site.misbehave("reset", times=1)
    with MoodleTransport(site.settings(retry_attempts=3), sleep=lambda _s: None) as transport:
        with pytest.raises(errors.TransientError, match="closed or reset before the answer"):
            transport.call("core_course_create_courses", {"courses": [{"shortname": "x"}]}, write=True)
    assert len(site.requests) == 1


def test_a_truncated_answer_is_a_clear_transient_error(site: LoopbackMoodle) -> None:
    site.misbehave("truncate")
    with pytest.raises(errors.TransientError, match="was cut short"):
        call(site.settings())


def test_an_html_page_is_not_moodle(site: LoopbackMoodle) -> None:
    site.misbehave("html")
    with pytest.raises(errors.NotMoodleEndpoint, match="an HTML page"):
        call(site.settings())


def test_503_with_retry_after_is_waited_for_then_succeeds(site: LoopbackMoodle) -> None:
    site.misbehave("status", times=2, code=503, retry_after="7")
    sleeps: list[float] = []
    assert call(site.settings(retry_attempts=3), sleeps)["sitename"] == "Loopback Moodle"  # type: ignore[index]
    assert len(site.requests) == 3 and len(sleeps) == 2 and all(s >= 7 for s in sleeps)


@pytest.mark.parametrize("size", [None, 5_000_000])
def test_an_endless_or_huge_answer_is_refused_once(site: LoopbackMoodle, size: int | None) -> None:
    site.misbehave("huge", size=size)
    started = time.monotonic()
    with pytest.raises(AnswerTooLarge, match="larger than 1 MB") as caught:
        call(site.settings(max_response_mb=1, retry_attempts=3))
    assert caught.value.exit_code == errors.EXIT_UNAVAILABLE
    assert len(site.requests) == 1  # not retried: the same answer would come again
    assert time.monotonic() - started < 2.0


def test_http_to_another_host_warns_that_the_token_travels_in_clear(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lms_sync")
    for url in ("https://moodle.example.test", "http://127.0.0.1:8000", "http://localhost"):
        MoodleTransport(MoodleSettings(url=url, token="t" * 32)).close()
    assert caplog.records == []
    MoodleTransport(MoodleSettings(url="http://moodle.example.test", token="t" * 32)).close()
    assert [r.getMessage() for r in caplog.records] == [
        "moodle.url is http:// (moodle.example.test): the token travels in clear over the network; use https://"
    ]


# ------------------------------------------------------------------------------- an echoed token

# Not hex like Moodle's: its URL- and JSON-encoded forms differ from it, and all must be masked.
ODD_TOKEN = 'tok+en/with=odd&chars"0123456789'


def _leaks(text: str) -> bool:
    from urllib.parse import quote, quote_plus

    return any(form in text for form in (ODD_TOKEN, quote(ODD_TOKEN), quote(ODD_TOKEN, safe=""), quote_plus(ODD_TOKEN),
                                         json.dumps(ODD_TOKEN)[1:-1], "tok+en", "tok%2Ben"))


@pytest.fixture
def echoing(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackMoodle]:
    """A stand-in Moodle for the CLI, whose fake data and errors quote the request's token."""
    from tests.fakes.moodle import FakeMoodle
    from tests.fakes.moodle_completion import add_completion

    fake = FakeMoodle(token=ODD_TOKEN)
    add_completion(fake)
    with LoopbackMoodle(fake) as running:
        fake.url = running.url
        fake.endpoint = running.url + "/webservice/rest/server.php"
        monkeypatch.setenv("LMS_SYNC_MOODLE__URL", running.url)
        monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", ODD_TOKEN)
        monkeypatch.setenv("LMS_SYNC_MOODLE__RETRY_ATTEMPTS", "1")
        monkeypatch.setenv("LMS_SYNC_ROSTER_FILE", "config/roster.csv")
        (workdir / "config" / "roster.csv").write_text(
            "username;email;firstname;lastname;institution;department\n"
            "hlefevre;helene.lefevre@industrie.gov.tn;Hélène;Lefèvre;Ministère de l'Industrie;DGIDT\n",
            encoding="utf-8")
        monkeypatch.setattr(Context, "sleep", staticmethod(lambda _s: None))
        yield running


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_an_echoed_token_reaches_no_output(echoing: LoopbackMoodle, workdir: Path, log_format: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Stdout, text and JSON logs, the runs table and every report format: the token is in none of them."""
    fake = echoing.fake
    # A plugin that writes the request into a profile field, and errors that quote it.
    echoing.misbehave("echo_token", times=1)
    assert main(["--log-format", log_format, "-v", "sync"]) == 1  # the push failed on the echoed error
    outputs = capsys.readouterr()
    assert "[redacted]" in outputs.err  # the error was logged...
    assert main(["--log-format", log_format, "sync"]) == 0
    for user in fake.users.values():
        if user["username"] == "hlefevre":
            user["department"] = f"DGIDT wstoken={ODD_TOKEN}"
    assert main(["--log-format", log_format, "-v", "pull"]) == 0
    outputs2 = capsys.readouterr()
    assert main(["check"]) in (0, 1)
    echoing.misbehave("echo_token", times=1, errorcode="invalidtoken")
    assert main(["check"]) == 3
    assert main(["runs"]) == 0
    assert main(["runs", "--json"]) == 0
    texts = [outputs.out, outputs.err, outputs2.out, outputs2.err, capsys.readouterr().out]
    for fmt in ("csv", "json", "html", "xlsx"):
        assert main(["report", "completion", "--format", fmt, "--out", f"r.{fmt}"]) == 0
    report_csv = (workdir / "r.csv").read_bytes().decode("utf-8-sig")
    assert "DGIDT wstoken=[redacted]" in report_csv  # ...and the data kept, masked
    import zipfile

    with zipfile.ZipFile(workdir / "r.xlsx") as book:
        texts += [book.read(name).decode("utf-8", errors="replace") for name in book.namelist()]
    texts += [(workdir / f"r.{fmt}").read_text(encoding="utf-8-sig") for fmt in ("csv", "json", "html")]
    texts.append((workdir / "var" / "lms_sync.sqlite3").read_bytes().decode("latin-1"))
    wal = workdir / "var" / "lms_sync.sqlite3-wal"
    if wal.exists():
        texts.append(wal.read_bytes().decode("latin-1"))
    assert [i for i, text in enumerate(texts) if _leaks(text)] == []


# -------------------------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1."""
    from tests.fakes.loopback import self_signed

    made = self_signed(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("no openssl command to make a certificate")
    return made


def test_an_untrusted_certificate_is_exit_3_with_what_to_do(certificate: tuple[str, str]) -> None:
    with LoopbackMoodle(certificate=certificate) as site:
        with pytest.raises(errors.MoodleUnavailable) as caught:
            call(site.settings())
        assert "not signed by a trusted authority" in str(caught.value)
        assert caught.value.hint and "moodle.ca_bundle" in caught.value.hint
        assert caught.value.exit_code == errors.EXIT_UNAVAILABLE
        # Given the CA (here the certificate itself), the same site is trusted.
        assert call(site.settings(ca_bundle=Path(certificate[0])))["sitename"] == "Loopback Moodle"  # type: ignore[index]


def test_a_ca_bundle_that_holds_no_certificate_is_a_settings_error(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.cer"
    garbage.write_bytes(b"0\x82\x03\x00 DER bytes")
    with pytest.raises(ValueError, match="holds no PEM certificate"):
        MoodleSettings(url="https://formation.ena.tn", token="t" * 32, ca_bundle=garbage)


def test_a_missing_ca_bundle_is_a_settings_error(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LMS_SYNC_MOODLE__URL", "https://formation.ena.tn")
    monkeypatch.setenv("LMS_SYNC_MOODLE__TOKEN", "t" * 32)
    monkeypatch.setenv("LMS_SYNC_MOODLE__CA_BUNDLE", "/etc/ssl/ena-ca.pem")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "moodle.ca_bundle: error: /etc/ssl/ena-ca.pem is not a file" in err and "internal error" not in err
