"""Helpers the web UI's tests share: signing a person in, reading a form's CSRF token, recording checks."""

from __future__ import annotations

import re
import time

from flask.testing import FlaskClient

from aloft.checks import CheckResult
from aloft.engine.jobs import load_targets, record_outcomes
from aloft.extensions import db

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token of the forms on ``path``, as a browser would find it."""
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match is not None, f"no form with a CSRF token on {path}"
    return match.group(1)


def record(monitor_id: str, *results: CheckResult, minutes_ago: int = 1) -> None:
    """Store check results for ``monitor_id``, a minute apart, the last ``minutes_ago`` minutes ago."""
    now_ms = (int(time.time()) // 60 - minutes_ago) * 60_000
    (target,) = load_targets([monitor_id])
    db.session.rollback()
    count = len(results)
    record_outcomes([(target, now_ms - (count - 1 - index) * 60_000, result) for index, result in enumerate(results)])
