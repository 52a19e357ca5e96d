"""The feed over HTTP: validators, 304 answers, HEAD, stability and change, several clients at once."""

from __future__ import annotations

import http.client
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from tests.web.conftest import Server, run_server, stop_server

from lms_sync.store import Store
from lms_sync.web import http_date, make_app, parse_http_date


def edit_programme(path: Path, old: str, new: str) -> None:
    """Change the programme file and move its mtime forward, as an editor saving it would."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def sequences(ics: str) -> dict[str, int]:
    """SEQUENCE of each event by UID."""
    events = re.findall(r"BEGIN:VEVENT.*?END:VEVENT", ics, flags=re.S)
    return {
        re.search(r"^UID:(.*?)\r?$", e, re.M).group(1): int(re.search(r"^SEQUENCE:(\d+)", e, re.M).group(1))  # type: ignore[union-attr]
        for e in events
    }


def test_200_then_304_with_etag(server: Server) -> None:
    first = server.get("/sessions.ics")
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert first.content.startswith(b"BEGIN:VCALENDAR")
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: no W/ prefix
    assert first.headers["Cache-Control"] == "public, max-age=3600"
    assert "Content-Encoding" not in first.headers
    assert parse_http_date(first.headers["Last-Modified"]) is not None

    second = server.get("/sessions.ics", headers={"If-None-Match": etag})
    assert second.status_code == 304
    assert second.content == b""
    assert second.headers["ETag"] == etag
    assert second.headers["Cache-Control"] == "public, max-age=3600"
    # What a cache updates its stored answer with (RFC 9110 15.4.5); the stored Last-Modified stays valid.
    assert "Content-Type" not in second.headers and "Last-Modified" not in second.headers


def test_if_none_match_lists_weak_tags_and_star(server: Server) -> None:
    etag = server.get("/sessions.ics").headers["ETag"]
    assert server.get("/sessions.ics", headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert server.get("/sessions.ics", headers={"If-None-Match": "*"}).status_code == 304
    assert server.get("/sessions.ics", headers={"If-None-Match": '"other"'}).status_code == 200


def test_if_modified_since(make_settings) -> None:  # type: ignore[no-untyped-def]
    published = datetime(2021, 1, 4, 8, 0, tzinfo=UTC)
    app = make_app(make_settings(), recheck_seconds=0, now=lambda: published)
    srv, thread, port = run_server(app)
    url = f"http://127.0.0.1:{port}/sessions.ics"

    def status(since: str, **more: str) -> int:
        return requests.get(url, headers={"If-Modified-Since": since, **more}, timeout=10).status_code

    try:
        last_modified = requests.get(url, timeout=10).headers["Last-Modified"]
        assert last_modified == "Mon, 04 Jan 2021 08:00:00 GMT"
        assert status(last_modified) == 304
        assert status(http_date(published + timedelta(days=1))) == 304  # later, but not in the future
        assert status(http_date(published - timedelta(seconds=1))) == 200
        assert status("not a date") == 200
        # A date in the future proves nothing about what the client holds (RFC 9110 13.1.3): ignored.
        assert status(http_date(datetime.now(UTC) + timedelta(days=1))) == 200
        # If-None-Match wins: a stale tag means 200 even with a matching date (RFC 9110 13.2.2).
        assert status(last_modified, **{"If-None-Match": '"stale"'}) == 200
    finally:
        stop_server(srv, thread)
        app.close()


def test_head_has_headers_and_no_body(server: Server) -> None:
    get = server.get("/sessions.ics")
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("HEAD", "/sessions.ics")
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200
        assert body == b""
        assert response.getheader("ETag") == get.headers["ETag"]
        assert response.getheader("Content-Length") == str(len(get.content))
        assert response.getheader("Last-Modified") == get.headers["Last-Modified"]
        assert response.getheader("Content-Type") == "text/calendar; charset=utf-8"
        # The connection stays usable after a HEAD answer.
        conn.request("HEAD", "/sessions.ics", headers={"If-None-Match": get.headers["ETag"]})
        again = conn.getresponse()
        assert again.status == 304
        assert again.read() == b""
    finally:
        conn.close()


def test_english_feed_is_another_variant(server: Server) -> None:
    fr = server.get("/sessions.ics")
    en = server.get("/sessions.ics?lang=en")
    assert en.status_code == 200
    assert en.headers["ETag"] != fr.headers["ETag"]
    assert "Platform: " in en.text
    assert server.get("/sessions.ics?lang=de").status_code == 400


def test_bytes_stable_while_data_unchanged(server: Server, make_settings) -> None:  # type: ignore[no-untyped-def]
    first = server.get("/sessions.ics")
    with Store(server.state_path) as outside:
        version = outside.db.execute("PRAGMA data_version").fetchone()[0]
        for _ in range(20):
            again = server.get("/sessions.ics")
            assert again.content == first.content
            assert again.headers["ETag"] == first.headers["ETag"]
        # The server wrote nothing to the store while answering.
        assert outside.db.execute("PRAGMA data_version").fetchone()[0] == version
    # A fresh server on the same store serves the very same bytes (what subscribers' caches hold).
    app = make_app(make_settings(), recheck_seconds=0)
    srv, thread, port = run_server(app)
    try:
        restarted = requests.get(f"http://127.0.0.1:{port}/sessions.ics", timeout=10)
    finally:
        stop_server(srv, thread)
        app.close()
    assert restarted.content == first.content
    assert restarted.headers["ETag"] == first.headers["ETag"]
    assert restarted.headers["Last-Modified"] == first.headers["Last-Modified"]


def test_programme_change_gives_new_etag_and_higher_sequence(server: Server) -> None:
    first = server.get("/sessions.ics")
    before = sequences(first.text)
    uid = "dgidt-ia-2020-seance-2@formation.ena.tn"
    assert before[uid] == 0
    edit_programme(server.program_file, "start = 2020-12-23T09:00:00", "start = 2020-12-23T10:00:00")

    changed = server.get("/sessions.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != first.headers["ETag"]
    after = sequences(changed.text)
    assert after[uid] == 1
    assert {k: v for k, v in after.items() if k != uid} == {k: v for k, v in before.items() if k != uid}
    assert "DTSTART;TZID=Africa/Tunis:20201223T100000" in changed.text
    assert server.get("/sessions.ics", headers={"If-None-Match": changed.headers["ETag"]}).status_code == 304


def test_broken_programme_keeps_last_good_feed(server: Server) -> None:
    good = server.get("/sessions.ics")
    edit_programme(server.program_file, "[program]", "[programme_typo]")
    again = server.get("/sessions.ics")
    assert again.status_code == 200
    assert again.content == good.content


def test_several_clients_at_once(server: Server) -> None:
    reference = server.get("/sessions.ics")
    etag = reference.headers["ETag"]

    def client(n: int) -> list[tuple[int, bool]]:
        results = []
        with requests.Session() as session:
            for i in range(15):
                if (n + i) % 2:
                    r = session.get(server.url + "/sessions.ics", headers={"If-None-Match": etag}, timeout=10)
                    results.append((r.status_code, r.content == b"" and r.headers["ETag"] == etag))
                else:
                    r = session.get(server.url + "/sessions.ics", timeout=10)
                    results.append((r.status_code, r.content == reference.content))
        return results

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [item for batch in pool.map(client, range(8)) for item in batch]
    assert len(outcomes) == 120
    assert all(ok for _, ok in outcomes)
    assert sorted({status for status, _ in outcomes}) == [200, 304]


def test_a_calendar_level_change_moves_last_modified(make_settings, program_file) -> None:  # type: ignore[no-untyped-def]
    clock = iter([datetime(2021, 1, 1, 8, 0, tzinfo=UTC), datetime(2021, 1, 2, 8, 0, tzinfo=UTC)])
    app = make_app(make_settings(), recheck_seconds=0, now=lambda: next(clock))
    srv, thread, port = run_server(app)
    url = f"http://127.0.0.1:{port}/sessions.ics"
    try:
        first = requests.get(url, timeout=10)
        edit_programme(program_file, 'title = "Cycle de formation', 'title = "Nouveau cycle de formation')
        changed = requests.get(url, timeout=10)
        revalidated = requests.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]}, timeout=10)
    finally:
        stop_server(srv, thread)
        app.close()
    assert changed.headers["ETag"] != first.headers["ETag"]
    # No session changed, yet the bytes did: a client validating by date alone must get them too.
    assert changed.headers["Last-Modified"] == "Sat, 02 Jan 2021 08:00:00 GMT"
    assert revalidated.status_code == 200
