"""Running checks: one check guarded against a crashing plugin, threads that hold every check to its
deadline, and a child process that runs many at once.

Checks spend their time waiting on the network, so dozens run at once on threads. Those
threads take Python's interpreter lock at every step of every request, and a thread of the
same process that writes to the database gives the lock up at every statement and then
waits in line behind all of them: recording a batch of 200 checks took 23 ms alone and
over a second beside 64 busy check threads. So the engine runs its checks in a child
process of its own (:class:`CheckProcess`), and the parent, which loads monitors, records
results and talks to Redis, never competes with the check threads for a lock.

A check must be over by its monitor's timeout, whatever its plugin does: :class:`CheckThreads`
reports a check whose plugin has not returned by then (and a short grace) as timed out, and
keeps a monitor whose check is stuck from taking a second thread.

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
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from aloft import targets
from aloft.checks import CheckResult, CheckTarget, CheckType, Deadline
from aloft.deadlines import timeout_cause

log = logging.getLogger(__name__)

#: A check, as the engine names it: the monitor and the slot (epoch ms).
Key = tuple[str, int]
#: A finished check; the result is None when the monitor's type is not installed.
Outcome = tuple[Key, CheckResult | None]
#: Outcomes sent back in one message, at most.
MAX_MESSAGE = 500
#: Called with each check's outcome as it is known.
Report = Callable[[Key, CheckResult | None], None]
#: What the child sends once it can take checks, and how long it may take to get there.
READY = "ready"
START_SECONDS = 60
#: How long past its deadline a check's plugin may take to return before the check is given up.
GRACE_SECONDS = 1.0
#: How often running checks are looked at for one past its deadline and grace.
WATCH_SECONDS = 0.2
#: ``details`` of the checks the engine reports timed out without their plugin's word.
#: What neither database stores as it is: NUL, and a surrogate (in a ``str``, always a lone one).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
GIVEN_UP = "the check type did not return by the check's deadline"
NOT_RUN = "not run: the monitor's previous check has not returned"


def run_check(
    check_type: type[CheckType] | None, monitor: CheckTarget, deadline: Deadline | None = None
) -> CheckResult | None:
    """Run one check, handing the plugin its deadline (by default, the monitor's timeout from now).

    A crashing plugin is a failed check with a cause that says so.
    """
    if check_type is None:
        log.warning("monitor %s: check type %r is not installed; not checked", monitor.id, monitor.type)
        return None
    started = time.perf_counter()
    if deadline is None:
        deadline = Deadline.after(monitor.timeout_seconds)
    try:
        result = check_type().run(monitor.with_deadline(deadline))
    except Exception as exc:
        log.exception("check type %r raised on monitor %s", monitor.type, monitor.id)
        elapsed = (time.perf_counter() - started) * 1000
        return CheckResult(ok=False, latency_ms=elapsed, cause=f"Internal check error: {type(exc).__name__}")
    return storable(result, monitor)


def storable(result: object, monitor: CheckTarget) -> CheckResult:
    """``result`` as it can be stored: a plugin's mistake fails its own check, never the batch it is recorded with.

    A check that says it is up after taking longer than its timeout timed out.
    """
    if not isinstance(result, CheckResult):
        log.error("check type %r returned %r, not a CheckResult, for monitor %s", monitor.type, result, monitor.id)
        return CheckResult(ok=False, cause="Internal check error: the check type returned no CheckResult")
    latency = result.latency_ms
    if latency is not None and not (isinstance(latency, int | float) and math.isfinite(latency)):
        result = replace(result, latency_ms=None)
    elif result.ok and latency is not None and latency > monitor.timeout_seconds * 1000:
        result = replace(result, ok=False, latency_ms=None, cause=timeout_cause(monitor.timeout_seconds))
    if result.cause is not None and (not isinstance(result.cause, str) or not storable_text(result.cause)):
        result = replace(result, cause=clean_text(str(result.cause)))
    if result.details:
        try:
            dumped = json.dumps(result.details, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError):
            log.error("check type %r returned details that are not JSON for monitor %s", monitor.type, monitor.id)
            result = replace(result, details={"error": "the check type returned details that are not JSON"})
        else:
            if not storable_text(dumped):
                result = replace(result, details=_cleaned(result.details))
    return result


def storable_text(text: str) -> bool:
    """Whether both databases store ``text`` as it is: PostgreSQL refuses NUL (``\\u0000`` in JSON too),
    and neither encodes a lone surrogate. Text from a remote peer may hold either."""
    if "\x00" in text or "\\u0000" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD."""
    return UNSTORABLE.sub("\ufffd", text)


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): _cleaned(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(item) for item in value]
    return value


def _fields(result: CheckResult) -> tuple[Any, ...]:
    """``CheckResult(*_fields(result)) == result``."""
    return (result.ok, result.latency_ms, result.cause, result.details)


def timed_out(monitor: CheckTarget, why: str) -> CheckResult:
    """What the engine records for a check of ``monitor`` it gave up on (``why`` goes in the details)."""
    return CheckResult(ok=False, cause=timeout_cause(monitor.timeout_seconds), details={"error": why})


class _Check:
    """A check handed to :class:`CheckThreads`: waiting, running, or given up."""

    __slots__ = ("check_type", "give_up_at", "given_up", "key", "report", "target")

    def __init__(self, key: Key, check_type: type[CheckType] | None, target: CheckTarget, report: Report) -> None:
        self.key = key
        self.check_type = check_type
        self.target = target
        self.report = report
        #: Set as a thread starts it: when it is given up if its plugin has not returned.
        self.give_up_at: float | None = None
        self.given_up = False


