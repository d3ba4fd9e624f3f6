"""Finding plugins and collecting the check and channel types they provide.

A plugin is a module (or object) implementing hooks from :mod:`aloft.hookspecs`. Installed
distributions announce theirs in the ``aloft`` entry-point group; tests and built-ins pass
theirs to :func:`load_plugins` directly. Two plugins providing a type of the same name is a
startup error naming both distributions.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from aloft import hookspecs
from aloft.channels import ChannelType
from aloft.checks import CheckType
from aloft.config import ConfigError

ENTRY_POINT_GROUP = "aloft"
NO_CHECK_TYPES = "No check types installed: no monitor can be checked until one is (for HTTP: pip install aloft-http)."

log = logging.getLogger(__name__)


class PluginError(ConfigError):
    """The installed plugins cannot be used together; the message names them and their distributions."""


@dataclass(frozen=True)
class Distribution:
    """Where a plugin comes from: an installed distribution, or for a plugin registered
    directly, its own name and ``__version__`` if it has one."""

    name: str
    version: str | None

    def __str__(self) -> str:
        return f"{self.name} {self.version}" if self.version else self.name


class Plugins:
    """The loaded plugins: their hooks, and the check and channel types they provide, by name."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self.hook = manager.hook
        self._distinfo = manager.list_plugin_distinfo()
        self.check_types: dict[str, type[CheckType]]
        self.channel_types: dict[str, type[ChannelType]]
        self.check_types, self._check_type_plugins, self._check_type_providers = self._collect(
            "register_check_types", CheckType, "Check type"
        )
        self.channel_types, self._channel_type_plugins, self._channel_type_providers = self._collect(
            "register_channel_types", ChannelType, "Channel type"
        )

    def distribution(self, plugin: object) -> Distribution:
        """The distribution that installed ``plugin``."""
        for known, dist in self._distinfo:
            if known is plugin:
                return Distribution(dist.project_name, dist.version)
        return Distribution(self.manager.get_name(plugin) or repr(plugin), getattr(plugin, "__version__", None))

    def check_type_distribution(self, name: str) -> Distribution:
        """The distribution that provides the check type ``name``."""
        return self.distribution(self._check_type_providers[name])

    def channel_type_distribution(self, name: str) -> Distribution:
        """The distribution that provides the channel type ``name``."""
        return self.distribution(self._channel_type_providers[name])

    def describe(self) -> list[dict[str, Any]]:
        """Each plugin with its distribution, version, hooks, and the types it provides."""
        described = []
        for plugin in self.manager.get_plugins():
            name = self.manager.get_name(plugin)
            distribution = self.distribution(plugin)
            described.append(
                {
                    "name": name,
                    "distribution": distribution.name,
                    "version": distribution.version,
                    "hooks": sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or []),
                    "check_types": sorted(t for t, owner in self._check_type_plugins.items() if owner == name),
                    "channel_types": sorted(t for t, owner in self._channel_type_plugins.items() if owner == name),
                }
            )
        return sorted(described, key=lambda entry: entry["name"])

    def _collect(
        self, hook_name: str, base: type, kind: str
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, object]]:
        # Each implementation is called on its own so a type can be traced to its plugin.
        types: dict[str, Any] = {}
        owners: dict[str, str] = {}
        providers: dict[str, object] = {}
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            for contributed in impl.function() or []:
                if not (
                    isinstance(contributed, type) and issubclass(contributed, base) and getattr(contributed, "name", "")
                ):
                    raise PluginError(
                        f"Plugin {impl.plugin_name} ({self.distribution(impl.plugin)}): {hook_name} returned "
                        f"{contributed!r}, which is not a {base.__name__} subclass with a name"
                    )
                name = contributed.name
                if name in types and providers[name] is impl.plugin:
                    raise PluginError(f"{kind} {name!r} is provided twice by {self.distribution(impl.plugin)}")
                if name in types:
                    first = providers[name]
                    raise PluginError(
                        f"{kind} {name!r} is provided by both {self.distribution(first)} and "
                        f"{self.distribution(impl.plugin)}; uninstall one, or name its plugin in "
                        f"ALOFT_PLUGINS_DISABLED ({self.manager.get_name(first)} or {impl.plugin_name})"
                    )
                types[name] = contributed
                owners[name] = impl.plugin_name
                providers[name] = impl.plugin
        return types, owners, providers


def load_plugins(disabled: frozenset[str] = frozenset(), extra: Iterable[object] = ()) -> Plugins:
    """Load the installed plugins and those in ``extra``, except the ``disabled`` ones.

    A disabled name is a plugin's name (its entry-point name, or for an ``extra`` plugin
    :func:`plugin_name`) or the name of the distribution that installed it. Raises
    :class:`PluginError` when two plugins provide a type of the same name.
    """
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    wanted_off = {_canonical(name) for name in disabled}
    known: set[str] = set()
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        names = {_canonical(entry_point.name)}
        if entry_point.dist is not None:
            names.add(_canonical(entry_point.dist.name))
        known |= names
        if names & wanted_off:
            manager.set_blocked(entry_point.name)
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra:
        name = plugin_name(plugin)
        known.add(_canonical(name))
        if _canonical(name) not in wanted_off:
            manager.register(plugin, name=name)
    if unknown := sorted(name for name in disabled if _canonical(name) not in known):
        log.warning("ALOFT_PLUGINS_DISABLED names no installed plugin: %s", ", ".join(unknown))

    plugins = Plugins(manager)
    if not plugins.check_types:
        log.warning(NO_CHECK_TYPES)
    return plugins


def plugin_name(plugin: object) -> str:
    """The name a directly registered plugin goes by: a module's name, or its class's dotted path."""
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str):
        return name
    return f"{type(plugin).__module__}.{type(plugin).__qualname__}"


def _canonical(name: str) -> str:
    # Distribution names compare case-insensitively, with runs of - _ . alike (PEP 503).
    return re.sub(r"[-_.]+", "-", name).lower()
