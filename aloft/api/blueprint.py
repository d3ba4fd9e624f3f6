"""The base every ``/api/v1`` resource builds on: errors are 400s in the guide's format.

``Api`` documents every error response with :class:`ErrorSchema`; ``Blueprint`` parses
arguments with a parser that answers 400 (not flask-smorest's 422), holds bodies and query
strings to :mod:`aloft.api.input_rules`, and carries the scope family its endpoints need
(``monitors`` → ``monitors:read`` for reads, ``monitors:write`` for writes) and, per method, the
action of :mod:`aloft.access` the caller's role must have (``actions``: managing members is an
admin's), both enforced before the view runs and both written into the OpenAPI document.
``scope_family=""`` is an endpoint that needs a caller but no particular scope (the profile).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import flask_smorest
import marshmallow as ma
from apispec import APISpec
from apispec.ext.marshmallow import resolver
from flask import Flask, Request
from webargs.flaskparser import FlaskParser, abort
from werkzeug.routing import BaseConverter

from aloft.api import input_rules
from aloft.api.fields import TypeName, document_computed_defaults, document_text_rules
from aloft.models import ID_PATTERN

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ID_SCHEMA = {"type": "string", "format": "uuid", "pattern": ID_PATTERN}
MISSING_BODY = "Missing request body: send a JSON object."
BEARER_SCHEME = "bearerAuth"
SESSION_SCHEME = "browserSession"
CSRF_SCHEME = "csrfToken"
SPEC_OPTIONS = {
    "components": {
        "securitySchemes": {
            BEARER_SCHEME: {"type": "http", "scheme": "bearer", "description": "An API key: `ur_` + 24 characters."},
            SESSION_SCHEME: {
                "type": "apiKey",
                "in": "cookie",
                "name": "aloft_session",
                "description": "A signed-in browser's session (set by `/signin`); counts only with `csrfToken`.",
            },
            CSRF_SCHEME: {
                "type": "apiKey",
                "in": "header",
                "name": "X-CSRFToken",
                "description": "The session's CSRF token, from the `csrf-token` meta tag of any page.",
            },
        }
    },
}
#: Either an API key, or a browser session together with its CSRF token.
SECURITY = [{BEARER_SCHEME: []}, {SESSION_SCHEME: [], CSRF_SCHEME: []}]


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
        if not req.get_data(cache=True):  # every JSON body is documented as required, a PATCH's too
            abort(400, messages={"json": [MISSING_BODY]})
        if not req.is_json:
            abort(400, messages={"json": ["Request body must be JSON (Content-Type: application/json)."]})
        return super().load_json(req, schema)

    def _raw_load_json(self, req: Request) -> Any:
        try:
            return input_rules.load_json(req.get_data(cache=True))
        except input_rules.BodyRefused as refused:
            abort(400, messages={"json": [refused.message]})

    def load_querystring(self, req: Request, schema: ma.Schema) -> Any:
        if problems := input_rules.query_issues(req.args.items(multi=True)):
            raise ma.ValidationError(problems)
        return super().load_querystring(req, schema)


class IdConverter(BaseConverter):
    """``<id:monitor_id>``: a path segment that names an object. It matches any segment, so
    that the view answers "Monitor not found" (after authentication) for one that is no id;
    the OpenAPI document says what an id is."""


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_converter(IdConverter, lambda converter: ID_SCHEMA)

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        """Document, for this app, what its schemas take: the types it offers and text without NUL."""
        app.url_map.converters["id"] = IdConverter
        super().init_app(app, spec_kwargs=spec_kwargs)

        def offered_types(converter: Any, field: ma.fields.Field, **kwargs: Any) -> dict[str, Any]:
            return {"enum": sorted(field.offered(app))} if isinstance(field, TypeName) else {}

        # Each app's spec has a converter of its own; these run after apispec's own functions.
        self.ma_plugin.converter.add_attribute_function(offered_types)
        self.ma_plugin.converter.add_attribute_function(document_text_rules)
        self.ma_plugin.converter.add_attribute_function(document_computed_defaults)

    def register_blueprint(self, blp: flask_smorest.Blueprint, **options: Any) -> None:
        super().register_blueprint(blp, **options)
        for document in getattr(blp, "documenters", ()):
            document(self.spec, self._app)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def __init__(
        self,
        *args: Any,
        scope_family: str | None = None,
        any_key: bool = False,
        actions: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        #: None for endpoints that need no scope; "" for endpoints any caller may use.
        self.scope_family = scope_family
        #: Whether a request needs an API key (or a signed-in browser): one with the scope, or, with
        #: ``any_key`` (or a scope family of ""), any valid one.
        self.needs_key = scope_family is not None or any_key
        #: HTTP method -> the role action (aloft.access) a caller needs, whatever its scopes.
        self.actions = dict(actions or {})
        #: Called with the app's spec once the blueprint is in it, to document what depends on the app.
        self.documenters: list[Callable[[APISpec, Flask], None]] = []
        self._prepare_doc_cbks.append(self._document_authentication)

    def required_scope(self, method: str) -> str | None:
        if not self.scope_family:
            return None
        return f"{self.scope_family}:{'read' if method in READ_METHODS else 'write'}"

    def required_action(self, method: str) -> str | None:
        return self.actions.get("GET" if method == "HEAD" else method)

    def _document_authentication(self, doc: dict[str, Any], doc_info: Any, *, method: str, **kwargs: Any) -> dict:
        """Every operation says what it needs and how it refuses, from the same scope rule that enforces it."""
        if not self.needs_key:
            doc["security"] = []
            return doc
        scope = self.required_scope(method.upper())
        doc["security"] = SECURITY
        responses = doc.setdefault("responses", {})
        responses.setdefault(401, "UNAUTHORIZED")
        if self.scope_family is not None:  # any_key endpoints refuse only a missing or invalid key
            responses.setdefault(403, "FORBIDDEN")
        responses.setdefault(429, "TOO_MANY_REQUESTS")
        docstring = doc_info.setdefault("docstring", {})
        if scope:
            needs = f"Needs scope `{scope}`."
        elif self.scope_family is None:
            needs = "Needs any valid API key, whatever its scopes."
        else:
            needs = "Needs an API key (or a signed-in browser), of any scope."
        if (action := self.required_action(method.upper())) is not None:
            needs += f" Only for roles that may {action} (admins)."
        docstring["description"] = "\n\n".join(filter(None, [needs, docstring.get("description")]))
        return doc


def document_per_type(spec: APISpec, schema: type[ma.Schema], rules: Mapping[str, dict[str, Any]]) -> None:
    """Describe ``schema``'s component as one variant per type, keyed by its ``type`` property.

    Each variant (component ``<Name>.<type>``) is the whole object with ``type`` fixed to that
    name (``const``) and the properties ``rules[type]["properties"]`` gives in place of the
    general ones (the type's settings, say), also requiring ``rules[type]["required"]``. The
    component becomes their ``oneOf`` with a discriminator on ``type``: a JSON Schema validator
    finds the one variant an object matches, Swagger UI shows one tab per type, and
    openapi-python-client makes each variant a model of its own, told apart by its constant
    ``type``, so a generated client has typed settings for every type this server offers.
    """
    if not rules:
        return  # no type is offered: the general object is all there is to say
    name = resolver(schema)
    component = spec.components.schemas[name]
    mapping = {}
    for type_name, rule in sorted(rules.items()):
        variant = copy.deepcopy(component)
        variant["properties"].update(copy.deepcopy(rule.get("properties", {})))
        variant["properties"]["type"] = {
            **{key: value for key, value in component["properties"]["type"].items() if key == "description"},
            "type": "string",
            "const": type_name,
        }
        required = variant.setdefault("required", [])
        required.extend(field for field in rule.get("required", []) if field not in required)
        spec.components.schema(f"{name}.{type_name}", variant)
        mapping[type_name] = f"#/components/schemas/{name}.{type_name}"
    description = component.get("description")
    component.clear()
    if description:
        component["description"] = description
    component["oneOf"] = [{"$ref": reference} for reference in mapping.values()]
    component["discriminator"] = {"propertyName": "type", "mapping": mapping}


def type_schema_reference(spec: APISpec, name: str, schema: type[ma.Schema] | None) -> dict[str, Any]:
    """A reference to a type's own schema (its settings, its config), registered as ``name``;
    an empty object for a type that has none."""
    if schema is None:
        return {"type": "object", "maxProperties": 0}
    if name not in spec.components.schemas:
        spec.components.schema(name, schema=schema)
    return {"$ref": f"#/components/schemas/{name}"}


def needs_input(schema: type[ma.Schema] | None) -> bool:
    """Whether a type's own schema has required fields, so that its object must be sent."""
    return schema is not None and any(field.required for field in schema().fields.values())
