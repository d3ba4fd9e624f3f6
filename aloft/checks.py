"""The contract check plugins implement: check types and what they are handed (channels: :mod:`aloft.channels`).

Plugins see these classes and the plain values passed to them, never database objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any, ClassVar
from urllib.parse import urlsplit

import marshmallow

from aloft import targets
from aloft.deadlines import Deadline


@dataclass(frozen=True)
class CheckTarget:
    """What a check sees of a monitor.

    ``settings`` is the monitor's type-specific settings object as the API stores it:
    camelCase keys, already validated by the check type's ``settings_schema``.

    A passive type decides from the pings the monitor received: ``last_ping_at`` and
    ``last_ping_kind`` (``success`` or ``fail``) describe the newest ping that said how a run
    ended (a ``start`` ping does not), and a monitor never pinged counts its silence from
    ``pings_expected_since``. All three are None for monitors that reach out.

    ``deadline`` is when the check under way must be over; the engine sets it as the check
    starts (see :meth:`Deadline.of` for a target built by hand).
    """

    id: str
    name: str
    type: str
    url: str | None
    timeout_seconds: int
    interval_seconds: int
    settings: dict[str, Any]
    pings_expected_since: datetime | None = None
    last_ping_at: datetime | None = None
    last_ping_kind: str | None = None
    deadline: Deadline | None = field(default=None, compare=False, repr=False)

    def with_deadline(self, deadline: Deadline) -> CheckTarget:
        """This target for one check that must be over by ``deadline``."""
        # Copied field by field rather than with dataclasses.replace, which costs 4 us on every check.
        copy = object.__new__(CheckTarget)
        copy.__dict__.update(self.__dict__, deadline=deadline)
        return copy


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    ``cause`` says why a check failed in words an operator can act on (``HTTP 503``,
    ``Connection refused``); ``details`` holds anything else worth keeping, JSON-serializable.
    """

    ok: bool
    latency_ms: float | None = None
    cause: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class CheckType:
    """A kind of monitor: subclass it, set ``name``, implement :meth:`run`.

    ``settings_schema`` validates the monitor's ``settings`` object; it uses camelCase
    keys (``data_key``) and rejects unknown fields (``class Meta: unknown = RAISE``).
    A ``passive`` type decides from what it has received (e.g. heartbeat pings) instead
    of reaching out.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    settings_schema: ClassVar[type[marshmallow.Schema] | None] = None
    requires_url: ClassVar[bool] = True
    passive: ClassVar[bool] = False

    @classmethod
    def settings_schema_instance(cls) -> marshmallow.Schema | None:
        """The type's settings schema, built once per process (building one per check is costly)."""
        return None if cls.settings_schema is None else _schema(cls.settings_schema)

    @classmethod
    def load_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """A monitor's stored settings, loaded through ``settings_schema`` (defaults filled in).

        Loads are remembered per distinct settings object, so a check costs a dictionary
        lookup rather than a schema load; the dictionary returned is the caller's own, but
        lists and dictionaries inside it are shared: read them, do not change them.
        """
        if cls.settings_schema is None:
            return {}
        return dict(_loaded_settings(cls.settings_schema, json.dumps(settings, sort_keys=True)))

    @classmethod
    def validate_url(cls, url: str) -> str | None:
        """None when ``url`` suits this type, else what is wrong (shown when a monitor is saved)."""
        return None

    @classmethod
    def target_host(cls, url: str) -> str | None:
        """The host a check of ``url`` (already valid) connects to; None when it names none.

        When it is an IP address the target policy refuses, the monitor is refused when it is
        saved (a name is judged when a check resolves it). The default reads
        ``scheme://host[:port]…``, ``host[:port]`` and ``[IPv6]:port``; override it for
        targets written otherwise.
        """
        try:
            return urlsplit(url if "://" in url else f"//{url}").hostname
        except ValueError:
            return None

    @classmethod
    def expected_after(cls, settings: dict[str, Any], interval_seconds: int, moment: datetime) -> datetime:
        """A ``passive`` type: when the next run is due after a run (or a missed one) at ``moment``.

        The default is one ``intervalSeconds`` later; a type with schedules overrides it.
        """
        return moment + timedelta(seconds=interval_seconds)

    @classmethod
    def grace(cls, settings: dict[str, Any]) -> timedelta:
        """A ``passive`` type: how late a run may be, and how long a started run may take."""
        return timedelta(0)

    def run(self, monitor: CheckTarget) -> CheckResult:
        """Check ``monitor`` once; report failures in the result rather than raising."""
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")


def url_problem(check_type: type[CheckType], url: str) -> str | None:
    """What is wrong with ``url`` for monitors of ``check_type``: the type's own rules, then the
    target policy's verdict on an IP address written in it."""
    problem = check_type.validate_url(url)
    if problem is None:
        problem = targets.literal_refusal(check_type.target_host(url))
    return problem


@lru_cache(maxsize=4096)
def _loaded_settings(schema_class: type[marshmallow.Schema], settings_json: str) -> dict[str, Any]:
    return _schema(schema_class).load(json.loads(settings_json))


@cache
def _schema(schema_class: type[marshmallow.Schema]) -> marshmallow.Schema:
    # Loading with a shared instance is safe across threads: load() keeps no state on it.
    return schema_class()
