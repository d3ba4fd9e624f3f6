"""The web UI's blueprint: its templates and static files, who is looking, and the headers every page carries."""

from __future__ import annotations

import gzip
from typing import Any

from flask import Blueprint, Response, request

from aloft.pings import PING_PATH
from aloft.web.viewer import current_viewer

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")

#: Scripts, styles and images from Aloft itself only; no inline script, no frames, forms post here.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
COMPRESS_FROM_BYTES = 16 * 1024
#: The top navigation: (endpoint, label). "API" is named so by the guide.
NAVIGATION = (
    ("web.dashboard", "Dashboard"),
    ("web.incidents", "Incidents"),
    ("web.channels", "Channels"),
    ("web.members", "Members"),
    ("web.api_keys", "API"),
)


@bp.after_app_request
def protect(response: Response) -> Response:
    """Every page outside the API and its docs gets the UI's headers (the JSON of the API and of the ping
    URLs needs none of them)."""
    if not request.path.startswith(("/api/v1/", PING_PATH + "/")):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        compress(response)
    return response


def compress(response: Response) -> None:
    """Send a long page gzipped to a browser that takes it: the dashboard of 1,000 monitors is 300 KB, 60 KB so."""
    if (
        response.mimetype != "text/html"
        or response.direct_passthrough
        or "gzip" not in request.headers.get("Accept-Encoding", "")
        or "Content-Encoding" in response.headers
    ):
        return
    data = response.get_data()
    if len(data) < COMPRESS_FROM_BYTES:
        return
    response.set_data(gzip.compress(data, compresslevel=5))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")


@bp.app_context_processor
def layout() -> dict[str, Any]:
    return {"viewer": current_viewer(), "navigation": NAVIGATION}
