"""Aloft's data model: one module per aggregate, all importable from here."""

from aloft.models.api_key import ApiKey
from aloft.models.audit_event import AuditEvent
from aloft.models.base import ID_PATTERN, is_id, new_id, utcnow
from aloft.models.channel import Channel, Delivery
from aloft.models.check_result import CheckResult
from aloft.models.heartbeat import PING_KINDS, Ping
from aloft.models.incident import Incident
from aloft.models.monitor import Monitor, monitor_channels
from aloft.models.one_time_link import OneTimeLink
from aloft.models.organization import ROLES, Membership, Organization, User
from aloft.models.rollup import PERIODS, Rollup
from aloft.models.schedule import SCHEDULE_ID, Schedule
from aloft.models.web_session import WebSession

__all__ = [
    "ID_PATTERN",
    "PERIODS",
    "PING_KINDS",
    "ROLES",
    "SCHEDULE_ID",
    "ApiKey",
    "AuditEvent",
    "Channel",
    "CheckResult",
    "Delivery",
    "Incident",
    "Membership",
    "Monitor",
    "OneTimeLink",
    "Organization",
    "Ping",
    "Rollup",
    "Schedule",
    "User",
    "WebSession",
    "is_id",
    "monitor_channels",
    "new_id",
    "utcnow",
]
