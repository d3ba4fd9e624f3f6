"""The contract channel plugins implement: a channel type, what it is handed, and how it fails.

A :class:`ChannelType` turns a :class:`Notification` (an incident opened, resolved or
acknowledged, or a test message) into a Slack post, an e-mail, a PagerDuty event. It is
handed plain values, never database objects, and it reports failure by raising
:class:`DeliveryError`: ``permanent=True`` when retrying cannot help (a revoked webhook),
otherwise Aloft retries with backoff, waiting at least ``retry_after`` seconds when given.

Text is built from fixed fields only (no template engine): a monitor named
``{{7*7}}<script>`` is sent literally, escaped for each medium by the channel type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, ClassVar, Literal

import marshmallow

from aloft.times import human_duration, isoformat_z

NotificationKind = Literal["opened", "resolved", "acknowledged", "test"]


@dataclass(frozen=True)
class Notification:
    """What a channel tells people: a monitor's incident opened, resolved or was acknowledged, or a test.

    ``at`` is when it happened (the check that confirmed the outage, the check that found
    the monitor up again, the acknowledgement). ``link`` points at the monitor's page in this
    Aloft server (``ALOFT_BASE_URL/monitors/<id>``), for a person to open. For a test, only
    ``kind``, ``at`` and ``channel_name`` and the monitor fields (describing the channel) are
    meaningful: see :meth:`test_message`.
    """

    kind: NotificationKind
    at: datetime
    monitor_id: str
    monitor_name: str
    monitor_type: str
    #: What the monitor watches (its URL or address); None for passive types.
    monitor_target: str | None
    link: str
    incident_id: str | None = None
    cause: str | None = None
    started_at: datetime | None = None
    resolved_at: datetime | None = None
    #: For ``acknowledged``: the name of the API key that acknowledged.
    acknowledged_by: str | None = None
    #: For ``resolved`` by hand: the name of the API key that resolved it (the monitor may still be down).
    resolved_by: str | None = None
    channel_name: str | None = None

    @classmethod
    def test_message(cls, *, channel_name: str, channel_type: str, at: datetime, base_url: str) -> Notification:
        """The test message ``POST /api/v1/channels/{id}/test`` sends: there is no monitor and no
        incident, so the monitor fields describe the channel (``monitor_id`` is ``""``,
        ``monitor_name`` the channel's name, ``monitor_type`` its type, ``monitor_target`` None),
        ``link`` is the server's address, and the incident fields are None."""
        return cls(
            kind="test",
            at=at,
            monitor_id="",
            monitor_name=channel_name,
            monitor_type=channel_type,
            monitor_target=None,
            link=base_url,
            channel_name=channel_name,
        )

    @property
    def downtime(self) -> timedelta | None:
        """How long the monitor was down (resolved) or has been (otherwise); None without an incident."""
        if self.started_at is None:
            return None
        return max((self.resolved_at or self.at) - self.started_at, timedelta(0))

    @property
    def title(self) -> str:
        """One plain line saying what happened, e.g. ``Shop API is down: HTTP 503``."""
        name = self.monitor_name
        if self.kind == "opened":
            return f"{name} is down: {self.cause}"
        if self.kind == "resolved" and self.resolved_by:
            return f"{name}: incident resolved by {self.resolved_by}"
        if self.kind == "resolved":
            return f"{name} is up again after {human_duration(self.downtime or timedelta(0))}"
        if self.kind == "acknowledged":
            who = f" by {self.acknowledged_by}" if self.acknowledged_by else ""
            return f"{name}: incident acknowledged{who}"
        return f"Test notification from Aloft for {self.channel_name or 'this channel'}"

    def lines(self) -> list[tuple[str, str]]:
        """The facts worth showing, as (label, plain text) pairs, in order."""
        facts: list[tuple[str, str]] = []
        if self.kind == "test":
            return [("Sent", _when(self.at)), ("Means", "this channel is set up and Aloft can reach it")]
        facts.append(("Monitor", f"{self.monitor_name} ({self.monitor_type})"))
        if self.monitor_target:
            facts.append(("Target", self.monitor_target))
        if self.cause:
            facts.append(("Cause" if self.kind != "resolved" else "Was", self.cause))
        if self.started_at is not None:
            facts.append(("Down since", _when(self.started_at)))
        if self.kind == "resolved" and self.resolved_by:
            facts.append(("Resolved", f"{_when(self.resolved_at or self.at)} by {self.resolved_by}"))
        elif self.kind == "resolved" and self.resolved_at is not None:
            facts.append(("Up again", _when(self.resolved_at)))
            facts.append(("Down for", human_duration(self.downtime or timedelta(0))))
        if self.kind == "acknowledged":
            facts.append(("Acknowledged", _when(self.at)))
        facts.append(("Details", self.link))
        return facts

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values, for storing with a delivery."""
        return {
            "kind": self.kind,
            "at": isoformat_z(self.at),
            "monitorId": self.monitor_id,
            "monitorName": self.monitor_name,
            "monitorType": self.monitor_type,
            "monitorTarget": self.monitor_target,
            "link": self.link,
            "incidentId": self.incident_id,
            "cause": self.cause,
            "startedAt": isoformat_z(self.started_at),
            "resolvedAt": isoformat_z(self.resolved_at),
            "acknowledgedBy": self.acknowledged_by,
            "resolvedBy": self.resolved_by,
            "channelName": self.channel_name,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        return cls(
            kind=data["kind"],
            at=_parse(data["at"]),
            monitor_id=data["monitorId"],
            monitor_name=data["monitorName"],
            monitor_type=data["monitorType"],
            monitor_target=data.get("monitorTarget"),
            link=data["link"],
            incident_id=data.get("incidentId"),
            cause=data.get("cause"),
            started_at=_parse(data.get("startedAt")),
            resolved_at=_parse(data.get("resolvedAt")),
            acknowledged_by=data.get("acknowledgedBy"),
            resolved_by=data.get("resolvedBy"),
            channel_name=data.get("channelName"),
        )


@dataclass(frozen=True)
class ChannelTarget:
    """What a channel type sees of a channel: its config as validated by the type's ``config_schema``
    (camelCase keys, secrets in clear)."""

    id: str
    name: str
    type: str
    config: dict[str, Any] = field(default_factory=dict)


class DeliveryError(Exception):
    """A notification could not be delivered; ``message`` says why, in words an operator can act on.

    ``permanent`` means retrying cannot help (the webhook answered 404, the recipient does not
    exist); ``retry_after`` (seconds) is the least a retry must wait (a 429's Retry-After).
    """

    def __init__(self, message: str, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


class ChannelType:
    """A kind of notification channel: subclass it, set ``name``, implement :meth:`send`.

    ``config_schema`` validates a channel's ``config`` (camelCase keys, unknown ones
    rejected); the keys in ``secret_fields`` are masked in every API answer.
    ``server_settings_schema`` validates the ``ALOFT_*`` variables the type needs on the
    server (its fields' ``data_key`` is the variable's name, e.g. ``ALOFT_SMTP_HOST``); the
    loaded values are ``self.settings``. A channel of a type whose server settings are
    missing or wrong cannot be created, and the error names the variable.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    config_schema: ClassVar[type[marshmallow.Schema] | None] = None
    secret_fields: ClassVar[tuple[str, ...]] = ()
    server_settings_schema: ClassVar[type[marshmallow.Schema] | None] = None

    #: Seconds one attempt may take; Aloft sets it from ``ALOFT_DELIVERY_TIMEOUT``.
    timeout: float = 10

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = settings or {}

    @classmethod
    def load_server_settings(cls, environ: dict[str, str]) -> dict[str, Any]:
        """The type's server settings from ``ALOFT_*`` variables; raises ValidationError naming them."""
        if cls.server_settings_schema is None:
            return {}
        schema = _schema(cls.server_settings_schema)
        wanted = {field.data_key or name for name, field in schema.fields.items()}
        return schema.load({name: value for name, value in environ.items() if name in wanted})

    @classmethod
    def load_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """A channel's config as the type's ``config_schema`` validates it (defaults filled in), camelCase."""
        if cls.config_schema is None:
            return dict(config)
        schema = _schema(cls.config_schema)
        return schema.dump(schema.load(config))

    def send(self, channel: ChannelTarget, notification: Notification) -> None:
        """Deliver ``notification`` through ``channel``; raise :class:`DeliveryError` on failure."""
        raise NotImplementedError(f"{type(self).__name__} does not implement send()")


@cache
def _schema(schema_class: type[marshmallow.Schema]) -> marshmallow.Schema:
    return schema_class()


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _parse(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
