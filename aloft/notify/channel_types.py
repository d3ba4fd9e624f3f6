"""The channel types operators enabled (``ALOFT_CHANNELS``), each with its server settings loaded."""

from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from flask import Flask

from aloft.channels import ChannelType, DeliveryError
from aloft.config import ConfigError, Settings

log = logging.getLogger(__name__)


def enabled_channel_types(installed: dict[str, type[ChannelType]], settings: Settings) -> dict[str, type[ChannelType]]:
    """The installed types ``ALOFT_CHANNELS`` names (all of them when it is unset).

    Raises ConfigError when it names a type that is not installed: a typo must not leave
    people without the alerts they expect.
    """
    if settings.channels is None:
        return dict(sorted(installed.items()))
    unknown = sorted(settings.channels - installed.keys())
    if unknown:
        raise ConfigError(
            f"ALOFT_CHANNELS: no channel type {', '.join(map(repr, unknown))} is installed "
            f"(installed: {', '.join(sorted(installed)) or 'none'})"
        )
    return {name: installed[name] for name in sorted(settings.channels)}


def settings_problem(channel_type: type[ChannelType], settings: Settings) -> str | None:
    """Why channels of this type cannot send from this server (naming the ``ALOFT_*`` variables), or None."""
    try:
        channel_type.load_server_settings(dict(settings.environment))
    except ma.ValidationError as error:
        problems = [_problem(name, messages) for name, messages in sorted(error.normalized_messages().items())]
        return f"This server cannot send {channel_type.name} notifications: {'; '.join(problems)}"
    return None


def warn_about_unusable_types(app: Flask) -> None:
    """Say at startup which enabled channel types cannot send for lack of server settings."""
    settings: Settings = app.extensions["aloft.settings"]
    for channel_type in app.extensions["aloft.channel_types"].values():
        if (problem := settings_problem(channel_type, settings)) is not None:
            log.warning("%s", problem)


def channel_type_instance(app: Flask, name: str) -> ChannelType:
    """A ready instance of the enabled type ``name``; DeliveryError (permanent) when it cannot send."""
    types: dict[str, type[ChannelType]] = app.extensions["aloft.channel_types"]
    settings: Settings = app.extensions["aloft.settings"]
    channel_type = types.get(name)
    if channel_type is None:
        enabled = ", ".join(types) or "none"
        raise DeliveryError(f"Channel type {name!r} is not enabled on this server (enabled: {enabled})", permanent=True)
    if (problem := settings_problem(channel_type, settings)) is not None:
        raise DeliveryError(problem, permanent=True)
    instance = channel_type(channel_type.load_server_settings(dict(settings.environment)))
    instance.timeout = settings.delivery_timeout
    return instance


def _problem(name: str, messages: Any) -> str:
    message = str(messages[0]) if isinstance(messages, list) and messages else str(messages)
    if message == "Missing data for required field.":
        return f"{name} is not set"
    return f"{name}: {message}"
