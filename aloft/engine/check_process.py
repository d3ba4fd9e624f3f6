"""Running checks: one check guarded against a crashing plugin, and a child process that runs many at once.

Checks spend their time waiting on the network, so dozens run at once on threads. Those
threads take Python's interpreter lock at every step of every request, and a thread of the
same process that writes to the database gives the lock up at every statement and then
waits in line behind all of them: recording a batch of 200 checks took 23 ms alone and
over a second beside 64 busy check threads. So the engine runs its checks in a child
process of its own (:class:`CheckProcess`), and the parent, which loads monitors, records
results and talks to Redis, never competes with the check threads for a lock.

This module is imported by that child, so it stays clear of the database and the web app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from aloft import targets
from aloft.checks import CheckResult, CheckTarget, CheckType

log = logging.getLogger(__name__)

#: A check, as the engine names it: the monitor and the slot (epoch ms).
Key = tuple[str, int]
#: A finished check; the result is None when the monitor's type is not installed.
Outcome = tuple[Key, CheckResult | None]
#: Outcomes sent back in one message, at most.
MAX_MESSAGE = 500
#: What the child sends once it can take checks, and how long it may take to get there.
READY = "ready"
START_SECONDS = 60


def run_check(check_type: type[CheckType] | None, monitor: CheckTarget) -> CheckResult | None:
    """Run one check; a crashing plugin is a failed check with a cause that says so."""
    if check_type is None:
        log.warning("monitor %s: check type %r is not installed; not checked", monitor.id, monitor.type)
        return None
    started = time.perf_counter()
    try:
        result = check_type().run(monitor)
    except Exception as exc:
        log.exception("check type %r raised on monitor %s", monitor.type, monitor.id)
        elapsed = (time.perf_counter() - started) * 1000
        return CheckResult(ok=False, latency_ms=elapsed, cause=f"Internal check error: {type(exc).__name__}")
    return storable(result, monitor)


def storable(result: object, monitor: CheckTarget) -> CheckResult:
    """``result`` as it can be stored: a plugin's mistake fails its own check, never the batch it is recorded with."""
    if not isinstance(result, CheckResult):
        log.error("check type %r returned %r, not a CheckResult, for monitor %s", monitor.type, result, monitor.id)
        return CheckResult(ok=False, cause="Internal check error: the check type returned no CheckResult")
    latency = result.latency_ms
    if latency is not None and not (isinstance(latency, int | float) and math.isfinite(latency)):
        result = replace(result, latency_ms=None)
    if result.details:
        try:
            json.dumps(result.details, allow_nan=False)
        except (TypeError, ValueError):
            log.error("check type %r returned details that are not JSON for monitor %s", monitor.type, monitor.id)
            result = replace(result, details={"error": "the check type returned details that are not JSON"})
    return result


def _fields(result: CheckResult) -> tuple[Any, ...]:
    """``CheckResult(*_fields(result)) == result``."""
    return (result.ok, result.latency_ms, result.cause, result.details)


