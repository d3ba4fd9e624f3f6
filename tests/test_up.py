"""`aloft up` as a user runs it: a real process serving through gunicorn."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ALOFT = [sys.executable, "-c", "from aloft.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALOFT_")}
    env.update({"ALOFT_DATA_DIR": str(data_dir), "ALOFT_WEB_WORKERS": "1", **extra})
    return env


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def start_until_up(tmp_path: Path, port: int) -> tuple[subprocess.Popen, list[str]]:
    process = subprocess.Popen(
        [*ALOFT, "up", "--port", str(port)],
        env=environment(tmp_path / "data"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Aloft is up at") or time.monotonic() > deadline:
            break
    assert any(line.startswith("Aloft is up at") for line in lines), "\n".join(lines)
    return process, lines


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=30)
    finally:
        process.stdout.close()


def test_up_serves_prints_a_key_once_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    process, lines = start_until_up(tmp_path, port)
    try:
        status, body = get(f"http://127.0.0.1:{port}/api/v1/health")
        assert (status, body) == (200, b"OK")
        token_lines = [line.strip() for line in lines if line.strip().startswith("ur_")]
        assert len(token_lines) == 1
        status, body = get(f"http://127.0.0.1:{port}/api/v1/status", token_lines[0])
        assert status == 200, body
        assert get(f"http://127.0.0.1:{port}/api/v1/status", "ur_" + "0" * 24)[0] == 401
    finally:
        assert stop(process) == 0

    port = free_port()
    process, second_lines = start_until_up(tmp_path, port)
    try:
        assert not [line for line in second_lines if line.strip().startswith("ur_")]
        assert not any("Created organization" in line for line in second_lines)
    finally:
        assert stop(process) == 0


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"ALOFT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
            "Error: ALOFT_DATABASE_URL: cannot connect to",
        ),
        ({"ALOFT_DATABASE_URL": "::nonsense::"}, "Error: ALOFT_DATABASE_URL: '::nonsense::' is not a database URL"),
        (
            {"ALOFT_REDIS_URL": "redis://127.0.0.1:1/0"},
            "Error: ALOFT_REDIS_URL: cannot connect to redis://127.0.0.1:1/0",
        ),
    ],
)
def test_up_with_an_unusable_setting_says_so_in_one_line(tmp_path, variables, expected):
    result = subprocess.run(
        [*ALOFT, "up", "--port", str(free_port())],
        env=environment(tmp_path / "data", **variables),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(expected)


def test_up_refuses_a_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*ALOFT, "up", "--port", str(port)],
            env=environment(tmp_path / "data"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
