"""The token in a ping URL never reaches a log: not the development server's, not gunicorn's."""

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import aloft_heartbeat.ingest
import pytest
from aloft_heartbeat.redaction import REDACT_PING_TOKENS
from gunicorn.config import AccessLogFormat
from heartbeat_support import ping_path, token_of
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from aloft.testing import TEST_SECRET_KEY

REDACTED_PATH = "/heartbeat/[redacted]"
TOKEN = "Xq3-v_9ZkLmN0pQrStUvWxYz12345678"
#: A ping path in the spellings a server routes to the same ping (a proxy may add a layer of escapes).
SPELLINGS = [
    (f"/heartbeat/{TOKEN}", REDACTED_PATH),
    (f"/hear%74beat/{TOKEN}", "/hear%74beat/[redacted]"),
    (f"/HEAR%74BEAT/{TOKEN}/fail", "/HEAR%74BEAT/[redacted]/fail"),
    (f"/heartbeat%2F{TOKEN}/start", "/heartbeat%2F[redacted]/start"),
    (f"/heartbeat%2f{TOKEN}?source=cron", "/heartbeat%2f[redacted]?source=cron"),
    (f"/heartbeat/%{ord(TOKEN[0]):02x}{TOKEN[1:]}", REDACTED_PATH),
    (f"/hear%2574beat/{TOKEN}", "/hear%2574beat/[redacted]"),
    (f"/%25%36%38eartbeat/{TOKEN}", "/%25%36%38eartbeat/[redacted]"),
    (f"/heartbeat/{TOKEN[:5]}%3F{TOKEN[5:]}", REDACTED_PATH),
]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def logged(record: logging.LogRecord) -> str:
    assert REDACT_PING_TOKENS.filter(record)
    return record.getMessage()


@pytest.mark.parametrize(("path", "shown"), SPELLINGS)
def test_gunicorns_access_log_line_loses_the_token_in_any_spelling(path, shown):
    atoms = {
        "h": "127.0.0.1",
        "l": "-",
        "u": "-",
        "t": "[10/Jan/2027:10:00:00 +0000]",
        "r": f"GET {path} HTTP/1.1",
        "s": "200",
        "b": "11",
        "f": f"https://aloft.example{path}",
        "a": "curl/8.5 (100%25 sure)",
    }
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, AccessLogFormat.default, (atoms,), None)
    line = logged(record)
    assert TOKEN not in line and TOKEN[5:] not in line
    assert line == (
        f'127.0.0.1 - - [10/Jan/2027:10:00:00 +0000] "GET {shown} HTTP/1.1" 200 11 '
        f'"https://aloft.example{shown}" "curl/8.5 (100%25 sure)"'
    )


@pytest.mark.parametrize(("path", "shown"), SPELLINGS)
def test_werkzeugs_request_line_loses_the_token_in_any_spelling(path, shown):
    message = '127.0.0.1 - - [10/Jan/2027 10:00:00] "%s" %s %s'
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, message, (f"GET {path} HTTP/1.1", "200", "-"), None
    )
    assert logged(record) == f'127.0.0.1 - - [10/Jan/2027 10:00:00] "GET {shown} HTTP/1.1" 200 -'


def test_paths_that_are_not_ping_urls_are_logged_as_they_are():
    for path in ("/heartbeat/", "/heartbeats/x", "/api/v1/monitors?q=%2Fheartbeat", "/heartbeat"):
        record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '"GET %s HTTP/1.1" 200 -', (path,), None)
        assert logged(record) == f'"GET {path} HTTP/1.1" 200 -'


def spelled_ping_paths(token: str) -> list[str]:
    """Paths a server routes to the ping of ``token``, written otherwise than pingUrl."""
    return [f"/hear%74beat/{token}", f"/heartbeat%2F{token}/start", f"/heartbeat/%{ord(token[0]):02X}{token[1:]}/fail"]


def test_the_development_server_logs_ping_urls_without_their_token(app, heartbeat, caplog):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    paths = [ping_path(heartbeat) + suffix for suffix in ("", "/start", "/fail")] + spelled_ping_paths(
        token_of(heartbeat)
    )
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for path in paths:
                with urllib.request.urlopen(base + path) as response:
                    assert response.status == 200, path
    finally:
        server.shutdown()
        server.server_close()
    assert token_of(heartbeat) not in caplog.text
    assert caplog.text.count("[redacted]") == 6


def test_gunicorn_access_log_shows_ping_urls_without_their_token(app, heartbeat, aloft_database_url, tmp_path):
    port = free_port()
    environment = {
        **os.environ,
        "ALOFT_DATABASE_URL": aloft_database_url,
        "ALOFT_SECRET_KEY": TEST_SECRET_KEY,
        "ALOFT_DATA_DIR": str(tmp_path / "data"),
    }
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--access-logfile", "-"]
    server = subprocess.Popen(
        [*command, "aloft.app:create_app()"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}{ping_path(heartbeat)}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url) as response:
                    assert response.status == 200
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start: {server.communicate()[1]}")
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/heartbeat/{token_of(heartbeat)}x/fail")
        for path in spelled_ping_paths(token_of(heartbeat)):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as response:
                assert response.status == 200, path
    finally:
        server.terminate()
        access_log, error_log = server.communicate(timeout=30)
    assert token_of(heartbeat) not in access_log + error_log
    assert f'"GET {REDACTED_PATH} HTTP/1.1" 200' in access_log
    assert f'"GET {REDACTED_PATH}/fail HTTP/1.1" 404' in access_log
    assert '"GET /hear%74beat/[redacted] HTTP/1.1" 200' in access_log
    assert '"GET /heartbeat%2F[redacted]/start HTTP/1.1" 200' in access_log
    assert '"GET /heartbeat/[redacted]/fail HTTP/1.1" 200' in access_log


def test_an_error_while_recording_a_ping_is_logged_without_the_token(client, heartbeat, monkeypatch, caplog):
    token = token_of(heartbeat)

    def database_down(*args, **kwargs):
        raise OperationalError("SELECT monitors.id WHERE monitors.ping_token = ?", (token,), Exception("locked"))

    monkeypatch.setattr(aloft_heartbeat.ingest, "record_ping", database_down)
    response = client.get(ping_path(heartbeat))
    assert response.status_code == 500
    assert response.json == {"error": "Internal server error"}
    assert "OperationalError" in caplog.text and "[parameters: ('[redacted]',)]" in caplog.text
    assert token not in caplog.text
