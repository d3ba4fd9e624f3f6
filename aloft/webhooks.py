"""POSTing JSON to a webhook, for channel types: one fresh connection, under the target policy.

The whole attempt, from resolving the name to the last byte of the answer, takes at most
its ``timeout``. The URL of a webhook comes from a user, so the connection obeys ``ALOFT_TARGET_POLICY``
exactly as checks do (:func:`aloft.targets.connect`: every resolved address vetted, no
redirect followed). What goes wrong becomes a :class:`~aloft.channels.DeliveryError`
that says whether a retry can help: a refused target, a malformed URL or a certificate
that does not verify will not change by themselves; a timeout, a reset or a busy service
may.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aloft import __version__, targets
from aloft.channels import DeliveryError
from aloft.checks import Deadline

USER_AGENT = f"Aloft/{__version__} (notification)"
#: Of an answer's body, this much is read (enough for any error message).
MAX_BODY_BYTES = 64 * 1024
#: Statuses worth retrying besides 5xx.
RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    #: Header names in lower case.
    headers: dict[str, str]
    body: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def retry_after(self) -> float | None:
        """Seconds the ``Retry-After`` header asks for (a number or an HTTP date); None without one."""
        value = self.headers.get("retry-after", "").strip()
        if not value:
            return None
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def post_json(url: str, payload: Any, *, timeout: float, headers: dict[str, str] | None = None) -> WebhookResponse:
    """POST ``payload`` as JSON to ``url``; raises DeliveryError when no answer comes back."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DeliveryError(f"Invalid webhook URL: {url}", permanent=True) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"Invalid webhook URL: {url}", permanent=True)
    host = parts.hostname
    body = json.dumps(payload, separators=(",", ":")).encode()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # One deadline for the whole attempt: a peer that trickles its answer cannot stretch it.
    deadline = Deadline.after(timeout)
    connection = http.client.HTTPConnection(host, port)
    sock: socket.socket | None = None
    try:
        sock = targets.connect(host, port, deadline)
        if parts.scheme == "https":
            sock.settimeout(deadline.remaining())
            sock = targets.tls_context().wrap_socket(sock, server_hostname=host)
        connection.sock = targets.Paced(sock, deadline)
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})},
        )
        response = connection.getresponse()
        text = response.read(MAX_BODY_BYTES).decode("utf-8", errors="replace")
        return WebhookResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, text)
    except targets.TargetRefused as refused:
        raise DeliveryError(refused.message, permanent=True) from None
    except ssl.SSLCertVerificationError as error:
        raise DeliveryError(targets.connection_failure(error, host, timeout), permanent=True) from None
    except OSError as error:
        raise DeliveryError(targets.connection_failure(error, host, timeout)) from None
    except http.client.HTTPException as error:
        raise DeliveryError(f"Invalid HTTP response from {host}: {type(error).__name__}") from None
    finally:
        connection.close()
        if sock is not None:
            sock.close()


def refusal(response: WebhookResponse, service: str) -> DeliveryError:
    """The error an unsuccessful answer calls for: 408, 425, 429 and 5xx are retried; other answers are not."""
    snippet = " ".join(response.body.split())[:200]
    message = f"{service} answered HTTP {response.status}" + (f": {snippet}" if snippet else "")
    transient = response.status >= 500 or response.status in RETRY_STATUSES
    return DeliveryError(message, permanent=not transient, retry_after=response.retry_after())
