"""Aloft: self-hosted uptime monitoring.

The plugin surface, what a plugin author may import (docs/plugins.md, "What a plugin may
import"): :data:`hookimpl` here; :mod:`aloft.hookspecs`; :mod:`aloft.checks` (``CheckType``,
``CheckTarget``, ``CheckResult``, ``Deadline``); :mod:`aloft.channels` (``ChannelType``,
``ChannelTarget``, ``Notification``, ``DeliveryError``); :mod:`aloft.targets` (``connect``,
``tls_context``, ``Paced``, ``connection_failure``, ``host_and_port``, ``literal_refusal``
and its errors); :mod:`aloft.webhooks` (``post_json``, ``refusal``, ``WebhookResponse``);
:mod:`aloft.pings` (a passive type's ping route); :mod:`aloft.times` (``isoformat_z``,
``human_duration``); and :mod:`aloft.testing` (its ``__all__``). Everything else is the
core's own plumbing (configuration, the engine, the API, the web UI) and may change.
"""

from aloft.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
