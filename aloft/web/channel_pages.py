"""Channels: the list, creating and editing one (its fields from the channel type's config schema, secrets
masked), a test message and how it went, and each channel's delivery log."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import delete, select

from aloft.api.channels import (
    ChannelInputSchema,
    apply_input,
    delivery_log,
    find_channel,
    masked_config,
    record_channel,
    send_test,
    usable_channel_types,
)
from aloft.extensions import db
from aloft.models import Channel
from aloft.type_catalog import channel_type_entry
from aloft.web.access import require_scope, signed_in_page, viewer
from aloft.web.blueprint import bp
from aloft.web.forms import check_csrf
from aloft.web.monitor_form import TypeChoice
from aloft.web.schema_form import errors_by_field, read_fields

LOG_PAGE = 50


def channel_choices() -> list[TypeChoice]:
    """The channel types a channel may have on this server, with their config schemas."""
    plugins = current_app.extensions["aloft.plugins"]
    kinds = current_app.extensions["aloft.channel_types"]
    entries = [channel_type_entry(plugins, kinds[name]) for name in sorted(usable_channel_types(current_app))]
    return [TypeChoice(e["name"], e["description"], False, e["configSchema"]) for e in entries]


@bp.get("/channels")
@signed_in_page
def channels() -> str:
    require_scope("alerts:read")
    rows = db.session.scalars(
        select(Channel).where(Channel.org_id == viewer().org_id).order_by(Channel.created_at, Channel.id)
    ).all()
    return render_template("channels.html", channels=rows, may_write=viewer().has_scope("alerts:write"))


@bp.get("/channels/<channel_id>")
@signed_in_page
def channel(channel_id: str) -> str:
    require_scope("alerts:read")
    found = find_channel(channel_id)
    deliveries, _ = delivery_log(found, {"limit": LOG_PAGE})
    return render_template(
        "channel.html",
        channel=found,
        config=masked_config(found.type, found.config or {}),
        deliveries=deliveries,
        may_write=viewer().has_scope("alerts:write"),
    )


def render_form(found: Channel | None, values: dict[str, Any], errors: dict[str, list[str]], status: int = 200) -> Any:
    return render_template(
        "channel_form.html", channel=found, values=values, errors=errors, choices=channel_choices()
    ), status


def save(found: Channel | None) -> Any:
    check_csrf()
    require_scope("alerts:write")
    kind = request.form.get("type", "")
    chosen = next((choice for choice in channel_choices() if choice.name == kind), None)
    data = {
        "name": request.form.get("name", "").strip(),
        "type": kind,
        "config": read_fields(chosen.schema, request.form, f"config.{kind}.") if chosen else {},
    }
    target = found or Channel(org_id=viewer().org_id)
    try:
        apply_input(target, ChannelInputSchema().load(data))
    except ma.ValidationError as error:
        db.session.rollback()
        return render_form(found, data, errors_by_field(error.messages, "config", kind), 400)
    if found is None:
        db.session.add(target)
        db.session.flush()
    record_channel("channel.changed" if found else "channel.created", target)
    db.session.commit()
    flash(f"{'Saved' if found else 'Created'} {target.name}. Send a test message to see that it works.", "info")
    return redirect(url_for("web.channel", channel_id=target.id))


@bp.route("/channels/new", methods=["GET", "POST"])
@signed_in_page
def new_channel() -> Any:
    if request.method == "POST":
        return save(None)
    require_scope("alerts:write")
    return render_form(None, {"type": request.args.get("type", "slack"), "config": {}}, {})


@bp.route("/channels/<channel_id>/edit", methods=["GET", "POST"])
@signed_in_page
def edit_channel(channel_id: str) -> Any:
    found = find_channel(channel_id)
    if request.method == "POST":
        return save(found)
    require_scope("alerts:write")
    values = {"name": found.name, "type": found.type, "config": masked_config(found.type, found.config or {})}
    return render_form(found, values, {})


@bp.post("/channels/<channel_id>/test")
@signed_in_page
def test_channel(channel_id: str) -> Any:
    check_csrf()
    require_scope("alerts:write")
    delivery = send_test(find_channel(channel_id))
    if delivery.status == "sent":
        flash("The test message was sent.", "info")
    else:
        flash(f"The test message failed: {delivery.last_error}", "error")
    return redirect(url_for("web.channel", channel_id=channel_id))


@bp.post("/channels/<channel_id>/delete")
@signed_in_page
def delete_channel(channel_id: str) -> Any:
    check_csrf()
    require_scope("alerts:write")
    found = find_channel(channel_id)
    record_channel("channel.deleted", found)
    db.session.execute(delete(Channel).where(Channel.id == found.id))
    db.session.commit()
    flash(f"Deleted {found.name}; monitors that used it no longer do.", "info")
    return redirect(url_for("web.channels"))
