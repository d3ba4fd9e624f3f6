"""The example plugin of docs/plugins.md, installed for real into a virtual environment.

pip installs tests/example_plugin (aloft-json-field) into a venv that also sees this
environment's packages; Aloft started there finds it through its entry point, lists it,
validates its settings through the API, schedules and runs its checks, and the example's
own tests pass against the installed copy. The guide's code is the example's files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from venv_support import environment_with, run

EXAMPLE = Path(__file__).parent / "example_plugin"
GUIDE = Path(__file__).parent.parent / "docs" / "plugins.md"
DISTRIBUTION = {
    "name": "json-field",
    "distribution": "aloft-json-field",
    "version": "0.1.0",
    "hooks": ["register_check_types"],
    "check_types": ["json-field"],
    "channel_types": [],
}

# Run by the venv's Python: everything a user's installation does, from migrations to checks.
SCENARIO = """
import json
import sys

from flask_migrate import upgrade

from aloft.app import create_app
from aloft.engine.jobs import run_batch
from aloft.engine.scheduler import due_in, now_ms
from aloft.extensions import db
from aloft.models import Organization
from aloft.testing import issue_key

server = sys.argv[1]
app = create_app()
seen = {}
with app.app_context():
    upgrade()
    check_type = app.extensions["aloft.plugins"].check_types["json-field"]
    seen["module"] = sys.modules[check_type.__module__].__file__
    organization = Organization(slug="acme", name="Acme")
    db.session.add(organization)
    db.session.commit()
    headers = {"Authorization": "Bearer " + issue_key(app, organization)[1]}
    client = app.test_client()

    def create(settings):
        monitor = {"name": "API", "type": "json-field", "url": server + "/health", "intervalSeconds": 60,
                   "confirmationCount": 1, "settings": settings}
        response = client.post("/api/v1/monitors", json=monitor, headers=headers)
        return {"status": response.status_code, "body": response.get_json()}

    seen["refused"] = create({"field": "status", "equal": "ok"})
    seen["up"] = create({"field": "status", "equals": "ok"})
    seen["down"] = create({"field": "status", "equals": "green"})
    now = now_ms()
    claims = due_in(db.session, now, now + 60_000)  # each monitor once: they check every 60 s
    seen["claimed"] = sorted(claim.monitor_id for claim in claims)
    report = run_batch([(claim.monitor_id, claim.slot_ms) for claim in claims])
    seen["recorded"], seen["opened"] = report.recorded, len(report.opened)
    for name in ("up", "down"):
        monitor_id = seen[name]["body"]["monitor"]["id"]
        seen[name]["detail"] = client.get("/api/v1/monitors/" + monitor_id, headers=headers).get_json()
print(json.dumps(seen))
"""


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("example")


@pytest.fixture(scope="module")
def example(workspace: Path) -> Path:
    """A copy of the example: pip builds in the source folder, and the checkout stays clean."""
    copy = workspace / "aloft-json-field"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__", ".pytest_cache"))
    return copy


@pytest.fixture(scope="module")
def python(workspace: Path, example: Path) -> Path:
    """The Python of a venv that sees this environment's packages and has the example installed by pip."""
    return environment_with(workspace / "venv", example)


