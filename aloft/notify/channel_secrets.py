"""Channel secrets at rest: the values of a channel type's ``secret_fields`` are stored encrypted.

A copied database or a backup must not hand out Slack webhooks and PagerDuty routing keys.
Each secret value is sealed with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``)
under a key derived from ``ALOFT_SECRET_KEY`` with HKDF-SHA256, and stored in the channel's
``config`` as ``sealed:v1:<Fernet token>``. The API opens secrets only to mask them, the
sender to send. A value without the prefix (stored before migration 0008) is read as it is.

Changing ``ALOFT_SECRET_KEY`` makes sealed secrets unreadable: the channel's deliveries
fail, flagging the channel, and the API asks for the secret again on the next edit.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEALED = "sealed:v1:"
#: Binds the derived key to this one use of ALOFT_SECRET_KEY (it also keys API-token hashes).
KEY_PURPOSE = b"aloft channel secrets at rest v1"


class UnreadableSecret(Exception):
    """A sealed value that this server's ``ALOFT_SECRET_KEY`` cannot open."""


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SEALED)


def seal(secret_key: str, value: str) -> str:
    """``value`` encrypted for storage (a different text each time)."""
    return SEALED + _fernet(secret_key).encrypt(value.encode()).decode("ascii")


def unseal(secret_key: str, value: str) -> str:
    """A stored value in clear: opened when sealed, as it is otherwise; UnreadableSecret when it cannot be opened."""
    if not is_sealed(value):
        return value
    try:
        return _fernet(secret_key).decrypt(value.removeprefix(SEALED).encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as error:
        raise UnreadableSecret("sealed with another ALOFT_SECRET_KEY") from error


def seal_config(secret_key: str, config: dict[str, Any], secret_fields: Iterable[str]) -> dict[str, Any]:
    """``config`` as it is stored: the text values of ``secret_fields`` sealed (once)."""
    fields = frozenset(secret_fields)
    return {
        name: seal(secret_key, value) if name in fields and isinstance(value, str) and not is_sealed(value) else value
        for name, value in config.items()
    }


def unseal_config(secret_key: str, config: dict[str, Any]) -> dict[str, Any]:
    """A stored ``config`` in clear, for sending; UnreadableSecret names the fields that cannot be opened."""
    opened = readable_config(secret_key, config)
    if unreadable := [name for name in config if name not in opened]:
        raise UnreadableSecret(
            f"Cannot read this channel's {', '.join(unreadable)}: it was saved under another ALOFT_SECRET_KEY; "
            "enter it again"
        )
    return opened


def readable_config(secret_key: str, config: dict[str, Any]) -> dict[str, Any]:
    """A stored ``config`` in clear, without the values that cannot be opened."""
    opened: dict[str, Any] = {}
    for name, value in config.items():
        try:
            opened[name] = unseal(secret_key, value) if isinstance(value, str) else value
        except UnreadableSecret:
            continue
    return opened
