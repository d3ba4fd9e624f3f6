"""``/api/v1/organization``: the caller's organization: its name and the defaults new monitors get.

Anyone in it may read it (`team:read`); changing it is an admin's (`team:write`).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from aloft.access import MANAGE_ORGANIZATION
from aloft.api.auth import current_org_id
from aloft.api.blueprint import Blueprint
from aloft.api.fields import Name, StrictInteger, Timestamp
from aloft.api.monitors import CONFIRMATION_RANGE, INTERVAL_RANGE, TIMEOUT_RANGE
from aloft.extensions import db
from aloft.models import Organization
from aloft.people import audit

blp = Blueprint(
    "organization",
    __name__,
    url_prefix="/api/v1/organization",
    scope_family="team",
    actions={"PATCH": MANAGE_ORGANIZATION},
    description="The caller's organization. Needs `team:read` / `team:write`; changes are an admin's.",
)


class MonitorDefaultsSchema(ma.Schema):
    """What a new monitor gets for each of these fields its creator leaves out."""

    class Meta:
        unknown = ma.RAISE

    # Named as the monitor's input names them: the defaults are stored as sent and merged under a monitor's input.
    intervalSeconds = StrictInteger(validate=ma.validate.Range(*INTERVAL_RANGE))
    confirmationCount = StrictInteger(validate=ma.validate.Range(*CONFIRMATION_RANGE))
    timeoutSeconds = StrictInteger(validate=ma.validate.Range(*TIMEOUT_RANGE))

    @ma.validates_schema(skip_on_field_errors=True)
    def timeout_within_interval(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("timeoutSeconds", 0) > data.get("intervalSeconds", INTERVAL_RANGE[1]):
            raise ma.ValidationError("Must not be greater than intervalSeconds.", "timeoutSeconds")


class OrganizationSchema(ma.Schema):
    id = ma.fields.String(required=True)
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    monitor_defaults = ma.fields.Nested(MonitorDefaultsSchema, data_key="monitorDefaults", required=True)
    created_at = Timestamp(data_key="createdAt", required=True)

    @ma.pre_dump
    def defaults_as_object(self, organization: Organization, **kwargs: Any) -> dict[str, Any]:
        return {
            "id": organization.id,
            "slug": organization.slug,
            "name": organization.name,
            "monitor_defaults": organization.monitor_defaults or {},
            "created_at": organization.created_at,
        }


class OrganizationEnvelope(ma.Schema):
    organization = ma.fields.Nested(OrganizationSchema, required=True)


class OrganizationPatchSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    name = Name()
    monitor_defaults = ma.fields.Nested(
        MonitorDefaultsSchema,
        data_key="monitorDefaults",
        metadata={"description": "Replaces the defaults; `{}` clears them."},
    )


@blp.route("")
class OrganizationView(MethodView):
    @blp.response(200, OrganizationEnvelope)
    def get(self) -> dict[str, Any]:
        """The caller's organization."""
        return {"organization": db.session.get(Organization, current_org_id())}

    @blp.arguments(OrganizationPatchSchema)
    @blp.response(200, OrganizationEnvelope)
    def patch(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Rename the organization or set the defaults new monitors get."""
        organization = db.session.get(Organization, current_org_id())
        changed = {}
        if "name" in changes and changes["name"] != organization.name:
            changed["name"] = {"from": organization.name, "to": changes["name"]}
            organization.name = changes["name"]
        if "monitor_defaults" in changes and changes["monitor_defaults"] != (organization.monitor_defaults or {}):
            changed["monitorDefaults"] = {
                "from": organization.monitor_defaults or {},
                "to": changes["monitor_defaults"],
            }
            organization.monitor_defaults = changes["monitor_defaults"] or None
        if changed:
            audit.record("organization.changed", organization.id, changed)
        db.session.commit()
        return {"organization": organization}