@pytest.fixture(scope="module")
def aloft_environ(workspace: Path) -> dict[str, str]:
    """The environment of an Aloft installation on a fresh SQLite database, whatever the caller's ALOFT_* say."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("ALOFT_")}
    return {
        **environ,
        "ALOFT_DATA_DIR": str(workspace / "data"),
        "ALOFT_DATABASE_URL": f"sqlite:///{workspace / 'aloft.db'}",
        "ALOFT_SECRET_KEY": "example-secret-key-0123456789",
    }


@pytest.fixture(scope="module")
def scenario(python: Path, aloft_environ: dict[str, str], workspace: Path, server: str) -> dict[str, Any]:
    script = workspace / "scenario.py"
    script.write_text(SCENARIO)
    finished = run(python, script, server, env=aloft_environ, cwd=workspace)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout.splitlines()[-1])


def test_aloft_loads_the_check_type_from_the_installed_distribution(scenario, python):
    assert Path(scenario["module"]).is_relative_to(python.parent.parent)


def test_aloft_plugins_lists_the_example_with_its_distribution(python, aloft_environ, workspace):
    listed = run(python, "-m", "aloft", "plugins", "--json", env=aloft_environ, cwd=workspace)
    assert listed.returncode == 0, listed.stderr
    (entry,) = [plugin for plugin in json.loads(listed.stdout) if plugin["name"] == DISTRIBUTION["name"]]
    (check_type,) = entry.pop("types")
    assert entry == DISTRIBUTION
    assert (check_type["kind"], check_type["name"]) == ("check", "json-field")
    assert check_type["distribution"] == "aloft-json-field"
    assert sorted(check_type["settingsSchema"]["required"]) == ["equals", "field"]
    text = run(python, "-m", "aloft", "plugins", env=aloft_environ, cwd=workspace).stdout
    assert "json-field\n  distribution: aloft-json-field 0.1.0\n" in text


def test_disabling_the_example_by_distribution_name_unloads_it(python, aloft_environ, workspace):
    environ = {**aloft_environ, "ALOFT_PLUGINS_DISABLED": "aloft-json-field"}
    listed = run(python, "-m", "aloft", "plugins", "--json", env=environ, cwd=workspace)
    assert listed.returncode == 0, listed.stderr
    assert "json-field" not in [plugin["name"] for plugin in json.loads(listed.stdout)]


def test_the_api_refuses_bad_settings_with_issues_under_settings(scenario):
    refused = scenario["refused"]
    assert refused["status"] == 400
    assert {tuple(issue["path"]) for issue in refused["body"]["issues"]} == {
        ("settings", "equals"),
        ("settings", "equal"),
    }


def test_the_api_creates_monitors_with_valid_settings(scenario):
    assert scenario["up"]["status"] == scenario["down"]["status"] == 201
    assert scenario["up"]["body"]["monitor"]["settings"] == {"field": "status", "equals": "ok", "ignoreStatus": False}


def test_the_scheduler_claims_both_monitors_and_the_job_records_their_checks(scenario):
    ids = sorted(scenario[name]["body"]["monitor"]["id"] for name in ("up", "down"))
    assert scenario["claimed"] == ids
    assert (scenario["recorded"], scenario["opened"]) == (2, 1)


def test_the_monitors_are_up_and_down_as_the_field_says(scenario):
    up, down = scenario["up"]["detail"], scenario["down"]["detail"]
    assert up["monitor"]["status"] == "up" and up["stats"]["lastCause"] is None
    assert down["monitor"]["status"] == "down"
    assert down["stats"]["lastCause"] == 'Field "status" is "ok", expected "green"'
    assert [incident["cause"] for incident in down["recentIncidents"]] == [down["stats"]["lastCause"]]


def test_the_examples_own_tests_pass_against_the_installed_copy(python, example, workspace):
    # From the workspace, not the copy: the package is imported from the venv, not the source.
    finished = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", example, cwd=workspace)
    tests = len(re.findall(r"^def test_", (example / "tests" / "test_json_field.py").read_text(), re.MULTILINE))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert re.search(rf"\b{tests} passed\b", finished.stdout) and "skipped" not in finished.stdout, finished.stdout


def guide_files() -> dict[str, str]:
    """The code blocks of docs/plugins.md that carry a title: the example's path and its text."""
    blocks = re.findall(r'^```\w+ title="([^"]+)"\n(.*?)^```$', GUIDE.read_text(), re.MULTILINE | re.DOTALL)
    return dict(blocks)


@pytest.mark.parametrize(
    "path", ["setup.py", "aloft_json_field/__init__.py", "pytest.ini", "tests/conftest.py", "tests/test_json_field.py"]
)
def test_the_guide_shows_the_examples_files_as_they_are(path):
    shown = guide_files()
    assert path in shown, f"docs/plugins.md shows no block titled {path!r}"
    assert shown[path] == (EXAMPLE / path).read_text(), f"docs/plugins.md differs from tests/example_plugin/{path}"


def test_the_guide_shows_no_file_the_example_lacks():
    assert {path for path in guide_files() if not (EXAMPLE / path).is_file()} == set()
