"""A secret a page shows exactly once: a new key's token, an invitation's link.

The action that makes it seals it (aloft.notify.channel_secrets: encrypted with a key derived
from the server's secret) into the signed session cookie and redirects; the page it redirects
to takes it out, so a reload shows nothing. Such a page is sent with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, session

from aloft.notify.channel_secrets import seal, unseal


def _secret_key() -> str:
    return current_app.extensions["aloft.settings"].secret_key


def show_once(name: str, secret: str, **facts: Any) -> None:
    """Keep ``secret`` (and plain ``facts`` about it) for the next page that asks for ``name``."""
    session[name] = {"secret": seal(_secret_key(), secret), **facts}


def take(name: str) -> tuple[str | None, dict[str, Any]]:
    """The secret kept under ``name`` and its facts, removed: (None, {}) when there is none."""
    kept = session.pop(name, None)
    if not isinstance(kept, dict) or "secret" not in kept:
        return None, {}
    facts = {key: value for key, value in kept.items() if key != "secret"}
    return unseal(_secret_key(), kept["secret"]), facts
