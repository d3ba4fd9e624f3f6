"""Ping tokens out of access logs: the web server logs every request's path, and here the path holds a secret.

A path is routed after its percent-escapes are decoded, so ``/hear%74beat/<token>`` and
``/heartbeat%2F<token>`` are pings as much as ``/heartbeat/<token>``, and servers log the
path as it was sent (gunicorn) or half decoded (werkzeug keeps ``%2F``). So a logged line is
decoded, again while escapes remain (a proxy may have added a layer), before looking for a
ping path, ignoring case; the token is then cut out of the line as it was logged, whatever
its spelling: ``/hear%74beat/[redacted]``.
"""

from __future__ import annotations

import logging
import re

from aloft.pings import PING_PATH

#: The loggers that print request lines: Flask's development server and gunicorn's access and error logs.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")
PING_PREFIX = f"{PING_PATH.lower()}/"
REDACTED = "[redacted]"
ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
#: End a token wherever they stand, escaped or not: nothing routes them into a token.
TOKEN_ENDS = frozenset("/\"'") | frozenset(" \t\r\n\f\v")
#: End a token only as written (a query or a fragment starts); escaped, they are part of the path.
LITERAL_TOKEN_ENDS = frozenset("?#")


def redact(line: str) -> str:
    """``line`` with the token of every ping path in it, in any spelling, replaced by ``[redacted]``."""
    if "%" not in line and PING_PREFIX not in line.lower():
        return line
    decoded, origin = _fully_decoded(line)
    lowered = decoded.lower()
    pieces: list[str] = []
    kept_until = 0
    start = lowered.find(PING_PREFIX)
    while start != -1:
        token_start = end = start + len(PING_PREFIX)
        while end < len(decoded) and not _ends_token(decoded[end], line[origin[end]]):
            end += 1
        if end > token_start:
            raw_start = origin[token_start]
            raw_end = origin[end] if end < len(decoded) else len(line)
            pieces += [line[kept_until:raw_start], REDACTED]
            kept_until = raw_end
        start = lowered.find(PING_PREFIX, end)
    return "".join([*pieces, line[kept_until:]])


def _ends_token(decoded: str, written: str) -> bool:
    """Whether a character of the decoded line ends a token; ``written`` is how its spelling begins."""
    return decoded in TOKEN_ENDS or (decoded in LITERAL_TOKEN_ENDS and written == decoded)


def _fully_decoded(line: str) -> tuple[str, list[int]]:
    """``line`` with percent-escapes decoded until none is left, and where each decoded character's
    spelling starts in ``line``. Each pass shortens the text, so this ends."""
    text, origin = line, list(range(len(line)))
    while ESCAPE.search(text):
        characters: list[str] = []
        starts: list[int] = []
        position = 0
        for escape in ESCAPE.finditer(text):
            characters += text[position : escape.start()]
            starts += origin[position : escape.start()]
            characters.append(chr(int(escape.group(1), 16)))
            starts.append(origin[escape.start()])
            position = escape.end()
        characters += text[position:]
        starts += origin[position:]
        text, origin = "".join(characters), starts
    return text, origin


class RedactPingTokens(logging.Filter):
    """Rewrites a record whose message holds a ping URL so that it holds ``/heartbeat/[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a malformed record: the handler reports it, as without this filter
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


REDACT_PING_TOKENS = RedactPingTokens()


def redact_access_logs() -> None:
    """Filter the access loggers; gunicorn loads the app in each worker after configuring them."""
    for name in ACCESS_LOGGERS:
        logging.getLogger(name).addFilter(REDACT_PING_TOKENS)
