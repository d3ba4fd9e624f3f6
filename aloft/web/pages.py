"""What a person finds at ``/`` and behind a notification's link, until the web UI serves them.

``/`` is the sign-in page for a visitor who is not signed in, and leads to the API docs for one
who is. A notification links to ``/monitors/<id>`` (the path the web UI
will serve); for now that page says what the link points at and how to read it with the API.
It shows nothing of the monitor: it needs no key, so it may not say whether the id exists.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, render_template_string, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

bp = Blueprint("web", __name__, template_folder="templates")

#: No scripts, styles or frames, nothing from anywhere: the page is its own text.
POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

LINK_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Aloft · {{ kind }} {{ id }}</title>
</head>
<body>
  <h1>Aloft {{ kind }} {{ id }}</h1>
  <p>This link points at a {{ kind }} in Aloft. Aloft has no web pages for it yet; read it with the API,
  using an API key of its organization (<code>aloft keys create NAME</code> makes one):</p>
  <pre>curl -H "Authorization: Bearer $TOKEN" {{ api_url }}</pre>
  <p>The <a href="{{ docs }}">API documentation</a> shows what else you can ask.</p>
</body>
</html>
"""


@bp.get("/")
def home() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return render_template("sign_in.html")
    return redirect(url_for("docs.swagger_ui"))


@bp.get("/monitors/<monitor_id>")
def monitor(monitor_id: str) -> Response:
    return link_page("monitor", monitor_id, f"/api/v1/monitors/{monitor_id}")


@bp.get("/incidents/<incident_id>")
def incident(incident_id: str) -> Response:
    return link_page("incident", incident_id, f"/api/v1/incidents/{incident_id}")


def link_page(kind: str, object_id: str, api_path: str) -> Response:
    base_url = current_app.extensions["aloft.settings"].base_url
    html = render_template_string(
        LINK_PAGE, kind=kind, id=object_id, api_url=base_url + api_path, docs=url_for("docs.swagger_ui")
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = POLICY
    return response
