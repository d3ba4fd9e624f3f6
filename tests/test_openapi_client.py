"""A client generated from the OpenAPI document by openapi-python-client has typed settings for every type.

The document describes a monitor's input as one variant per installed check type (and a
channel's as one per channel type), each with the type's own settings: the generated client
gets a model per variant, and one per type's settings, and talks to a live server with them.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openapi_python_client", reason="openapi-python-client is not installed (tox.ini installs it)")

PACKAGE = "aloft_generated_client"


@pytest.fixture
def generated(app, client, tmp_path: Path):
    """The client package openapi-python-client writes for this server's document, imported."""
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(client.get("/api/v1/openapi.json").json))
    generate = ["generate", "--path", str(document), "--meta", "none", "--output-path", str(tmp_path / PACKAGE)]
    finished = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", *generate],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Warning" not in finished.stdout + finished.stderr, finished.stdout + finished.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_each_check_type_is_a_model_with_its_own_typed_settings(app, generated):
    models = importlib.import_module(f"{PACKAGE}.models")
    for name, check_type in app.extensions["aloft.plugins"].check_types.items():
        variant = getattr(models, f"MonitorInput{name.title()}")
        assert variant.__attrs_attrs__.type_.type == f"Literal['{name}']"
        if check_type.settings_schema is not None:
            assert variant.__attrs_attrs__.settings.type == f"Settings{name.title()} | Unset"
    settings = models.SettingsHttp.__attrs_attrs__
    assert settings.expected_status_codes.type == "list[int | str] | Unset"
    assert settings.follow_redirects.type == "bool | Unset"
    assert models.SettingsSsl.__attrs_attrs__.expiry_threshold_days.type == "int | Unset"
    assert models.ConfigSlack.__attrs_attrs__.webhook_url.type == "str"


def test_the_generated_client_creates_a_monitor_with_typed_settings_on_a_live_server(
    app, generated, live_url, auth_headers
):
    models = importlib.import_module(f"{PACKAGE}.models")
    create = importlib.import_module(f"{PACKAGE}.api.monitors.post_api_v1_monitors")
    list_types = importlib.import_module(f"{PACKAGE}.api.types.get_api_v1_check_types")
    token = auth_headers["Authorization"].removeprefix("Bearer ")
    with generated.AuthenticatedClient(base_url=live_url, token=token) as api:
        body = models.MonitorInputHttp(
            name="Shop",
            type_="http",
            url="https://shop.example.com/health",
            settings=models.SettingsHttp(method=models.SettingsHttpMethod.HEAD, expected_status_codes=[204, "200-299"]),
        )
        created = create.sync_detailed(client=api, body=body)
        assert created.status_code == 201, created.content
        settings = created.parsed.monitor.settings.to_dict()
        assert settings["method"] == "HEAD" and settings["expectedStatusCodes"] == ["204", "200-299"]
        certificate = models.MonitorInputSsl(
            name="Cert", type_="ssl", url="example.com:443", settings=models.SettingsSsl(expiry_threshold_days=30)
        )
        created = create.sync_detailed(client=api, body=certificate)
        assert created.status_code == 201, created.content
        assert created.parsed.monitor.settings.to_dict() == {"expiryThresholdDays": 30}
        check_types = list_types.sync(client=api)
    assert "http" in [entry.name for entry in check_types.check_types]
