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
from heartbeat_support import ping_path, token_of
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from aloft.testing import TEST_SECRET_KEY

REDACTED_PATH = "/heartbeat/[redacted]"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_development_server_logs_ping_urls_without_their_token(app, heartbeat, caplog):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            for suffix in ("", "/start", "/fail"):
                with urllib.request.urlopen(base + ping_path(heartbeat) + suffix) as response:
                    assert response.status == 200
    finally:
        server.shutdown()
        server.server_close()
    assert token_of(heartbeat) not in caplog.text
    assert caplog.text.count(REDACTED_PATH) == 3


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
    finally:
        server.terminate()
        access_log, error_log = server.communicate(timeout=30)
    assert token_of(heartbeat) not in access_log + error_log
    assert f'"GET {REDACTED_PATH} HTTP/1.1" 200' in access_log
    assert f'"GET {REDACTED_PATH}/fail HTTP/1.1" 404' in access_log


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
