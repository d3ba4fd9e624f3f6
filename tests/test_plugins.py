"""Plugin discovery, type collection, `aloft plugins`, and the hooks' documentation."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import json
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import aloft_http
import pytest

from aloft import hookimpl, hookspecs
from aloft.app import create_app
from aloft.channels import ChannelTarget, ChannelType, Notification
from aloft.checks import CheckResult, CheckTarget, CheckType
from aloft.cli import cli
from aloft.config import ConfigError
from aloft.plugins import PluginError, load_plugins
from aloft.testing import make_settings

DOCS = Path(__file__).parent.parent / "docs" / "plugins.md"


class PingCheck(CheckType):
    name = "ping"
    requires_url = False

    def run(self, monitor: CheckTarget) -> CheckResult:
        return CheckResult(ok=True)


class PingPlugin:
    @hookimpl
    def register_check_types(self):
        return [PingCheck]


class PingAgainPlugin:
    @hookimpl
    def register_check_types(self):
        return [type("PingAgain", (PingCheck,), {})]


class PagerChannel(ChannelType):
    name = "pager"

    def send(self, channel, event):
        pass


class PagerPlugin:
    @hookimpl
    def register_channel_types(self):
        return [PagerChannel]


HTTP_FORK = """
    from aloft import hookimpl
    from aloft.checks import CheckType

    class ForkedHttp(CheckType):
        name = "http"

    @hookimpl
    def register_check_types():
        return [ForkedHttp]
