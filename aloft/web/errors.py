"""Errors on pages are pages: a lookup the API's services refuse (another organization's id) is an HTML 404 here."""

from __future__ import annotations

from flask import render_template
from werkzeug.exceptions import HTTPException

from aloft.api.errors import ApiError
from aloft.web.blueprint import bp

TITLES = {400: "Bad request", 401: "Sign in needed", 403: "Not allowed", 404: "Not found", 409: "Conflict"}


@bp.errorhandler(ApiError)
def service_refused(error: ApiError) -> tuple[str, int]:
    return render_template("error.html", title=TITLES.get(error.status, "Error"), message=error.message), error.status


@bp.errorhandler(HTTPException)
def page_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    message = {403: "Your role in this organization does not allow this."}.get(status, error.description)
    return render_template("error.html", title=TITLES.get(status, error.name), message=message), status
