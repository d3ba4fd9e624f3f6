"""Signing a benchmark's test client in as a person (until the people pages' sessions are wired, by patching)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from aloft.web import viewer as viewers


def sign_in_as(app: Flask, user_id: str, org_id: str) -> Callable[[Any], None]:
    def sign_in(client: Any) -> None:
        person = viewers.Viewer(user_id, "bench@example.com", "Bench", org_id, "Bench", "admin")
        viewers.signed_in = lambda: person

    return sign_in