"""


def installed_plugin_names() -> str:
    return ",".join(entry_point.name for entry_point in importlib.metadata.entry_points(group="aloft"))


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str, str], None]]:
    """Install a one-module distribution the way pip would: a module and its .dist-info on sys.path."""
    modules = []

    def install_distribution(distribution: str, version: str, source: str) -> None:
        module = distribution.replace("-", "_")
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[aloft]\n{module} = {module}\n")
        modules.append(module)

    monkeypatch.syspath_prepend(str(tmp_path))
    yield install_distribution
    for module in modules:
        sys.modules.pop(module, None)


def test_entry_points_bring_in_the_installed_aloft_http():
    plugins = load_plugins()
    assert plugins.check_types["http"] is aloft_http.HttpCheck
    assert {
        "name": "http",
        "distribution": "aloft-http",
        "version": "0.1.0",
        "hooks": ["register_check_types"],
        "check_types": ["http"],
        "channel_types": [],
    } in plugins.describe()


def test_a_plugin_passed_in_extra_adds_its_type_under_its_dotted_class_name():
    plugins = load_plugins(extra=[PingPlugin(), PagerPlugin()])
    assert plugins.check_types["ping"] is PingCheck
    assert plugins.channel_types["pager"] is PagerChannel
    described = {entry["name"]: entry for entry in plugins.describe()}
    assert described["test_plugins.PingPlugin"] == {
        "name": "test_plugins.PingPlugin",
        "distribution": "test_plugins.PingPlugin",
        "version": None,
        "hooks": ["register_check_types"],
        "check_types": ["ping"],
        "channel_types": [],
    }
    assert described["test_plugins.PagerPlugin"]["channel_types"] == ["pager"]


def test_a_module_passed_in_extra_goes_by_its_module_name_and_version():
    module = types.ModuleType("aloft_ping")
    module.__version__ = "2.0"
    module.register_check_types = hookimpl(lambda: [PingCheck])
    plugins = load_plugins(extra=[module])
    assert plugins.distribution(module).name == "aloft_ping"
    assert str(plugins.distribution(module)) == "aloft_ping 2.0"
    assert plugins.check_types["ping"] is PingCheck


def test_a_duplicate_type_name_is_an_error_naming_both_installed_distributions(install):
    install("aloft-http-fork", "1.2", HTTP_FORK)
    with pytest.raises(PluginError) as caught:
        load_plugins()
    message = str(caught.value)
    assert message.startswith("Check type 'http' is provided by both ")
    assert "aloft-http 0.1.0" in message and "aloft-http-fork 1.2" in message
    assert "ALOFT_PLUGINS_DISABLED (http or aloft_http_fork)" in message or (
        "ALOFT_PLUGINS_DISABLED (aloft_http_fork or http)" in message
    )


def test_a_duplicate_between_plugins_registered_directly_names_both_by_their_names():
    with pytest.raises(PluginError, match=r"test_plugins\.PingPlugin and test_plugins\.PingAgainPlugin"):
        load_plugins(extra=[PingPlugin(), PingAgainPlugin()])


def test_a_plugin_providing_one_name_twice_is_told_so():
    module = types.ModuleType("aloft_pagers")
    module.register_channel_types = hookimpl(lambda: [PagerChannel, type("Again", (PagerChannel,), {})])
    with pytest.raises(PluginError, match=r"^Channel type 'pager' is provided twice by aloft_pagers$"):
        load_plugins(extra=[module])


def test_a_duplicate_stops_the_app_with_a_config_error(install, tmp_path):
    install("aloft-http-fork", "1.2", HTTP_FORK)
    with pytest.raises(ConfigError, match="Check type 'http' is provided by both"):
        create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'aloft.db'}"))


def test_a_hook_returning_something_other_than_a_type_is_an_error():
    module = types.ModuleType("aloft_broken")
    module.register_check_types = hookimpl(lambda: [PingCheck()])
    with pytest.raises(
        PluginError,
        match=r"^Plugin aloft_broken \(aloft_broken\): register_check_types returned .* not a CheckType subclass",
    ):
        load_plugins(extra=[module])


@pytest.mark.parametrize("name", ["http", "aloft-http", "Aloft_HTTP"])
def test_a_disabled_plugin_is_not_loaded_by_plugin_or_distribution_name(name):
    plugins = load_plugins(disabled=frozenset({name}))
    assert "http" not in plugins.check_types
    assert "http" not in [entry["name"] for entry in plugins.describe()]


def test_a_disabled_extra_plugin_is_not_loaded():
    plugins = load_plugins(disabled=frozenset({"test_plugins.PingPlugin"}), extra=[PingPlugin()])
    assert "ping" not in plugins.check_types


def test_disabling_a_name_no_plugin_has_is_logged(caplog):
    load_plugins(disabled=frozenset({"htp"}))
    assert "ALOFT_PLUGINS_DISABLED names no installed plugin: htp" in caplog.text


def test_plugins_command_shows_each_plugin_with_distribution_hooks_and_types(app):
    result = app.test_cli_runner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert (
        "http\n"
        "  distribution: aloft-http 0.1.0\n"
        "  hooks: register_check_types\n"
        "  check types: http\n"
        "  channel types: none\n"
    ) in result.output
    assert "No check types installed" not in result.output


def test_plugins_command_json_is_the_description_with_each_types_schema(app, client, auth_headers):
    result = app.test_cli_runner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    types = {plugin["name"]: plugin.pop("types") for plugin in listed}
    assert listed == app.extensions["aloft.plugins"].describe()
    served = client.get("/api/v1/check-types", headers=auth_headers).json["checkTypes"]
    (http,) = types["http"]
    assert http == {"kind": "check", **next(entry for entry in served if entry["name"] == "http")}
    channels = {entry["name"]: entry for found in types.values() for entry in found if entry["kind"] == "channel"}
    assert channels["slack"]["configSchema"]["properties"]["webhookUrl"]["x-secret"] is True


def test_the_app_starts_without_check_types_and_says_so(tmp_path, caplog):
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'aloft.db'}", ALOFT_PLUGINS_DISABLED=installed_plugin_names()
    )
    app = create_app(settings)
    assert app.extensions["aloft.plugins"].check_types == {}
    assert "No check types installed" in caplog.text
    assert app.test_client().get("/api/v1/health").status_code == 200
    result = app.test_cli_runner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert "No check types installed" in result.output


def test_plugins_add_routes_and_aloft_subcommands(install, tmp_path):
    install(
        "aloft-hello",
        "1.0",
        """
        import click
        from flask import Blueprint

        from aloft import hookimpl

        @hookimpl
        def register_blueprints(app):
            blueprint = Blueprint("hello", __name__)
            blueprint.add_url_rule("/hello", "hello", lambda: "hello from a route")
            app.register_blueprint(blueprint)

        @hookimpl
        def register_commands(cli):
            @cli.command("hello")
            def hello():
                click.echo("hello from a command")
        """,
    )
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'aloft.db'}"))
    assert app.test_client().get("/hello").get_data(as_text=True) == "hello from a route"
    result = app.test_cli_runner().invoke(cli, ["hello"])
    assert result.exit_code == 0 and result.output == "hello from a command\n"
    assert "hello" in app.test_cli_runner().invoke(cli, ["--help"]).output


def hookspec_names() -> list[str]:
    return [name for name, function in inspect.getmembers(hookspecs) if hasattr(function, "aloft_spec")]


@pytest.mark.parametrize("name", hookspec_names())
def test_every_hook_is_documented_with_its_arguments(name):
    parameters = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert f"\n### {name}({parameters})\n" in DOCS.read_text(), f"docs/plugins.md has no heading for {name}"


@pytest.mark.parametrize("contract", [CheckTarget, CheckResult, ChannelTarget, Notification])
def test_every_field_of_the_contract_is_documented(contract):
    section = DOCS.read_text().split(f"### {contract.__name__}\n", 1)[1].split("\n### ", 1)[0]
    for field in dataclasses.fields(contract):
        assert f"| `{field.name}` |" in section, f"docs/plugins.md does not document {contract.__name__}.{field.name}"
