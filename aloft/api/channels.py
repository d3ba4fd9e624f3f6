"""``/api/v1/channels``: notification channels, a test message, and each channel's delivery log.

A channel's ``config`` is validated by its type (``slack``: ``webhookUrl``; ``email``: ``to``;
``pagerduty``: ``routingKey``...). Secret fields (a webhook URL, a routing key) are stored
encrypted (:mod:`aloft.notify.channel_secrets`) and masked in every answer; sending a masked
value back (GET → edit → PUT) keeps the stored secret.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma
from apispec import APISpec
from flask import Flask, current_app
from flask.views import MethodView
from sqlalchemy import delete, select

from aloft import targets
from aloft.api.auth import current_org_id
from aloft.api.blueprint import Blueprint, document_per_type, needs_input, type_schema_reference
from aloft.api.fields import Name, OkSchema, Timestamp, TypeName
from aloft.api.paging import PageArgs, fetch_page
from aloft.api.resources import find_in_org, list_envelope
from aloft.channels import ChannelType, Notification
from aloft.extensions import db
from aloft.models import Channel, Delivery, utcnow
from aloft.notify.channel_secrets import readable_config, seal_config
from aloft.notify.channel_types import settings_problem
from aloft.notify.sending import Claim, lease, send_claimed
from aloft.people import audit

blp = Blueprint(
    "channels",
    __name__,
    url_prefix="/api/v1/channels",
    scope_family="alerts",
    description="Notification channels of the caller's organization. Needs `alerts:read` / `alerts:write`.",
)

CHANNEL_NOT_FOUND = "Channel not found"
READ_ONLY_FIELDS = frozenset({"id", "createdAt", "updatedAt", "problem"})
#: Marks a masked secret; a value containing it is never a real secret.
ELLIPSIS = "…"


def channel_types() -> dict[str, type[ChannelType]]:
    return current_app.extensions["aloft.channel_types"]


def usable_channel_types(app: Flask) -> list[str]:
    """The enabled channel types this server has the settings to send with: those a channel may have."""
    settings = app.extensions["aloft.settings"]
    return [
        name for name, kind in app.extensions["aloft.channel_types"].items() if not settings_problem(kind, settings)
    ]


class ChannelInputSchema(ma.Schema):
    """What a client sends to create or replace a channel."""

    class Meta:
        unknown = ma.RAISE

    name = Name(required=True)
    type = TypeName(
        usable_channel_types,
        required=True,
        metadata={"description": "A channel type this server has enabled and can send with, e.g. `slack`."},
    )
    config = ma.fields.Dict(
        keys=ma.fields.String(),
        load_default=dict,
        metadata={"description": "Type-specific settings, validated by the channel type's schema."},
    )

    @ma.pre_load
    def ignore_read_only_fields(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if key not in READ_ONLY_FIELDS}
        return data

    @ma.validates_schema(skip_on_field_errors=True)
    def validate_against_channel_type(self, data: dict[str, Any], partial: Any = None, **kwargs: Any) -> None:
        if partial:
            return
        types = channel_types()
        channel_type = types.get(data["type"])
        if channel_type is None:
            enabled = ", ".join(types) or "none"
            raise ma.ValidationError(
                {"type": [f"Channel type {data['type']!r} is not enabled on this server. Enabled types: {enabled}."]}
            )
        if (problem := settings_problem(channel_type, current_app.extensions["aloft.settings"])) is not None:
            raise ma.ValidationError({"type": [problem]})
        if any(isinstance(value, str) and ELLIPSIS in value for value in data["config"].values()):
            return  # a masked secret sent back: checked once the stored value is put back (apply_input)
        try:
            data["config"] = channel_type.load_config(data["config"])
        except ma.ValidationError as error:
            raise ma.ValidationError({"config": error.normalized_messages()}) from None


def document_channel_types(spec: APISpec, app: Flask) -> None:
    """A channel's config is that of its type."""
    types = app.extensions["aloft.channel_types"]
    rules = {}
    for name in usable_channel_types(app):
        config_schema = types[name].config_schema
        # Without a schema, a type's config is taken as it comes (ChannelType.load_config).
        config = (
            {"type": "object"}
            if config_schema is None
            else type_schema_reference(spec, f"Config.{name}", config_schema)
        )
        rules[name] = {"properties": {"config": config}}
        if needs_input(config_schema):
            rules[name]["required"] = ["config"]
    document_per_type(spec, ChannelInputSchema, rules)


blp.documenters.append(document_channel_types)


