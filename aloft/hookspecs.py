"""The hooks a plugin may implement, each documented in docs/plugins.md.

Aloft calls every hook with keyword arguments; an implementation declares only the
arguments it needs.
"""

import pluggy

hookspec = pluggy.HookspecMarker("aloft")
hookimpl = pluggy.HookimplMarker("aloft")


@hookspec
def register_check_types():
    """Return a list of CheckType subclasses this plugin provides."""


@hookspec
def register_channel_types():
    """Return a list of ChannelType subclasses this plugin provides."""


@hookspec
def register_blueprints(app):
    """Add routes to the Flask ``app``, after Aloft's own blueprints are registered."""


@hookspec
def register_commands(cli):
    """Add subcommands to the ``aloft`` command through the click group ``cli``."""


@hookspec
def check_completed(monitor, result):
    """Observe the CheckResult ``result`` of a check of ``monitor`` (a CheckTarget)."""


@hookspec
def incident_opened(incident):
    """Observe an incident that has just been opened (an ``IncidentEvent``)."""


@hookspec
def incident_resolved(incident):
    """Observe an incident that has just been resolved (an ``IncidentEvent``)."""
