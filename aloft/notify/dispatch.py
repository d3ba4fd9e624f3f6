"""Who sends a delivery, and when.

* The process that commits a state change (a worker, or the embedded scheduler) hands
  the deliveries it wrote to its own :class:`Sender` threads at once: nothing between the
  outage being confirmed and the message going out but the message itself.
* Every second the scheduler sweeps up deliveries that are due and that nobody holds
  (retries whose wait is over, deliveries written by the API, deliveries whose first
  sender died or could not be reached) and hands them to a sender: its own threads when
  embedded, RQ workers (an RQ job per sweep) when distributed.

A sender claims each delivery before sending it (:mod:`aloft.notify.sending`), so a
delivery handed out twice is still sent once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app, has_app_context

from aloft.notify.sending import deliver

log = logging.getLogger(__name__)

#: Deliveries one process sends at once.
SENDER_THREADS = 8


class Sender:
    """Threads of this process that send deliveries, each in an app context of its own."""

    def __init__(self, app: Flask, threads: int = SENDER_THREADS) -> None:
        self.app = app
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="aloft-sender")
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, delivery_ids: Sequence[str]) -> None:
        with self._lock:
            if self._closed:
                log.warning("%d deliveries handed to a closed sender; the sweeper sends them", len(delivery_ids))
                return
            for delivery_id in delivery_ids:
                self._pool.submit(self._send, delivery_id)

    def _send(self, delivery_id: str) -> None:
        with self.app.app_context():
            try:
                deliver(self.app, delivery_id)
            except Exception:
                # The delivery stays pending (its claim expires): the sweeper hands it out again.
                log.exception("sending delivery %s failed", delivery_id)

    def close(self) -> None:
        """Finish the sends under way (each is bounded by ALOFT_DELIVERY_TIMEOUT), then stop."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True)


_senders: dict[int, Sender] = {}
_senders_lock = threading.Lock()


def sender(app: Flask) -> Sender:
    """This process's sender for ``app``, started on first use."""
    # current_app is a proxy: its threads would have no app to push (and its id is not the app's).
    app = app._get_current_object() if hasattr(app, "_get_current_object") else app
    with _senders_lock:
        if id(app) not in _senders:
            _senders[id(app)] = Sender(app)
        return _senders[id(app)]


def close_sender(app: Flask) -> None:
    with _senders_lock:
        found = _senders.pop(id(app), None)
    if found is not None:
        found.close()


def send_deliveries(delivery_ids: list[str]) -> int:
    """The RQ job the sweeper enqueues: hand the deliveries to this worker's sender; returns how many."""
    if has_app_context():
        sender(current_app._get_current_object()).submit(delivery_ids)  # type: ignore[attr-defined]
    else:
        from aloft.engine.jobs import process_app

        sender(process_app()).submit(delivery_ids)
    return len(delivery_ids)