class ChannelPatchSchema(ChannelInputSchema):
    """Any subset of the input fields; the merged channel is validated as a whole."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=True, **kwargs)


class ChannelSchema(ma.Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    config = ma.fields.Method("dump_config", required=True, metadata={"type": "object"})
    created_at = Timestamp(data_key="createdAt", required=True)
    updated_at = Timestamp(data_key="updatedAt", required=True)
    problem = ma.fields.String(
        attribute="disabled_reason",
        allow_none=True,
        required=True,
        metadata={
            "description": "Why a delivery failed for good (a revoked webhook...); null while the channel works. "
            "Cleared by a successful delivery or an edit."
        },
    )

    def dump_config(self, channel: Channel) -> dict[str, Any]:
        return masked_config(channel.type, channel.config or {})


class ChannelEnvelope(ma.Schema):
    channel = ma.fields.Nested(ChannelSchema, required=True)


class ChannelListSchema(ma.Schema):
    channels = ma.fields.List(ma.fields.Nested(ChannelSchema), required=True)
    next_cursor = ma.fields.String(
        data_key="nextCursor", allow_none=True, metadata={"description": "Present when `limit` was given."}
    )


class DeliverySchema(ma.Schema):
    id = ma.fields.String(required=True)
    event = ma.fields.String(required=True, metadata={"enum": ["opened", "resolved", "acknowledged", "test"]})
    incident_id = ma.fields.String(data_key="incidentId", allow_none=True, required=True)
    monitor_id = ma.fields.String(data_key="monitorId", allow_none=True, required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["pending", "sent", "failed"]})
    attempts = ma.fields.Integer(required=True)
    last_error = ma.fields.String(data_key="lastError", allow_none=True, required=True)
    created_at = Timestamp(data_key="createdAt", required=True)
    next_attempt_at = ma.fields.Method(
        "dump_next_attempt",
        data_key="nextAttemptAt",
        allow_none=True,
        required=True,
        metadata={"type": "string", "description": "When it is retried (pending only)."},
    )
    sent_at = Timestamp(data_key="sentAt", allow_none=True, required=True)

    def dump_next_attempt(self, delivery: Delivery) -> str | None:
        if delivery.status != "pending" or delivery.next_attempt_at is None:
            return None
        return Timestamp()._serialize(delivery.next_attempt_at, None, None)


class DeliveryListSchema(ma.Schema):
    deliveries = ma.fields.List(ma.fields.Nested(DeliverySchema), required=True)
    next_cursor = ma.fields.String(data_key="nextCursor", allow_none=True)


class DeliveryEnvelope(ma.Schema):
    delivery = ma.fields.Nested(DeliverySchema, required=True)


@blp.route("")
class Channels(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ChannelListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the organization's channels, oldest first; page with `limit` and `cursor`."""
        query = select(Channel).where(Channel.org_id == current_org_id())
        return list_envelope("channels", query, Channel.created_at, Channel.id, args)

    @blp.arguments(ChannelInputSchema)
    @blp.response(201, ChannelEnvelope)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a channel. A type that is not enabled, or cannot send from this server, is refused."""
        channel = Channel(org_id=current_org_id())
        apply_input(channel, data)
        db.session.add(channel)
        db.session.flush()
        record_channel("channel.created", channel)
        db.session.commit()
        return {"channel": channel}


@blp.route("/<id:channel_id>")
class ChannelById(MethodView):
    @blp.response(200, ChannelEnvelope)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, channel_id: str) -> dict[str, Any]:
        """One channel; its secrets masked."""
        return {"channel": find_channel(channel_id)}

    @blp.arguments(ChannelInputSchema)
    @blp.response(200, ChannelEnvelope)
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, data: dict[str, Any], channel_id: str) -> dict[str, Any]:
        """Replace a channel: send the complete input. A masked secret sent back keeps the stored one."""
        channel = find_channel(channel_id)
        apply_input(channel, data)
        record_channel("channel.changed", channel)
        db.session.commit()
        return {"channel": channel}

    @blp.arguments(ChannelPatchSchema)
    @blp.response(200, ChannelEnvelope)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, changes: dict[str, Any], channel_id: str) -> dict[str, Any]:
        """Merge changes onto a channel and re-validate it; `config` merges key by key unless `type` changes."""
        channel = find_channel(channel_id)
        merged: dict[str, Any] = {"name": channel.name, "type": channel.type, "config": stored_config(channel)}
        new_config = changes.pop("config", None)
        if changes.get("type", channel.type) != channel.type:
            merged["config"] = new_config or {}
        elif new_config is not None:
            merged["config"] = {**merged["config"], **new_config}
        merged.update(changes)
        schema = ChannelInputSchema()
        apply_input(channel, schema.load(merged))
        record_channel("channel.changed", channel)
        db.session.commit()
        return {"channel": channel}

    @blp.response(200, OkSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, channel_id: str) -> dict[str, bool]:
        """Delete a channel; monitors that used it no longer do, and its delivery log goes too."""
        channel = find_channel(channel_id)
        record_channel("channel.deleted", channel)
        db.session.execute(delete(Channel).where(Channel.id == channel.id))
        db.session.commit()
        return {"ok": True}


@blp.route("/<id:channel_id>/test")
class ChannelTest(MethodView):
    @blp.response(200, DeliveryEnvelope)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, channel_id: str) -> dict[str, Any]:
        """Send a test message now and report how it went (`delivery.status` is `sent` or `failed`).

        The attempt is in the channel's delivery log; a failed test is not retried.
        """
        return {"delivery": send_test(find_channel(channel_id))}


@blp.route("/<id:channel_id>/deliveries")
class ChannelDeliveries(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, DeliveryListSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any], channel_id: str) -> dict[str, Any]:
        """The channel's delivery log, newest first: each notification, its attempts and how it went.

        Pages of `limit` (default 100); pass `nextCursor` as `cursor` for the next page.
        """
        deliveries, next_cursor = delivery_log(find_channel(channel_id), args)
        return {"deliveries": deliveries, "next_cursor": next_cursor}


def send_test(channel: Channel) -> Delivery:
    """Send a test message through ``channel`` now, recorded in its delivery log (never retried); how it went."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions["aloft.settings"]
    now = utcnow()
    notification = Notification.test_message(
        channel_name=channel.name, channel_type=channel.type, at=now, base_url=settings.base_url
    )
    claimed_until = now + lease(settings)
    delivery = Delivery(
        channel_id=channel.id,
        event="test",
        status="pending",
        attempts=1,
        next_attempt_at=None,
        claimed_until=claimed_until,
        payload=notification.as_json(),
    )
    db.session.add(delivery)
    db.session.commit()
    send_claimed(app, Claim(delivery.id, 1, claimed_until), retries=False)
    db.session.expire_all()
    return db.session.get(Delivery, delivery.id)


