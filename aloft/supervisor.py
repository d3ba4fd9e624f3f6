"""Runs the processes one machine needs as children, and stops them all together.

``aloft up`` hands it the web server (and, with the engine, the scheduler and the check
executor). When any child exits on its own the others are stopped and the supervisor
reports which one failed; Ctrl-C or SIGTERM stops every child gracefully.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Child:
    """A process to run: a name for messages and its command line."""

    name: str
    argv: Sequence[str]


def _die_with_parent() -> None:
    # On Linux, a child is sent SIGTERM if the supervisor itself is killed.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(self, children: Sequence[Child], echo: Callable[[str], None] = print) -> None:
        self.children = list(children)
        self.echo = echo
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._stop_requested = False

    def start(self) -> None:
        for child in self.children:
            self.processes[child.name] = subprocess.Popen(child.argv, preexec_fn=_die_with_parent)

    def failed_child(self) -> tuple[str, int] | None:
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def run(self, ready: Callable[[], bool] | None = None, on_ready: Callable[[], None] | None = None) -> int:
        """Start the children and supervise them until one exits or a stop is asked.

        Returns the exit code for the whole: 0 after a requested stop, 1 when a child died.
        """
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            announced = on_ready is None
            while not self._stop_requested:
                failed = self.failed_child()
                if failed is not None:
                    name, code = failed
                    self.echo(f"Error: {name} exited with code {code}; stopping.")
                    self.stop()
                    return 1
                if not announced and (ready is None or ready()):
                    on_ready()
                    announced = True
                time.sleep(0.2)
            self.echo("Stopping…")
            self.stop()
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _request_stop(self, signum: int, _frame: object) -> None:
        self._stop_requested = True

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0fs; killing it", name, STOP_TIMEOUT_SECONDS)
                process.kill()
                process.wait()


def python_module(module: str, *args: str) -> list[str]:
    """The command line that runs ``python -m module args`` with this interpreter.

    ``-P``: the working directory stays off ``sys.path``, so a folder there named like a module
    (``aloft/``, say) is never imported in its place.
    """
    return [sys.executable, "-P", "-m", module, *args]
