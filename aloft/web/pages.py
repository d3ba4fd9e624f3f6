"""The web UI's pages, gathered on one blueprint: importing this module registers every view."""

from __future__ import annotations

from aloft.web import (  # noqa: F401  (each module adds its views to the blueprint)
    channel_pages,
    dashboard,
    display,
    errors,
    forms,
    incident_pages,
    key_pages,
    member_pages,
    monitor_form,
    monitor_page,
)
from aloft.web.blueprint import bp

__all__ = ["bp"]
