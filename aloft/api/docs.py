"""Interactive API docs: Swagger UI at ``/api/v1/docs`` and ReDoc at ``/api/v1/redoc``.

Both render ``/api/v1/openapi.json`` with JavaScript and CSS served from installed Python
packages (``flask-swagger-ui`` ships Swagger UI 5, ``openapi-ui-bundles`` ships ReDoc, served
with its logo from the package rather than Redocly's CDN), so the pages work on a machine with
no internet: they reference no other origin, and their Content-Security-Policy lets them load
nothing from one.

This is a plain Flask blueprint, not a flask-smorest one, so its routes stay out of the OpenAPI
document; its name, ``docs``, is one the authentication layer serves without an API key.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, render_template_string, request, send_from_directory, url_for
from openapi_ui_bundles import redoc

SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).with_name("dist")
REDOC_DIR = redoc.static_path

#: Same origin only; Swagger UI's icons are data: images.
SWAGGER_UI_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)
#: ReDoc also sets inline styles and builds its search worker from a blob: URL.
REDOC_POLICY = f"{SWAGGER_UI_POLICY}; style-src 'self' 'unsafe-inline'; worker-src blob:"
#: redoc.standalone.js draws its footer's logo from Redocly's CDN; the package ships the same
#: image, and the bundle is served pointing at that copy.
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_LOGO = "logo-mini.svg"

SWAGGER_UI_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Aloft API · Swagger UI</title>
  <link rel="stylesheet" href="{{ url_for('docs.swagger_ui_asset', filename='swagger-ui.css') }}">
  <link rel="icon" type="image/png" href="{{ url_for('docs.swagger_ui_asset', filename='favicon-32x32.png') }}">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{{ url_for('api-docs.openapi_json') }}"></div>
  <script src="{{ url_for('docs.swagger_ui_asset', filename='swagger-ui-bundle.js') }}"></script>
  <script src="{{ url_for('docs.swagger_ui_initializer') }}"></script>
</body>
</html>
"""

#: Served as a file rather than inlined, so the page's policy needs no 'unsafe-inline' script.
SWAGGER_UI_INITIALIZER = """\
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
"""

#: redoc.standalone.js renders the <redoc> element it finds when it loads.
REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Aloft API · ReDoc</title>
</head>
<body>
  <redoc spec-url="{{ url_for('api-docs.openapi_json') }}"></redoc>
  <script src="{{ url_for('docs.redoc_asset', filename='redoc.standalone.js') }}"></script>
</body>
</html>
"""

bp = Blueprint("docs", __name__, url_prefix="/api/v1")


def page(template: str, policy: str) -> Response:
    response = Response(render_template_string(template), mimetype="text/html")
    response.headers["Content-Security-Policy"] = policy
    return response


@bp.get("/docs")
def swagger_ui() -> Response:
    return page(SWAGGER_UI_PAGE, SWAGGER_UI_POLICY)


@bp.get("/docs/swagger-initializer.js")
def swagger_ui_initializer() -> Response:
    return Response(SWAGGER_UI_INITIALIZER, mimetype="text/javascript")


@bp.get("/docs/assets/<path:filename>")
def swagger_ui_asset(filename: str) -> Response:
    return send_from_directory(SWAGGER_UI_DIR, filename)


@bp.get("/redoc")
def redoc_page() -> Response:
    return page(REDOC_PAGE, REDOC_POLICY)


@bp.get("/redoc/assets/redoc.standalone.js")
def redoc_script() -> Response:
    script, etag = redoc_bundle(url_for("docs.redoc_asset", filename=REDOC_LOGO))
    response = Response(script, mimetype="text/javascript")
    response.set_etag(etag)
    return response.make_conditional(request)


@cache
def redoc_bundle(logo_url: str) -> tuple[bytes, str]:
    """redoc.standalone.js with its logo at ``logo_url``, and an ETag for it."""
    script = (Path(REDOC_DIR) / "redoc.standalone.js").read_text(encoding="utf-8").replace(REDOC_CDN_LOGO, logo_url)
    data = script.encode()
    return data, hashlib.sha256(data).hexdigest()[:32]


@bp.get("/redoc/assets/<path:filename>")
def redoc_asset(filename: str) -> Response:
    return send_from_directory(REDOC_DIR, filename)
