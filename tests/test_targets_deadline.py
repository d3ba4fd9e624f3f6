"""Connecting under a check's deadline: a resolver that does not answer cannot hold a check past it,
nor take more than a few threads however many checks ask."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from aloft import targets
from aloft.checks import Deadline

#: How late a call that times out may return, past its deadline, on a loaded machine.
MARGIN_SECONDS = 1.5


class Resolver:
    """Answers 127.0.0.1 for any name once released (at once if ``released`` is set); counts the names asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.released = threading.Event()
        self._changed = threading.Condition()

    def __call__(self, host: str, port: int) -> list[str]:
        with self._changed:
            self.asked.append(host)
            self._changed.notify_all()
        self.released.wait(30)
        return ["127.0.0.1"]

    def wait_until_asked(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.asked) >= count, timeout=10), self.asked


@pytest.fixture
def resolver() -> Iterator[Resolver]:
    resolving = Resolver()
    yield resolving
    resolving.released.set()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def in_background(call, *args):
    """Run ``call(*args)`` on a thread; returns a list that holds its return value once it has one."""
    answer: list = []
    thread = threading.Thread(target=lambda: answer.append(call(*args)), daemon=True)
    thread.start()
    return thread, answer


def test_a_resolver_that_does_not_answer_makes_connect_time_out_at_the_deadline(resolver, listener):
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        targets.connect("slow.test", listener.getsockname()[1], Deadline.after(1), resolver=resolver)
    assert 1 <= time.monotonic() - started < 1 + MARGIN_SECONDS
    with pytest.raises(TimeoutError):  # seconds rather than a deadline: the same bound
        targets.connect("slow2.test", listener.getsockname()[1], 1, resolver=resolver)


def test_connecting_gets_what_resolving_left_of_the_deadline(listener):
    def slow(host: str, port: int) -> list[str]:
        time.sleep(0.7)
        return ["127.0.0.1"]

    with targets.connect("db.test", listener.getsockname()[1], Deadline.after(3), resolver=slow) as connection:
        assert 0 < connection.gettimeout() <= 3 - 0.7


def test_callers_asking_for_a_name_being_resolved_share_that_resolution(resolver):
    resolutions = targets.Resolutions(4)
    first, answer = in_background(resolutions.resolve, resolver, "db.test", 5432, Deadline.after(20))
    resolver.wait_until_asked(1)
    for _ in range(3):
        with pytest.raises(TimeoutError):
            resolutions.resolve(resolver, "db.test", 5432, Deadline.after(0.2))
    resolver.released.set()
    first.join(10)
    assert answer == [["127.0.0.1"]]
    assert resolver.asked == ["db.test"]


def test_at_most_so_many_names_are_resolved_at_once(resolver):
    resolutions = targets.Resolutions(2)
    waiting = [in_background(resolutions.resolve, resolver, name, 80, Deadline.after(20)) for name in ("a", "b")]
    resolver.wait_until_asked(2)
    with pytest.raises(TimeoutError):
        resolutions.resolve(resolver, "c", 80, Deadline.after(0.5))
    assert sorted(resolver.asked) == ["a", "b"], "no third thread took the third name"
    resolver.released.set()
    assert resolutions.resolve(resolver, "c", 80, Deadline.after(10)) == ["127.0.0.1"]
    for thread, answer in waiting:
        thread.join(10)
        assert answer == [["127.0.0.1"]]


def test_names_asked_together_of_an_idle_thread_each_get_a_thread(resolver):
    resolutions = targets.Resolutions(2)
    resolver.released.set()
    assert resolutions.resolve(resolver, "warm", 80, Deadline.after(10)) == ["127.0.0.1"]
    time.sleep(0.2)  # the one thread is back waiting, counted idle
    resolver.released.clear()
    # The idle thread takes one of the two; the other must get a second thread rather than
    # wait behind a name that does not answer.
    for name in ("a", "b"):  # asked back to back, before the idle thread wakes; nobody waits for them
        with pytest.raises(TimeoutError):
            resolutions.resolve(resolver, name, 80, Deadline.after(0))
    resolver.wait_until_asked(3)
    assert sorted(resolver.asked) == ["a", "b", "warm"]
    resolver.released.set()
    assert resolutions.resolve(resolver, "b", 80, Deadline.after(10)) == ["127.0.0.1"]


def test_a_failed_resolution_is_host_not_found_for_every_caller():
    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    for _ in range(2):
        with pytest.raises(targets.HostNotFound, match=r"DNS: cannot resolve db\.internal"):
            targets.vetted_addresses("db.internal", 5432, resolver=failing, deadline=Deadline.after(5))
