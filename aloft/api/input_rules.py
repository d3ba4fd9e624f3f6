"""What every request's input must be before a view sees it, checked once at the edge.

- A body is at most ``MAX_CONTENT_LENGTH`` (1 MiB) however it is sent: with a
  ``Content-Length`` Werkzeug refuses it before reading, and a chunked body is read here, up
  to the limit, and refused when it goes past it (Werkzeug would cut it off silently).
- A JSON body nests at most :data:`MAX_JSON_DEPTH` levels, found before it is parsed: the
  parser, the schemas and the JSON columns all recurse, and no input may reach their limit.
- NaN, Infinity, numbers beyond a double's range and integers with more digits than Python
  converts are not JSON we take: no column or schema could hold them. A number whose
  fraction is zero (``2.0``, ``1e3``) is the integer it equals, as JSON Schema counts it,
  for every schema behind the API (the core's and the plugins').
- No text (a JSON string or key, a query parameter) holds NUL or an unpaired surrogate:
  PostgreSQL cannot store the one and no UTF-8 encoder can write the other, so either would
  fail deep inside a view instead of being refused here, naming where it is.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, NoReturn

import marshmallow as ma
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

MAX_JSON_DEPTH = 32
TOO_DEEP = f"JSON body nested too deeply (limit {MAX_JSON_DEPTH} levels)"
NOT_JSON_NUMBER = "Malformed JSON body: NaN and Infinity are not JSON numbers."
TOO_MANY_DIGITS = "Malformed JSON body: a number has too many digits."
OUT_OF_RANGE = "Malformed JSON body: a number is out of range."
NUL_IN_TEXT = "Must not contain the NUL character (\\u0000)."
NUL_IN_KEY = "A key must not contain the NUL character (\\u0000)."
SURROGATE_IN_TEXT = "Must not contain an unpaired surrogate (\\ud800-\\udfff): it is not Unicode text."
SURROGATE_IN_KEY = "A key must not contain an unpaired surrogate (\\ud800-\\udfff): it is not Unicode text."
#: A body with many bad strings gets this many issues, not one per string.
MAX_ISSUES = 20

#: A JSON string, escapes included (the unrolled form, linear on long strings).
JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
BRACKETS = b"[]{}"
NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in BRACKETS)
SURROGATE = re.compile("[\ud800-\udfff]")


class BodyRefused(Exception):
    """The body is not JSON we take; ``message`` is the whole sentence to answer 400 with."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_streamed_body() -> None:
    """Read a body sent without ``Content-Length`` up to one byte past the limit: 413 when it goes past.

    A request hook. The server ends the stream at the end of the body (that is what
    ``wsgi.input_terminated`` says), so reading until it ends is safe; the body read is put
    back as the request's input for the view.
    """
    environ = request.environ
    limit = request.max_content_length
    if limit is None or request.content_length is not None or "wsgi.input_terminated" not in environ:
        return
    stream = environ["wsgi.input"]
    body = bytearray()
    while len(body) <= limit:
        chunk = stream.read(limit + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > limit:
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(bytes(body))


def load_json(body: bytes) -> Any:
    """The JSON value of a request body, held to this module's rules.

    Raises :class:`BodyRefused` (too deep, NaN, a number too long), ``ma.ValidationError``
    naming each string that holds NUL or an unpaired surrogate, and, as ``json.loads`` does,
    ``json.JSONDecodeError`` or ``UnicodeDecodeError`` for a body that is not JSON.
    """
    if too_deep(body):
        raise BodyRefused(TOO_DEEP)
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_number)
    except (json.JSONDecodeError, UnicodeDecodeError, BodyRefused):
        raise
    except ValueError:  # an integer longer than sys.get_int_max_str_digits()
        raise BodyRefused(TOO_MANY_DIGITS) from None
    if problems := text_issues(value):
        raise ma.ValidationError(problems)
    return value


def too_deep(body: bytes) -> bool:
    """Whether the arrays and objects of a JSON text nest deeper than :data:`MAX_JSON_DEPTH`,
    found without parsing it.

    Brackets inside strings do not count. In text that is not JSON, brackets count until the
    end of the text, past where a parser would stop: never fewer than a parser would enter.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False  # too few openers to nest that deep, however they are placed
    depth = 0
    for bracket in JSON_STRING.sub(b"", body).translate(None, NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be taken as a value, or None."""
    if "\x00" in text:
        return NUL_IN_TEXT
    if SURROGATE.search(text):
        return SURROGATE_IN_TEXT
    return None


def text_issues(value: Any) -> dict[Any, Any]:
    """Every string (value or key) in a parsed JSON value that holds NUL or an unpaired
    surrogate, as marshmallow-style nested messages: ``{"settings": {"body": ["…"]}}``.

    The walk keeps its own stack, so no depth of input can make it recurse.
    """
    messages: dict[Any, Any] = {}
    found = 0
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack and found < MAX_ISSUES:
        path, item = stack.pop()
        if isinstance(item, str):
            if (problem := text_problem(item)) is not None:
                _add(messages, path, problem)
                found += 1
        elif isinstance(item, Mapping):
            for key, child in reversed(item.items()):
                if (problem := text_problem(key)) is not None:
                    _add(messages, (*path, key), NUL_IN_KEY if problem == NUL_IN_TEXT else SURROGATE_IN_KEY)
                    found += 1
                else:
                    stack.append(((*path, key), child))
        elif isinstance(item, list):
            stack.extend(((*path, index), child) for index, child in reversed(list(enumerate(item))))
    return messages


def query_issues(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The query parameters whose name or value holds NUL or an unpaired surrogate, with why."""
    messages: dict[str, list[str]] = {}
    for name, value in pairs:
        problem = text_problem(name) or text_problem(value)
        if problem is not None:
            messages.setdefault(name, []).append(problem)
    return messages


def _add(messages: dict[Any, Any], path: tuple[Any, ...], message: str) -> None:
    node = messages
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(path[-1] if path else "_schema", []).append(message)


def _refuse_constant(name: str) -> NoReturn:
    raise BodyRefused(NOT_JSON_NUMBER)


def _number(text: str) -> float | int:
    if math.isinf(float(text)):  # 1e999: valid JSON, but no double holds it
        raise BodyRefused(OUT_OF_RANGE)
    exact = Decimal(text)
    return int(exact) if exact == exact.to_integral_value() else float(text)
