"""Signing a benchmark's test client in as a person, through the sign-in page, as a browser does."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask

PASSWORD = "bench-Harbour-plum-77"


def sign_in_as(app: Flask, email: str) -> Callable[[Any], None]:
    def sign_in(client: Any) -> None:
        page = client.get("/signin").get_data(as_text=True)
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        answer = client.post("/signin", data={"email": email, "password": PASSWORD, "csrf_token": token})
        if answer.status_code != 302:
            raise SystemExit(f"signing in answered {answer.status_code}")

    return sign_in