class CheckThreads:
    """Checks run on ``threads`` threads, each over by its deadline whatever its plugin does.

    A check starts with a :class:`~aloft.checks.Deadline` (its monitor's timeout from then),
    which its plugin is handed. If the plugin has not returned ``GRACE_SECONDS`` after it, the
    check is reported timed out and its thread is written off: a new thread takes its place,
    and the old one ends when the plugin returns, its result dropped. A monitor's checks run
    one at a time, in the order handed over; while one is stuck past its deadline, the
    monitor's later checks are reported timed out at once, without running. So hanging
    monitors cannot take the threads everyone else's checks need, and one monitor never
    holds more than one thread.
    """

    def __init__(self, threads: int, *, name: str = "aloft-check") -> None:
        self.threads = threads
        self.name = name
        # A plain lock where every check passes (a Condition's costs twice as much); the condition only for close.
        self._lock = threading.Lock()
        self._all_reported = threading.Condition(self._lock)
        self._waiting: queue.SimpleQueue[_Check | None] = queue.SimpleQueue()
        #: The checks not yet reported, by monitor, in order: the first is waiting, running or given up.
        self._monitors: dict[str, list[_Check]] = {}
        self._started = 0
        self._closing = self._closed = False
        for _ in range(threads):
            self._start_thread()
        threading.Thread(target=self._watch, name=f"{name}-watch", daemon=True).start()

    def _start_thread(self) -> None:
        # Daemon threads: a plugin stuck for good must not keep the process from exiting.
        self._started += 1
        threading.Thread(target=self._check_forever, name=f"{self.name}-{self._started}", daemon=True).start()

    def submit(self, key: Key, check_type: type[CheckType] | None, target: CheckTarget, report: Report) -> None:
        """Run a check of ``target``; ``report(key, result)`` is called once with its outcome."""
        check = _Check(key, check_type, target, report)
        with self._lock:
            line = self._monitors.get(target.id)
            if line is None:
                self._monitors[target.id] = [check]
            elif line[0].given_up:
                report(key, timed_out(target, NOT_RUN))
                return
            else:
                line.append(check)
                return
        self._waiting.put(check)

    def _check_forever(self) -> None:
        while (check := self._waiting.get()) is not None:
            deadline = Deadline.after(check.target.timeout_seconds)
            check.give_up_at = deadline.at + GRACE_SECONDS
            try:
                result = run_check(check.check_type, check.target, deadline)
            except BaseException:  # run_check catches plugins' errors; this keeps the count right regardless
                log.exception("checking monitor %s failed", check.target.id)
                result = None
            if not self._finish(check, result):
                return  # given up: another thread has taken this one's place

    def _finish(self, check: _Check, result: CheckResult | None) -> bool:
        """Report ``check`` unless it was given up, and hand over its monitor's next; False when it was."""
        with self._lock:
            line = self._monitors[check.target.id]
            del line[0]
            following = line[0] if line else None
            if following is None:
                del self._monitors[check.target.id]
            if not check.given_up:
                check.report(check.key, result)
            if self._closing:
                self._all_reported.notify_all()
        if following is not None:
            self._waiting.put(following)
        if check.given_up:
            log.warning("the check of monitor %s returned after it was given up; its result is dropped", check.key[0])
        return not check.given_up

    def _watch(self) -> None:
        while not self._closed:
            time.sleep(WATCH_SECONDS)
            now = time.monotonic()
            given_up = []
            with self._lock:
                for line in self._monitors.values():
                    check = line[0]
                    if check.given_up or check.give_up_at is None or now < check.give_up_at:
                        continue
                    check.given_up = True
                    given_up.append(check)
                    self._start_thread()  # in the stuck one's place, before anyone hears of it
                    check.report(check.key, timed_out(check.target, GIVEN_UP))
                    for later in line[1:]:
                        later.report(later.key, timed_out(later.target, NOT_RUN))
                    del line[1:]
                if given_up and self._closing:
                    self._all_reported.notify_all()
            for check in given_up:
                log.warning(
                    "the check of monitor %s has not returned %.0f s past its %d s timeout; recorded as timed out",
                    check.key[0],
                    GRACE_SECONDS,
                    check.target.timeout_seconds,
                )

    def close(self) -> None:
        """Wait until every check handed over is reported (done, or given up at its deadline), then stop."""
        with self._lock:
            self._closing = True
            while not all(line[0].given_up for line in self._monitors.values()):
                self._all_reported.wait()
            self._closed = True
        for _ in range(self.threads):
            self._waiting.put(None)


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
    finished: queue.SimpleQueue[tuple[Key, tuple[Any, ...] | None] | None] = queue.SimpleQueue()

    def report(key: Key, result: CheckResult | None) -> None:
        # Sent back as a plain tuple: cheaper to pickle than the dataclass (and astuple's deep copy, 5 us).
        finished.put((key, None if result is None else _fields(result)))

    # Plain threads on a queue rather than an executor: a Future per check cost a tenth of this process's time.
    checks = CheckThreads(threads)
    #: The parent sends a monitor's target once, then its id while it is unchanged.
    known: dict[str, CheckTarget] = {}

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

    # A daemon: whatever happens to this process's main thread, a sender waiting for outcomes never keeps it alive.
    sender = threading.Thread(target=send_back, name="aloft-check-sender", daemon=True)
    sender.start()
    try:
        connection.send(READY)
    except OSError:
        os._exit(0)  # the parent is gone before this process was ready (it was stopped while starting it)
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
            checks.submit(key, check_types.get(target.type), target, report)
    checks.close()
    finished.put(None)
    sender.join()
    connection.close()
