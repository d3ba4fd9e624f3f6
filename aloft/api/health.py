"""Liveness and readiness probes; no API key needed."""

from __future__ import annotations

import marshmallow as ma
from flask import Response, current_app
from flask.views import MethodView

from aloft.api.blueprint import Blueprint
from aloft.extensions import db
from aloft.preflight import database_error, redis_error

blp = Blueprint("health", __name__, description="Liveness and readiness probes (no authentication).")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(responses={"200": {"description": "The process is up.", "content": {"text/plain": {"example": "OK"}}}})
    def get(self) -> Response:
        """Liveness: answers `OK` while the process serves requests."""
        return Response("OK", mimetype="text/plain")


class ReadySchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ready", "not ready"]})
    error = ma.fields.String(metadata={"description": "What does not answer."})


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, schema=ReadySchema, description="The database or Redis does not answer.")
    def get(self) -> tuple[dict[str, str], int]:
        """Readiness: the database (and Redis, when configured) answer."""
        settings = current_app.extensions["aloft.settings"]
        problem = database_error(db.engine)
        if problem is not None:
            return {"status": "not ready", "error": f"database: {problem}"}, 503
        if settings.redis_url is not None and (problem := redis_error(settings.redis_url)) is not None:
            return {"status": "not ready", "error": f"redis: {problem}"}, 503
        return {"status": "ready"}, 200
