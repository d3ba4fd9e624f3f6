"""How long a check may take: one deadline for the whole check, whatever the peer does.

It lives apart from :mod:`aloft.checks` so that :mod:`aloft.targets`, which connects under a
deadline, and the check types, which it serves, can both import it; plugin authors import
:class:`Deadline` from :mod:`aloft.checks`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aloft.checks import CheckTarget


def timeout_cause(timeout_seconds: float) -> str:
    """The cause of a check that ran out of time: ``Timed out after 3s``."""
    return f"Timed out after {timeout_seconds:g}s"


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a check must be over: its monitor's ``timeoutSeconds`` after it started (``time.monotonic()``).

    Give every blocking step what is left (:meth:`remaining`), not the whole timeout: a socket's
    timeout bounds each ``recv`` alone, so a server sending a header line every second would
    keep a 3-second check waiting for as long as it likes.
    """

    at: float
    timeout_seconds: float

    @classmethod
    def after(cls, timeout_seconds: float) -> Deadline:
        """A deadline ``timeout_seconds`` from now."""
        return cls(time.monotonic() + timeout_seconds, timeout_seconds)

    @classmethod
    def of(cls, monitor: CheckTarget) -> Deadline:
        """The deadline of the check of ``monitor`` under way: the one the engine set when the check
        started, or, for a target built by hand (a test calling ``run`` itself), one starting now."""
        return monitor.deadline if monitor.deadline is not None else cls.after(monitor.timeout_seconds)

    def remaining(self) -> float:
        """Seconds left (more than 0), for a timeout; raises TimeoutError when none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(self.cause)
        return left

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at

    @property
    def cause(self) -> str:
        """The cause a check that ran out of time reports: ``Timed out after 3s``."""
        return timeout_cause(self.timeout_seconds)
