"""Sign-in limits under `aloft up` with its two gunicorn workers: one count per address and per account between them.

Attempts go concurrently on fresh connections, so both workers answer them; counted per
worker, twice as many would pass. Runs with the counts in the data dir's file and in a Redis
server of the test's own, like the API's rate limits (tests/test_ratelimit_processes.py).
"""

from __future__ import annotations

import http.client
import re
import secrets
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import test_ratelimit_processes
from test_ratelimit_processes import Up

from aloft.people.signin_limits import ATTEMPTS_PER_MINUTE, FREE_FAILURES

#: The same `aloft up` as the API's rate-limit tests (two workers; counts in the data dir's file, then in a
#: Redis of its own), started once for this module.
up = test_ratelimit_processes.up


def a_source() -> str:
    """A loopback address of this test's own: the limits count per client address."""
    return f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(250) + 2}"


def sign_in_attempt(up: Up, email: str, source: str) -> tuple[int, str]:
    """GET the sign-in form (its CSRF cookie and token), then POST a wrong password, on fresh connections."""
    connection = http.client.HTTPConnection("127.0.0.1", up.port, timeout=60, source_address=(source, 0))
    try:
        connection.request("GET", "/signin")
        page = connection.getresponse()
        html = page.read().decode()
        cookie = page.getheader("Set-Cookie").split(";", 1)[0]
    finally:
        connection.close()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = urllib.parse.urlencode({"email": email, "password": "not-the-password-1", "csrf_token": token})
    connection = http.client.HTTPConnection("127.0.0.1", up.port, timeout=60, source_address=(source, 0))
    try:
        connection.request(
            "POST",
            "/signin",
            body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def test_one_address_gets_20_attempts_a_minute_across_workers(up):
    source = a_source()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: sign_in_attempt(up, f"guess{n}@example.com", source), range(25)))
    assert Counter(status for status, _ in answers) == {401: ATTEMPTS_PER_MINUTE, 429: 25 - ATTEMPTS_PER_MINUTE}
    assert all("Incorrect e-mail or password." in text for status, text in answers if status == 401)
    assert all("Too many attempts from your address" in text for status, text in answers if status == 429)
    assert sign_in_attempt(up, "guess@example.com", a_source())[0] == 401, "another address"


def test_an_account_waits_after_5_failures_whichever_worker_answers(up):
    email = f"admin{secrets.token_hex(3)}@example.com"
    with ThreadPoolExecutor(5) as pool:
        first = list(pool.map(lambda _: sign_in_attempt(up, email, a_source()), range(FREE_FAILURES)))
    assert [status for status, _ in first] == [401] * FREE_FAILURES
    for _ in range(4):  # from new addresses, so whichever worker answers, only the account's count can refuse
        status, text = sign_in_attempt(up, email, a_source())
        assert status == 429, text
        assert re.search(r"Too many failed sign-ins for this e-mail\. Try again in \d+ seconds\.", text)
    assert sign_in_attempt(up, f"other{email}", a_source())[0] == 401, "another account"