class CheckProcess:
    """A child process that runs checks on ``threads`` threads and reports each as it finishes.

    :meth:`submit` hands it ``(key, target)`` pairs; ``on_done`` is called (on a thread of
    this process) with lists of outcomes in the order they finish. If the child dies, the
    checks it had are handed to ``on_lost`` and a new child takes its place.
    """

    def __init__(
        self,
        on_done: Callable[[list[Outcome]], None],
        on_lost: Callable[[list[Key]], None],
        *,
        threads: int,
        plugins_disabled: Iterable[str] = (),
        target_policy: str = targets.TargetPolicy.PRIVATE_OK,
        log_level: str = "info",
    ) -> None:
        self.on_done = on_done
        self.on_lost = on_lost
        self.options = (threads, sorted(plugins_disabled), str(target_policy), log_level.upper())
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._in_child: set[Key] = set()
        self._closing = False
        self._process: Any = None
        self._connection: Connection | None = None
        self._receiver: threading.Thread | None = None
        #: The targets the current child has, by monitor id.
        self._sent: dict[str, CheckTarget] = {}

    def start(self) -> None:
        """Start the child (it imports the plugins, so this takes a moment) and the thread that listens to it."""
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_child_main, args=(theirs, *self.options), name="aloft-checks", daemon=True
        )
        process.start()
        theirs.close()
        # The child says it is ready once its plugins are loaded: checks handed over from now on run at once.
        if not ours.poll(START_SECONDS) or ours.recv() != READY:
            process.kill()
            process.join()
            raise RuntimeError(f"the check process did not start in {START_SECONDS} s (exit code {process.exitcode})")
        self._process, self._connection, self._sent = process, ours, {}
        self._receiver = threading.Thread(target=self._receive, args=(ours,), name="aloft-check-results", daemon=True)
        self._receiver.start()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def submit(self, work: list[tuple[Key, CheckTarget]]) -> None:
        if not work:
            return
        with self._lock:
            self._in_child.update(key for key, _ in work)
            connection = self._connection
            try:
                if connection is None:
                    raise OSError("the check process is not running")
                connection.send([(key, self._compact(target)) for key, target in work])
            except (OSError, ValueError):
                self._in_child.difference_update(key for key, _ in work)
                raise

    def _compact(self, target: CheckTarget) -> CheckTarget | str:
        """The target, or only its id when the child has it as it is: most checks are of unchanged monitors."""
        if self._sent.get(target.id) == target:
            return target.id
        self._sent[target.id] = target
        return target

    def _receive(self, connection: Connection) -> None:
        while True:
            try:
                finished: list[tuple[Key, tuple[Any, ...] | None]] = connection.recv()
            except (EOFError, OSError):
                break
            outcomes: list[Outcome] = [
                (key, None if result is None else CheckResult(*result)) for key, result in finished
            ]
            with self._lock:
                self._in_child.difference_update(key for key, _ in outcomes)
            self.on_done(outcomes)
        self._child_gone(connection)

    def _child_gone(self, connection: Connection) -> None:
        with self._lock:
            if connection is not self._connection:
                return
            lost, self._in_child = sorted(self._in_child), set()
            self._connection = None
            closing = self._closing
        if lost:
            self.on_lost(lost)
        if not closing:
            code = self._process.exitcode if self._process is not None else None
            log.error("the check process exited (code %s) with %d checks in hand; starting a new one", code, len(lost))
            self.start()

    def close(self, timeout: float = 10) -> None:
        """Stop the child: it finishes the checks it has (up to ``timeout`` seconds) and reports them."""
        with self._lock:
            self._closing = True
            connection = self._connection
        if connection is not None:
            with contextlib.suppress(OSError, ValueError):  # the child is gone already
                connection.send(None)
        if self._process is not None:
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        if self._receiver is not None:
            self._receiver.join(timeout)
        if connection is not None:
            connection.close()


def _child_main(connection: Connection, threads: int, plugins_disabled: list[str], policy: str, level: str) -> None:
    """The check process: run what arrives on ``connection``, send outcomes back as they finish."""
    from aloft.plugins import load_plugins

    # Ctrl-C reaches the whole process group: the parent decides when this process stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
    logging.getLogger("aloft").setLevel(level)
    targets.configure(policy)
    check_types = load_plugins(frozenset(plugins_disabled)).check_types
    connection.send(READY)
    # Plain threads on a queue rather than an executor: a Future per check cost a tenth of this process's time.
    waiting: queue.SimpleQueue[tuple[Key, CheckTarget] | None] = queue.SimpleQueue()
    finished: queue.SimpleQueue[tuple[Key, tuple[Any, ...] | None] | None] = queue.SimpleQueue()
    #: The parent sends a monitor's target once, then its id while it is unchanged.
    known: dict[str, CheckTarget] = {}

    def check_forever() -> None:
        while (item := waiting.get()) is not None:
            key, target = item
            try:
                result = run_check(check_types.get(target.type), target)
                # Sent back as a plain tuple: cheaper to pickle than the dataclass (and astuple's deep copy, 5 us).
                finished.put((key, None if result is None else _fields(result)))
            except BaseException:  # run_check catches plugins' errors; this keeps the count right regardless
                log.exception("checking monitor %s failed", target.id)
                finished.put((key, None))

    def send_back() -> None:
        while (first := finished.get()) is not None:
            outcomes = [first]
            while len(outcomes) < MAX_MESSAGE:
                try:
                    outcome = finished.get_nowait()
                except queue.Empty:
                    break
                if outcome is None:
                    finished.put(None)
                    break
                outcomes.append(outcome)
            try:
                connection.send(outcomes)
            except OSError:
                os._exit(0)  # the parent is gone: nobody will record these

    checkers = [threading.Thread(target=check_forever, name=f"aloft-check-{n}") for n in range(threads)]
    sender = threading.Thread(target=send_back, name="aloft-check-sender")
    for thread in [*checkers, sender]:
        thread.start()
    while True:
        try:
            work = connection.recv()
        except (EOFError, OSError):
            # The parent died (a killed worker): its checks cannot be recorded, so stop now.
            os._exit(0)
        if work is None:  # the parent asks us to finish what we have, report it, and stop
            break
        for key, sent in work:
            if isinstance(sent, str):
                target = known[sent]
            else:
                target = known[sent.id] = sent
            waiting.put((key, target))
    for _ in checkers:
        waiting.put(None)
    for checker in checkers:
        checker.join()
    finished.put(None)
    sender.join()
    connection.close()
