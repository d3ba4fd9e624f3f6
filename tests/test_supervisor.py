import os
import signal
import sys
import threading
import time

from aloft.supervisor import Child, Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_child_that_dies_stops_the_others_and_fails_the_whole(tmp_path):
    messages: list[str] = []
    supervisor = Supervisor(
        [Child("sleeper", SLEEPER), Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"])],
        echo=messages.append,
    )
    assert supervisor.run() == 1
    assert messages == ["Error: crasher exited with code 3; stopping."]
    assert supervisor.processes["sleeper"].poll() is not None


def test_a_stop_signal_stops_every_child_cleanly():
    supervisor = Supervisor([Child("one", SLEEPER), Child("two", SLEEPER)], echo=lambda _: None)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    assert supervisor.run() == 0
    assert time.monotonic() - started < 10
    assert all(process.poll() is not None for process in supervisor.processes.values())


def test_readiness_is_announced_once():
    announced: list[str] = []
    supervisor = Supervisor([Child("one", SLEEPER)], echo=lambda _: None)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    assert supervisor.run(ready=lambda: True, on_ready=lambda: announced.append("up")) == 0
    assert announced == ["up"]
