"""The data dir's rate-limit file: processes racing for the last places in one window never overrun it."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from aloft.api.ratelimit_storage import LocalStorage

LIMIT = 1000
ATTEMPTS = 600


def take_places(
    path: str, ready: multiprocessing.Queue, start: multiprocessing.Event, taken: multiprocessing.Queue
) -> None:
    storage = LocalStorage(f"aloft-local://{path}")
    storage.check()  # opened, so that the race starts with the first attempt
    ready.put(True)
    start.wait()
    taken.put(sum(storage.acquire_entry("aloft/key:racer", LIMIT, 60) for _ in range(ATTEMPTS)))


def test_four_processes_racing_for_one_window_get_exactly_its_places(tmp_path: Path):
    path = str(tmp_path / "ratelimits.db")
    context = multiprocessing.get_context("spawn")
    ready, start, taken = context.Queue(), context.Event(), context.Queue()
    racers = [context.Process(target=take_places, args=(path, ready, start, taken)) for _ in range(4)]
    for racer in racers:
        racer.start()
    for _ in racers:
        ready.get(timeout=120)
    start.set()
    counts = [taken.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(timeout=30)
    assert sum(counts) == LIMIT, counts
    assert LocalStorage(f"aloft-local://{path}").get_moving_window("aloft/key:racer", LIMIT, 60)[1] == LIMIT
