"""The base every ``/api/v1`` resource builds on: errors are 400s in the guide's format.

``Api`` documents every error response with :class:`ErrorSchema`; ``Blueprint`` parses
arguments with a parser that answers 400 (not flask-smorest's 422) and carries the scope
family its endpoints need (``monitors`` → ``monitors:read`` for reads, ``monitors:write``
for writes).
"""

from __future__ import annotations

from typing import Any, ClassVar

import flask_smorest
import marshmallow as ma
from flask import Request
from webargs.flaskparser import FlaskParser, abort

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BEARER_SCHEME = "bearerAuth"
SPEC_OPTIONS = {
    "components": {
        "securitySchemes": {
            BEARER_SCHEME: {"type": "http", "scheme": "bearer", "description": "An API key: `ur_` + 24 characters."}
        }
    },
}


class IssueSchema(ma.Schema):
    path = ma.fields.List(ma.fields.Raw(), required=True, metadata={"description": "Where the problem is."})
    message = ma.fields.String(required=True)


class ErrorSchema(ma.Schema):
    error = ma.fields.String(required=True, metadata={"description": "A sentence a person can act on."})
    issues = ma.fields.List(ma.fields.Nested(IssueSchema), metadata={"description": "Present on validation errors."})


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400
    # Query strings too are held to their schema's ``unknown`` (RAISE): a misspelt parameter
    # (``?limt=10``) is a 400 naming it, not silently ignored.
    DEFAULT_UNKNOWN_BY_LOCATION: ClassVar[dict[str, str | None]] = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def load_json(self, req: Request, schema: ma.Schema) -> Any:
        if not req.is_json and req.content_length:
            abort(400, messages={"json": ["Request body must be JSON (Content-Type: application/json)."]})
        return super().load_json(req, schema)


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def __init__(self, *args: Any, scope_family: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: None for endpoints that need no API key.
        self.scope_family = scope_family
        self._prepare_doc_cbks.append(self._document_authentication)

    def required_scope(self, method: str) -> str | None:
        if self.scope_family is None:
            return None
        return f"{self.scope_family}:{'read' if method in READ_METHODS else 'write'}"

    def _document_authentication(self, doc: dict[str, Any], doc_info: Any, *, method: str, **kwargs: Any) -> dict:
        """Every operation says what it needs and how it refuses, from the same scope rule that enforces it."""
        scope = self.required_scope(method.upper())
        if scope is None:
            doc["security"] = []
            return doc
        doc["security"] = [{BEARER_SCHEME: []}]
        responses = doc.setdefault("responses", {})
        responses.setdefault(401, "UNAUTHORIZED")
        responses.setdefault(403, "FORBIDDEN")
        responses.setdefault(429, "TOO_MANY_REQUESTS")
        docstring = doc_info.setdefault("docstring", {})
        docstring["description"] = "\n\n".join(filter(None, [f"Needs scope `{scope}`.", docstring.get("description")]))
        return doc
