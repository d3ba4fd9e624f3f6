"""Ping tokens out of access logs: the web server logs every request's path, and here the path holds a secret."""

from __future__ import annotations

import logging
import re

from aloft.pings import PING_PATH

#: The loggers that print request lines: Flask's development server and gunicorn's access and error logs.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")
TOKEN_IN_PING_URL = re.compile(rf"({re.escape(PING_PATH)}/)[^/\s?#\"']+")
REDACTED = r"\1[redacted]"


class RedactPingTokens(logging.Filter):
    """Rewrites a record whose message holds a ping URL so that it holds ``/heartbeat/[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a malformed record: the handler reports it, as without this filter
        redacted = TOKEN_IN_PING_URL.sub(REDACTED, message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


REDACT_PING_TOKENS = RedactPingTokens()


def redact_access_logs() -> None:
    """Filter the access loggers; gunicorn loads the app in each worker after configuring them."""
    for name in ACCESS_LOGGERS:
        logging.getLogger(name).addFilter(REDACT_PING_TOKENS)
