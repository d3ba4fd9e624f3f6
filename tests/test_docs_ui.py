"""The interactive API docs: Swagger UI and ReDoc pages, served with their assets from this app alone."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from aloft.testing import unavailable

CHROMIUM = "chromium"  # Debian's package and command
SPEC_URL = "/api/v1/openapi.json"
PAGES = ["/api/v1/docs", "/api/v1/redoc"]
JAVASCRIPT_TYPES = {"text/javascript", "application/javascript"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
#: Every source a page's Content-Security-Policy may name: nothing on another origin.
LOCAL_SOURCES = {"'self'", "'none'", "'unsafe-inline'", "data:", "blob:"}


class Links(HTMLParser):
    """The URLs a page refers to: src and href attributes, and the spec URL handed to the UI."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "data-spec-url", "spec-url"} and value is not None:
                self.urls.append(value)


class RenderedOperations(HTMLParser):
    """What Swagger UI rendered: each operation as (method, path), and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.operations: set[tuple[str, str]] = set()
        self.text_parts: list[str] = []
        self._method: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if "opblock" in classes:
            self._method = next((c[len("opblock-") :] for c in classes if c[len("opblock-") :] in HTTP_METHODS), None)
        elif "opblock-summary-path" in classes and self._method is not None:
            self.operations.add((self._method, attributes.get("data-path") or ""))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        # Swagger UI breaks long paths with <wbr> and zero-width spaces.
        return "".join(self.text_parts).replace("\u200b", "")


def links(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.urls


def spec_operations(spec: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS}


@pytest.mark.parametrize("url", PAGES)
def test_page_is_html_that_needs_no_api_key(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("url", PAGES)
def test_page_refers_only_to_same_origin_urls_that_are_served(client: FlaskClient, url: str) -> None:
    html = client.get(url).get_data(as_text=True)
    urls = links(html)
    assert SPEC_URL in urls
    for link in urls:
        assert link.startswith("/") and not link.startswith("//"), link
        assert client.get(link).status_code == 200, link
    assert "http://" not in html and "https://" not in html


@pytest.mark.parametrize("url", PAGES)
def test_page_policy_allows_no_other_origin(client: FlaskClient, url: str) -> None:
    policy = client.get(url).headers["Content-Security-Policy"]
    directives = dict(directive.strip().partition(" ")[::2] for directive in policy.split(";"))
    assert directives["default-src"] == "'self'"
    for name, sources in directives.items():
        assert set(sources.split()) <= LOCAL_SOURCES, name


def test_swagger_ui_scripts_are_served_as_javascript(client: FlaskClient) -> None:
    scripts = [link for link in links(client.get("/api/v1/docs").get_data(as_text=True)) if link.endswith(".js")]
    assert scripts == ["/api/v1/docs/assets/swagger-ui-bundle.js", "/api/v1/docs/swagger-initializer.js"]
    for script in scripts:
        assert client.get(script).mimetype in JAVASCRIPT_TYPES, script


def test_swagger_ui_is_version_5(client: FlaskClient) -> None:
    bundle = client.get("/api/v1/docs/assets/swagger-ui-bundle.js").get_data(as_text=True)
    match = re.search(r'PACKAGE_VERSION:"(\d+)\.\d+\.\d+"', bundle)
    assert match is not None
    assert match.group(1) == "5"


def test_swagger_ui_initializer_reads_the_spec_url_from_the_page(client: FlaskClient) -> None:
    initializer = client.get("/api/v1/docs/swagger-initializer.js").get_data(as_text=True)
    assert "root.dataset.specUrl" in initializer
    assert "validatorUrl: null" in initializer  # The default validator badge is an image from swagger.io.


def test_redoc_script_is_served_as_javascript(client: FlaskClient) -> None:
    response = client.get("/api/v1/redoc/assets/redoc.standalone.js")
    assert response.status_code == 200
    assert response.mimetype in JAVASCRIPT_TYPES


def test_redoc_draws_its_logo_from_this_app(client: FlaskClient) -> None:
    script = client.get("/api/v1/redoc/assets/redoc.standalone.js")
    assert "cdn.redoc.ly" not in script.get_data(as_text=True)
    assert '"/api/v1/redoc/assets/logo-mini.svg"' in script.get_data(as_text=True)
    logo = client.get("/api/v1/redoc/assets/logo-mini.svg")
    assert (logo.status_code, logo.mimetype) == (200, "image/svg+xml")
    again = client.get("/api/v1/redoc/assets/redoc.standalone.js", headers={"If-None-Match": script.headers["ETag"]})
    assert again.status_code == 304


def test_assets_stay_inside_their_package(client: FlaskClient) -> None:
    assert client.get("/api/v1/docs/assets/../__init__.py").status_code == 404
    assert client.get("/api/v1/redoc/assets/../__init__.py").status_code == 404


def test_docs_routes_stay_out_of_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get(SPEC_URL).json["paths"]
    assert not [path for path in paths if path.startswith(("/api/v1/docs", "/api/v1/redoc"))]


@dataclass(frozen=True)
class Rendering:
    """A page as headless Chromium rendered it, and every load it tried beyond 127.0.0.1."""

    dom: str
    outside: list[str]


def render(url: str, workdir: Path) -> Rendering:
    """``url`` in headless Chromium, which can reach 127.0.0.1 and nothing else.

    Nothing leaves: any other host goes to a proxy that refuses connections. What the page
    tried is read from Chromium's own logs: its network log holds every request the page
    started (Chromium's background requests name no page as their initiator), its console
    every load the page's Content-Security-Policy refused before it started.
    """
    netlog = workdir / "netlog.json"
    with socket.socket() as dead_end:
        # Bound but never listening: every connection to this proxy is refused.
        dead_end.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{dead_end.getsockname()[1]}"
        result = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={workdir / 'profile'}",
                # Any host but 127.0.0.1 goes through the dead proxy, IP literals included:
                # <-loopback> first drops Chromium's own bypass for localhost and 127.0.0.0/8.
                f"--proxy-server={proxy}",
                "--proxy-bypass-list=<-loopback>;127.0.0.1",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                f"--log-net-log={netlog}",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=10000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    outside = [
        requested
        for requested in requests_started_by(origin, netlog)
        if urlsplit(requested).scheme not in ("data", "blob") and urlsplit(requested).hostname != "127.0.0.1"
    ]
    refused = [line for line in result.stderr.splitlines() if "CONSOLE" in line and "Content Security Policy" in line]
    return Rendering(result.stdout, outside + refused)


def requests_started_by(origin: str, netlog: Path) -> list[str]:
    """The URLs of the requests in a Chromium network log whose initiator is ``origin``."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    started = [event.get("params", {}) for event in log["events"] if event["type"] == start]
    assert started, "the network log shows no request at all"
    return [params["url"] for params in started if params.get("initiator") == origin]


@pytest.fixture
def chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        unavailable(f"Chromium is not installed: no `{CHROMIUM}` on PATH (Debian: apt-get install chromium)")


@pytest.mark.browser
def test_swagger_ui_renders_the_operations_offline(
    chromium, live_url: str, client: FlaskClient, tmp_path: Path
) -> None:
    spec = client.get(SPEC_URL).json
    rendering = render(f"{live_url}/api/v1/docs", tmp_path)
    rendered = RenderedOperations()
    rendered.feed(rendering.dom)

    assert rendering.outside == []
    assert spec_operations(spec)
    assert spec_operations(spec) <= rendered.operations
    for path in spec["paths"]:
        assert path in rendered.text, path
    assert ("get", "/api/v1/monitors") in rendered.operations
    assert "/api/v1/monitors" in rendered.text


@pytest.mark.browser
def test_redoc_renders_every_path_offline(chromium, live_url: str, client: FlaskClient, tmp_path: Path) -> None:
    spec = client.get(SPEC_URL).json
    rendering = render(f"{live_url}/api/v1/redoc", tmp_path)
    text = RenderedOperations()
    text.feed(rendering.dom)

    assert rendering.outside == []
    assert "/api/v1/monitors" in spec["paths"]
    for path in spec["paths"]:
        assert path in text.text, path
    assert "API docs by Redocly" in text.text, "the footer, whose logo this app serves, is rendered"