def delivery_log(channel: Channel, args: dict[str, Any]) -> tuple[list[Delivery], str | None]:
    """A page of the channel's deliveries, newest first (``limit``, default 100, and ``cursor``)."""
    query = select(Delivery).where(Delivery.channel_id == channel.id)
    return fetch_page(query, Delivery.created_at, Delivery.id, args, newest_first=True, default_limit=100)


def record_channel(action: str, channel: Channel) -> None:
    """Into the audit trail: the channel's id, name and type; never its settings, which hold secrets."""
    audit.record(action, channel.org_id, {"channelId": channel.id, "name": channel.name, "type": channel.type})


def find_channel(channel_id: str) -> Channel:
    return find_in_org(Channel, channel_id, CHANNEL_NOT_FOUND)


def apply_input(channel: Channel, data: dict[str, Any]) -> None:
    """Write validated input onto ``channel``, putting back secrets the client sent masked."""
    channel_type = channel_types()[data["type"]]
    config = dict(data["config"])
    if any(isinstance(value, str) and ELLIPSIS in value for value in config.values()):
        stored = stored_config(channel) if channel.type == data["type"] else {}
        for field in channel_type.secret_fields:
            if field in config and field in stored and config[field] == mask(stored[field]):
                config[field] = stored[field]
            elif isinstance(config.get(field), str) and ELLIPSIS in config[field]:
                raise ma.ValidationError(
                    {
                        "config": {
                            field: [f"This is a masked value ({ELLIPSIS}) of no stored secret: send the whole value."]
                        }
                    }
                )
        try:
            config = channel_type.load_config(config)
        except ma.ValidationError as error:
            raise ma.ValidationError({"config": error.normalized_messages()}) from None
    refused = {field: [problem] for field, value in config.items() if (problem := refused_url(value)) is not None}
    if refused:
        raise ma.ValidationError({"config": refused})
    channel.name = data["name"]
    channel.type = data["type"]
    channel.config = seal_config(secret_key(), config, channel_type.secret_fields)
    channel.disabled_reason = None  # an edit is a fresh start: the next delivery says whether it works
    # One reading of the clock: a new channel's createdAt and updatedAt are the same instant.
    channel.updated_at = utcnow()
    if channel.created_at is None:
        channel.created_at = channel.updated_at


def refused_url(value: Any) -> str | None:
    """The target policy's refusal of an http(s) URL (a webhook) whose host is an IP address it forbids."""
    if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
        return None
    try:
        host = urlsplit(value).hostname
    except ValueError:
        return None
    return targets.literal_refusal(host)


def secret_key() -> str:
    return current_app.extensions["aloft.settings"].secret_key


def stored_config(channel: Channel) -> dict[str, Any]:
    """The channel's config in clear, without secrets this server cannot read (they must be sent again)."""
    return readable_config(secret_key(), channel.config or {})


def masked_config(type_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """A stored ``config`` with its type's secret fields masked; every string, for a type no longer installed.

    A secret this server cannot read is shown as the bare mark.
    """
    channel_type = current_app.extensions["aloft.plugins"].channel_types.get(type_name)
    secret = channel_type.secret_fields if channel_type is not None else tuple(config)
    readable = readable_config(secret_key(), config)
    return {
        key: mask(readable.get(key, "")) if key in secret and isinstance(value, str) else value
        for key, value in config.items()
    }


def mask(secret: str) -> str:
    """Enough of a secret to recognise it, never enough to use it: ``https://hooks.slack.com/…a1b2``."""
    tail = secret[-4:] if len(secret) >= 16 else ""
    if "://" in secret:
        scheme, _, rest = secret.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}/{ELLIPSIS}{tail}"
    return f"{ELLIPSIS}{tail}"
