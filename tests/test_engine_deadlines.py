"""A check is over by its deadline whatever its plugin does, and a stuck monitor holds one thread at most.

The first tests run :class:`CheckThreads` here, with check types that ignore their deadline;
the last runs the engine as a worker does (a runner, its check process, the database) with
such a check type installed as a distribution, the way a third party's is.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aloft import hookimpl
from aloft.checks import CheckResult, CheckTarget, CheckType, Deadline
from aloft.engine.check_process import GIVEN_UP, GRACE_SECONDS, NOT_RUN, CheckThreads, run_check
from aloft.engine.runner import Runner
from aloft.engine.scheduler import now_ms

#: How late an outcome may come, past when it is due, on a loaded machine.
MARGIN_SECONDS = 1.5
#: When the engine reports a check of a 1-second monitor whose plugin does not return, at the latest.
GIVEN_UP_BY = 1 + GRACE_SECONDS + MARGIN_SECONDS


def monitor(name: str, url: str = "stuck", timeout: int = 1) -> CheckTarget:
    return CheckTarget(
        id=name, name=name, type="hang", url=url, timeout_seconds=timeout, interval_seconds=60, settings={}
    )


class Outcomes:
    """What :class:`CheckThreads` reports, with when (monotonic seconds)."""

    def __init__(self) -> None:
        self.reported: dict[tuple[str, int], tuple[CheckResult | None, float]] = {}
        #: Every key reported, as often as it was.
        self.keys: list[tuple[str, int]] = []
        self._changed = threading.Condition()

    def __call__(self, key: tuple[str, int], result: CheckResult | None) -> None:
        with self._changed:
            self.keys.append(key)
            self.reported.setdefault(key, (result, time.monotonic()))
            self._changed.notify_all()

    def wait_for(self, *keys: tuple[str, int], timeout: float) -> dict[tuple[str, int], tuple[CheckResult, float]]:
        with self._changed:
            arrived = self._changed.wait_for(lambda: all(key in self.reported for key in keys), timeout)
            assert arrived, f"{sorted(set(keys) - set(self.reported))} not reported within {timeout} s"
            return {key: self.reported[key] for key in keys}


class Hang(CheckType):
    """Ignores its deadline: a monitor whose url is "stuck" holds its thread until ``released`` (30 s at most).

    Each test gets a subclass of its own (the ``hang`` fixture) with its own log of runs.
    """

    name = "hang"
    released: threading.Event
    runs: list[tuple[str, float, float]]
    deadlines: list[Deadline | None]

    def run(self, target: CheckTarget) -> CheckResult:
        started = time.monotonic()
        self.deadlines.append(target.deadline)
        if target.url == "stuck":
            self.released.wait(30)
        elif target.url.startswith("sleep:"):
            time.sleep(float(target.url.removeprefix("sleep:")))
        self.runs.append((target.id, started, time.monotonic()))
        return CheckResult(True, 1.0)


@pytest.fixture
def hang() -> Iterator[type[Hang]]:
    check_type = type("Hang", (Hang,), {"released": threading.Event(), "runs": [], "deadlines": []})
    yield check_type
    check_type.released.set()


@pytest.fixture
def checks() -> Iterator[CheckThreads]:
    """Two check threads, with a name of their own so that they can be counted."""
    threads = CheckThreads(2, name=f"test-check-{secrets.token_hex(3)}")
    yield threads
    threads.close()


def check_threads(checks: CheckThreads) -> int:
    """Threads of ``checks`` that run checks (its watchdog aside), stuck ones included."""
    names = [thread.name for thread in threading.enumerate() if thread.is_alive()]
    return sum(1 for name in names if name.startswith(f"{checks.name}-") and not name.endswith("-watch"))


def wait_until(what: str, condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_the_plugin_is_handed_the_deadline_the_engine_holds_it_to(hang):
    before = time.monotonic()
    run_check(hang, monitor("m1", url="fast", timeout=7))
    (deadline,) = hang.deadlines
    assert deadline.timeout_seconds == 7
    assert before + 7 <= deadline.at <= time.monotonic() + 7


def test_a_check_whose_plugin_ignores_its_deadline_is_reported_timed_out_after_the_grace(hang, checks):
    outcomes = Outcomes()
    submitted = time.monotonic()
    checks.submit(("m1", 1), hang, monitor("m1"), outcomes)
    result, at = outcomes.wait_for(("m1", 1), timeout=GIVEN_UP_BY)[("m1", 1)]
    assert (result.ok, result.cause, result.details) == (False, "Timed out after 1s", {"error": GIVEN_UP})
    assert 1 + GRACE_SECONDS <= at - submitted < GIVEN_UP_BY


def test_stuck_monitors_do_not_delay_the_checks_of_others(hang, checks):
    outcomes = Outcomes()
    submitted = time.monotonic()
    for name in ("stuck1", "stuck2"):  # as many as there are threads
        checks.submit((name, 1), hang, monitor(name), outcomes)
    for name in ("fast1", "fast2", "fast3"):
        checks.submit((name, 1), hang, monitor(name, url="fast"), outcomes)
    reported = outcomes.wait_for(("fast1", 1), ("fast2", 1), ("fast3", 1), timeout=GIVEN_UP_BY)
    assert all(result.ok for result, _ in reported.values())
    assert max(at for _, at in reported.values()) - submitted < GIVEN_UP_BY


def test_a_stuck_monitor_holds_one_thread_and_its_next_checks_are_reported_at_once_without_running(hang, checks):
    outcomes = Outcomes()
    checks.submit(("stuck", 1), hang, monitor("stuck"), outcomes)
    outcomes.wait_for(("stuck", 1), timeout=GIVEN_UP_BY)
    assert check_threads(checks) == 2 + 1, "a thread took the stuck one's place"

    submitted = time.monotonic()
    for slot in (2, 3):
        checks.submit(("stuck", slot), hang, monitor("stuck"), outcomes)
    reported = outcomes.wait_for(("stuck", 2), ("stuck", 3), timeout=MARGIN_SECONDS)
    for result, at in reported.values():
        assert (result.ok, result.cause, result.details) == (False, "Timed out after 1s", {"error": NOT_RUN})
        assert at - submitted < MARGIN_SECONDS
    assert check_threads(checks) == 3
    assert hang.runs == [], "the stuck check is still the only one of its monitor"

    hang.released.set()
    wait_until("the stuck thread to end", lambda: check_threads(checks) == 2)
    checks.submit(("stuck", 4), hang, monitor("stuck"), outcomes)
    assert outcomes.wait_for(("stuck", 4), timeout=10)[("stuck", 4)][0].ok, "once back, the monitor is checked"
    assert [name for name, _, _ in hang.runs] == ["stuck", "stuck"]
    assert sorted(outcomes.keys) == [("stuck", 1), ("stuck", 2), ("stuck", 3), ("stuck", 4)], "the late result dropped"


def test_a_monitors_checks_run_one_at_a_time_in_the_order_handed_over(hang, checks):
    outcomes = Outcomes()
    for slot in (1, 2):
        checks.submit(("m1", slot), hang, monitor("m1", url="sleep:0.3", timeout=5), outcomes)
    outcomes.wait_for(("m1", 1), ("m1", 2), timeout=10)
    (_, _, first_ended), (_, second_started, _) = hang.runs
    assert first_ended <= second_started
    assert outcomes.reported["m1", 1][1] <= outcomes.reported["m1", 2][1]


def test_close_returns_once_every_check_is_reported(hang, checks):
    outcomes = Outcomes()
    checks.submit(("stuck", 1), hang, monitor("stuck"), outcomes)
    checks.submit(("fast", 1), hang, monitor("fast", url="sleep:0.2"), outcomes)
    checks.close()
    assert set(outcomes.reported) == {("stuck", 1), ("fast", 1)}


def test_a_check_that_says_up_after_its_timeout_is_recorded_timed_out():
    class Late(CheckType):
        name = "late"

        def run(self, target: CheckTarget) -> CheckResult:
            return CheckResult(True, float(target.url))

    assert run_check(Late, monitor("m1", url="999.9")) == CheckResult(True, 999.9)
    assert run_check(Late, monitor("m1", url="1000.1")) == CheckResult(False, None, "Timed out after 1s")


HANG_PLUGIN = '''
    """A check type that ignores its deadline: a monitor whose url is "stuck" holds its thread
    until {release} exists (30 s at most). Each run is logged to {runs}."""

    import json
    import os
    import time

    from aloft import hookimpl
    from aloft.checks import CheckResult, CheckType


    class Hang(CheckType):
        name = "hang"

        def run(self, target):
            started = time.time()
            while target.url == "stuck" and not os.path.exists({release!r}) and time.time() - started < 30:
                time.sleep(0.02)
            with open({runs!r}, "a") as runs:
                runs.write(json.dumps([target.id, started, time.time()]) + "\\n")
            return CheckResult(True, 1.0)


    @hookimpl
    def register_check_types():
        return [Hang]
'''


@pytest.fixture
def hang_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """``aloft-hang`` installed the way pip would (a module and its .dist-info on sys.path, which the
    check process inherits); yields the file that releases its stuck checks and its log of runs."""
    release, runs = tmp_path / "release", tmp_path / "runs.jsonl"
    (tmp_path / "aloft_hang.py").write_text(textwrap.dedent(HANG_PLUGIN).format(release=str(release), runs=str(runs)))
    info = tmp_path / "aloft_hang-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aloft-hang\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[aloft]\nhang = aloft_hang\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield release, runs
    release.touch()
    sys.modules.pop("aloft_hang", None)


@pytest.fixture
def app(hang_distribution, app):
    """The app, loading its plugins once ``aloft-hang`` is installed."""
    return app


class Arrivals:
    """An observer plugin: each recorded check, with when it was recorded (monotonic seconds)."""

    def __init__(self) -> None:
        self.recorded: dict[str, list[tuple[CheckResult, float]]] = {}
        self._changed = threading.Condition()

    @hookimpl
    def check_completed(self, monitor: CheckTarget, result: CheckResult) -> None:
        with self._changed:
            self.recorded.setdefault(monitor.id, []).append((result, time.monotonic()))
            self._changed.notify_all()

    def wait_for(self, counts: dict[str, int], timeout: float) -> None:
        with self._changed:
            arrived = self._changed.wait_for(
                lambda: all(len(self.recorded.get(key, [])) >= count for key, count in counts.items()), timeout
            )
            assert arrived, f"not all of {counts} recorded within {timeout} s: {self.recorded}"


def task_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts the check process's threads in /proc")
def test_in_the_check_process_stuck_monitors_hold_one_thread_each_and_delay_no_one(
    app, hang_distribution, make_monitor
):
    release, runs = hang_distribution
    stuck = [make_monitor("hang", url="stuck", timeoutSeconds=1, intervalSeconds=10)["id"] for _ in range(2)]
    fast = [make_monitor("hang", url="fast", timeoutSeconds=1, intervalSeconds=10)["id"] for _ in range(3)]
    arrivals = Arrivals()
    app.extensions["aloft.plugins"].manager.register(arrivals, name="test-arrivals")
    runner = Runner(app, concurrency=2).start()
    try:
        idle_threads = task_count(runner.process.pid)
        slot = now_ms() - 180_000

        # As many stuck monitors as check threads: the others' checks come once those are given up.
        submitted = time.monotonic()
        runner.submit([(monitor_id, slot) for monitor_id in stuck + fast])
        arrivals.wait_for(dict.fromkeys(stuck + fast, 1), timeout=GIVEN_UP_BY)
        for monitor_id in stuck:
            ((result, _),) = arrivals.recorded[monitor_id]
            assert (result.ok, result.cause, result.details) == (False, "Timed out after 1s", {"error": GIVEN_UP})
        for monitor_id in fast:
            ((result, at),) = arrivals.recorded[monitor_id]
            assert result.ok and at - submitted < GIVEN_UP_BY

        # While they are stuck, their next checks are recorded at once and take no thread.
        submitted = time.monotonic()
        runner.submit([(monitor_id, slot + 60_000) for monitor_id in stuck + fast])
        arrivals.wait_for(dict.fromkeys(stuck + fast, 2), timeout=MARGIN_SECONDS)
        for monitor_id in stuck:
            result, at = arrivals.recorded[monitor_id][1]
            assert (result.ok, result.details) == (False, {"error": NOT_RUN}) and at - submitted < MARGIN_SECONDS
        assert task_count(runner.process.pid) == idle_threads + 2, "one thread for each stuck monitor"

        release.touch()
        wait_until("the stuck threads to end", lambda: task_count(runner.process.pid) == idle_threads)
        runner.submit([(monitor_id, slot + 120_000) for monitor_id in stuck])
        arrivals.wait_for(dict.fromkeys(stuck, 3), timeout=10)
        assert all(arrivals.recorded[monitor_id][2][0].ok for monitor_id in stuck)
    finally:
        runner.close()
        app.extensions["aloft.plugins"].manager.unregister(name="test-arrivals")

    by_monitor: dict[str, list[tuple[float, float]]] = {}
    for line in runs.read_text().splitlines():
        monitor_id, started, ended = json.loads(line)
        by_monitor.setdefault(monitor_id, []).append((started, ended))
    for monitor_id in stuck:
        (_, first_end), (second_start, _) = sorted(by_monitor[monitor_id])
        assert first_end <= second_start, "a monitor's checks never ran at once"
