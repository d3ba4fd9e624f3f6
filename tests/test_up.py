"""`aloft up` as a user runs it: a real process serving through gunicorn."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The `aloft` console script as pip installs it: the working directory is not on sys.path (-P).
ALOFT = [sys.executable, "-P", "-c", "from aloft.cli import main; main()"]


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


def post(url: str, body: dict, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Up:
    """`aloft up` running in ``directory``, its output collected line by line as it comes."""

    def __init__(self, directory: Path, **extra: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [*ALOFT, "up", "--port", str(self.port)],
            env=environment(directory / "data", **extra),
            cwd=directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for("Aloft is up at")

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The first line of output that holds ``text``, once it has come."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                if time.monotonic() > deadline or self.process.poll() is not None:
                    pytest.fail(f"`aloft up` printed no {text!r}:\n" + "\n".join(self.lines), pytrace=False)
                self._changed.wait(0.5)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        finally:
            self.process.stdout.close()


def test_up_serves_prints_a_key_once_and_stops_on_ctrl_c(tmp_path):
    up = Up(tmp_path)
    try:
        status, body = get(f"{up.url}/api/v1/health")
        assert (status, body) == (200, b"OK")
        token_lines = [line.strip() for line in up.lines if line.strip().startswith("ur_")]
        assert len(token_lines) == 1
        status, body = get(f"{up.url}/api/v1/status", token_lines[0])
        assert status == 200, body
        assert get(f"{up.url}/api/v1/status", "ur_" + "0" * 24)[0] == 401
        (setup,) = [line.strip() for line in up.lines if "/setup/" in line]
        # ALOFT_BASE_URL's default names the port bound, here --port's, not 8000
        assert setup.startswith(f"http://localhost:{up.port}/setup/")
        status, body = get(up.url + setup.removeprefix(f"http://localhost:{up.port}"))
        assert status == 200 and b"Set your password" in body and b"admin@localhost" in body
        heartbeat = {"name": "Nightly backup", "type": "heartbeat", "intervalSeconds": 3600}
        status, body = post(f"{up.url}/api/v1/monitors", heartbeat, token_lines[0])
        assert status == 201, body
        ping_url = json.loads(body)["monitor"]["pingUrl"]
        assert ping_url.startswith(f"http://localhost:{up.port}/heartbeat/"), "the web server links to that port too"
    finally:
        assert up.stop() == 0

    again = Up(tmp_path)
    try:
        assert not [line for line in again.lines if line.strip().startswith("ur_") or "/setup/" in line]
        assert not any("Created organization" in line for line in again.lines)
        hint = again.wait_for("Lost it?")
        assert hint.endswith(f"Make another with: aloft --data-dir {tmp_path / 'data'} keys create NAME")
    finally:
        assert again.stop() == 0


def test_up_links_to_aloft_base_url_when_it_is_set_whatever_the_port(tmp_path):
    up = Up(tmp_path, ALOFT_BASE_URL="https://status.example.com/")
    try:
        (setup,) = [line.strip() for line in up.lines if "/setup/" in line]
        assert setup.startswith("https://status.example.com/setup/")
    finally:
        assert up.stop() == 0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """`aloft up` in a folder that holds a package named aloft and a gunicorn.conf.py, both broken,
    with a home directory of its own."""
    directory = tmp_path_factory.mktemp("up")
    (directory / "aloft").mkdir()
    (directory / "aloft" / "__init__.py").write_text('raise ImportError("not Aloft: a folder where it was started")\n')
    (directory / "gunicorn.conf.py").write_text('raise SystemExit("not for Aloft")\n')
    home = directory / "home"
    home.mkdir()
    up = Up(directory, HOME=str(home), XDG_RUNTIME_DIR="")
    yield up
    assert up.stop() == 0


def test_up_serves_aloft_whatever_the_folder_it_runs_in_holds(served):
    assert get(f"{served.url}/api/v1/health") == (200, b"OK")
    status, body = get(f"{served.url}/api/v1/ready")
    assert (status, json.loads(body)) == (200, {"status": "ready"})


def test_up_checks_monitors_whatever_the_folder_it_runs_in_holds(served):
    (token,) = [line.strip() for line in served.lines if line.strip().startswith("ur_")]
    monitor = {"name": "itself", "type": "http", "url": f"{served.url}/api/v1/health", "intervalSeconds": 10}
    request = urllib.request.Request(
        f"{served.url}/api/v1/monitors",
        data=json.dumps(monitor).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        monitor_id = json.load(response)["monitor"]["id"]
    deadline = time.monotonic() + 60  # the first check comes within one interval
    while time.monotonic() < deadline:
        status, body = get(f"{served.url}/api/v1/monitors/{monitor_id}", token)
        if json.loads(body)["monitor"]["status"] != "pending":
            break
        time.sleep(0.5)
    assert (status, json.loads(body)["monitor"]["status"]) == (200, "up")


def test_up_makes_no_gunicorn_control_socket(served):
    # gunicorn >= 25.1 would make ~/.gunicorn/gunicorn.ctl, one path for every gunicorn of the user.
    assert not (served.directory / "home" / ".gunicorn").exists()
    assert [line for line in served.lines if "ontrol socket" in line] == []


def raw_request(url: str, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send ``request`` as it is; the status line, headers (lower-case names) and body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return status_line, headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status_line", "error"),
    [
        (
            b"GET /api/v1/health?" + b"x" * 5000 + b" HTTP/1.1\r\nHost: aloft\r\n\r\n",
            "HTTP/1.1 414 URI Too Long",
            "Request line too long (limit 4094 bytes): shorten the URL",
        ),
        (
            b"GET /api/v1/health HTTP/1.1\r\nHost: aloft\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n",
            "HTTP/1.1 431 Request Header Fields Too Large",
            "Request headers too large (limit 100 headers of 8190 bytes each)",
        ),
    ],
    ids=["request line", "header"],
)
def test_a_request_over_the_servers_limits_gets_json(served, request_bytes, status_line, error):
    answered_status, headers, body = raw_request(served.url, request_bytes)
    assert answered_status == status_line
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": error}


def test_successful_probes_stay_out_of_the_access_log(served):
    for _ in range(3):
        assert get(f"{served.url}/api/v1/health")[0] == 200
    assert get(f"{served.url}/api/v1/ready")[0] == 200
    assert get(f"{served.url}/api/v1/status?after-the-probes")[0] == 401
    # One web worker: its access log is in request order, so the probes' lines would be in by now.
    served.wait_for('"GET /api/v1/status?after-the-probes HTTP/1.1" 401')
    assert [line for line in served.lines if "GET /api/v1/health" in line or "GET /api/v1/ready" in line] == []


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
