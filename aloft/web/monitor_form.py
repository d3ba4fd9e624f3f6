"""Creating and editing a monitor: one form, its type-specific fields built from each check type's settings schema.

The form reads into the API's input (camelCase, as ``POST /api/v1/monitors`` takes it), which
the API's own schema validates; its messages are shown beside the fields they name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from aloft.api.monitors import MonitorInputSchema, apply_input, find_monitor
from aloft.extensions import db
from aloft.models import Channel, Monitor
from aloft.type_catalog import check_type_entry
from aloft.web.access import require_scope, signed_in_page, viewer
from aloft.web.blueprint import bp
from aloft.web.forms import check_csrf
from aloft.web.schema_form import SchemaField, errors_by_field, fields_of, read_fields

NUMBERS = (("intervalSeconds", 300), ("timeoutSeconds", 10), ("confirmationCount", 2))


@dataclass(frozen=True)
class TypeChoice:
    """A check type as the form offers it."""

    name: str
    description: str
    requires_url: bool
    schema: dict[str, Any]

    @property
    def fields(self) -> list[SchemaField]:
        return fields_of(self.schema)


def type_choices() -> list[TypeChoice]:
    plugins = current_app.extensions["aloft.plugins"]
    entries = [check_type_entry(plugins, kind) for _, kind in sorted(plugins.check_types.items())]
    return [TypeChoice(e["name"], e["description"], e["requiresUrl"], e["settingsSchema"]) for e in entries]


def read_form(form: Any, choices: list[TypeChoice]) -> dict[str, Any]:
    """The monitor input the form stands for: only the chosen type's settings are read."""
    kind = form.get("type", "")
    data: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "type": kind,
        "url": form.get("url", "").strip() or None,
    }
    for key, _ in NUMBERS:
        raw = form.get(key, "").strip()
        if raw:
            data[key] = int(raw) if raw.lstrip("-").isdigit() else raw
    chosen = next((choice for choice in choices if choice.name == kind), None)
    data["settings"] = read_fields(chosen.schema, form, f"settings.{kind}.") if chosen else {}
    data["channelIds"] = form.getlist("channelIds")
    return data


def stored_values(monitor: Monitor) -> dict[str, Any]:
    return {
        "name": monitor.name,
        "type": monitor.type,
        "url": monitor.url,
        "intervalSeconds": monitor.interval_seconds,
        "timeoutSeconds": monitor.timeout_seconds,
        "confirmationCount": monitor.confirmation_count,
        "settings": dict(monitor.settings or {}),
        "channelIds": monitor.channel_ids,
    }


def render_form(
    monitor: Monitor | None, values: dict[str, Any], errors: dict[str, list[str]], status: int = 200
) -> Any:
    channels = db.session.scalars(
        select(Channel).where(Channel.org_id == viewer().org_id).order_by(Channel.created_at, Channel.id)
    ).all()
    return (
        render_template(
            "monitor_form.html",
            monitor=monitor,
            values=values,
            errors=errors,
            choices=type_choices(),
            channels=channels,
            numbers=NUMBERS,
        ),
        status,
    )


def save(monitor: Monitor | None) -> Any:
    check_csrf()
    require_scope("monitors:write")
    choices = type_choices()
    data = read_form(request.form, choices)
    if monitor is not None:
        data["paused"] = monitor.paused
    try:
        loaded = MonitorInputSchema().load(data)
    except ma.ValidationError as error:
        return render_form(monitor, data, errors_by_field(error.messages, "settings", data["type"]), 400)
    target = monitor or Monitor(org_id=viewer().org_id)
    apply_input(target, loaded)
    if monitor is None:
        db.session.add(target)
    db.session.commit()
    flash(f"{'Saved' if monitor else 'Created'} {target.name}.", "info")
    return redirect(url_for("web.monitor", monitor_id=target.id))


@bp.route("/monitors/new", methods=["GET", "POST"])
@signed_in_page
def new_monitor() -> Any:
    if request.method == "POST":
        return save(None)
    require_scope("monitors:write")
    kind = request.args.get("type", "http")
    return render_form(None, {"type": kind, "settings": {}, "channelIds": []}, {})


@bp.route("/monitors/<monitor_id>/edit", methods=["GET", "POST"])
@signed_in_page
def edit_monitor(monitor_id: str) -> Any:
    monitor = find_monitor(monitor_id)
    if request.method == "POST":
        return save(monitor)
    require_scope("monitors:write")
    return render_form(monitor, stored_values(monitor), {})
