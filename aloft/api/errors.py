"""Every error under ``/api/v1`` is JSON: ``{"error": "<sentence>"}``.

Validation errors add ``issues``: one ``{"path": [...], "message": "..."}`` per problem.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

log = logging.getLogger(__name__)

MESSAGES = {
    401: "Authentication required",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large (limit 1 MiB)",
    429: "Rate limit exceeded",
}
VALIDATION_FAILED = "Validation failed"
#: webargs reports these under a location key; the path people need starts below it.
LOCATIONS = frozenset({"json", "query", "querystring", "path", "view_args", "headers", "form", "files"})


class ApiError(Exception):
    """An error a view raises to answer ``status`` with ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str, **extra: Any) -> Response:
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


def issues_from_messages(messages: Any, path: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Flatten marshmallow's nested error messages into ``[{"path", "message"}]``."""
    if isinstance(messages, Mapping):
        issues = []
        for key, value in messages.items():
            if (not path and key in LOCATIONS) or key == "_schema":
                issues.extend(issues_from_messages(value, path))
            else:
                issues.extend(issues_from_messages(value, (*path, key)))
        return issues
    if isinstance(messages, list | tuple):
        if all(isinstance(item, str) for item in messages):
            return [{"path": list(path), "message": item} for item in messages]
        return [issue for item in messages for issue in issues_from_messages(item, path)]
    return [{"path": list(path), "message": str(messages)}]


def validation_response(messages: Any) -> Response:
    return error_response(400, VALIDATION_FAILED, issues=issues_from_messages(messages))


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message)

    @app.errorhandler(ValidationError)
    def validation_error(exc: ValidationError) -> Response:
        return validation_response(exc.messages)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        if not request.path.startswith("/api/"):
            return exc
        status = exc.code or 500
        data = getattr(exc, "data", None) or {}
        # webargs' abort() keeps the ValidationError on the exception, its messages in data.
        if status == 400 and isinstance(getattr(exc, "exc", None), ValidationError):
            response = validation_response(data["messages"])
        elif status == 400 and data.get("messages"):
            response = error_response(400, _malformed_body_message(data["messages"]))
        else:
            response = error_response(status, MESSAGES.get(status, exc.description or exc.name))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> Response | InternalServerError:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not request.path.startswith("/api/"):
            return InternalServerError()
        return error_response(500, "Internal server error")


def _malformed_body_message(messages: Mapping[str, Any]) -> str:
    details = [message for values in messages.values() for message in values if isinstance(message, str)]
    text = details[0] if details else "Invalid request body."
    if text == "Invalid JSON body.":
        return "Malformed JSON body: the request body is not valid JSON."
    return text
