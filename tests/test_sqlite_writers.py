"""SQLite's writers take turns across processes (aloft.engine.statements.SQLiteWriters): a web worker
waiting for another's commit blocks on a lock and is woken by it, instead of polling with sleeps."""

import multiprocessing
import threading

from sqlalchemy import create_engine

from aloft.engine.statements import sqlite_writer


def hold_the_writers_turn(url: str, holding, release) -> None:
    with sqlite_writer(create_engine(url)):
        holding.set()
        release.wait(10)


def test_a_writer_in_another_process_waits_for_the_turn(tmp_path):
    url = f"sqlite:///{tmp_path / 'aloft.db'}"
    context = multiprocessing.get_context("spawn")
    holding, release = context.Event(), context.Event()
    other = context.Process(target=hold_the_writers_turn, args=(url, holding, release))
    other.start()
    try:
        assert holding.wait(30)
        mine = threading.Event()
        turn = sqlite_writer(create_engine(url))

        def take_turn() -> None:
            with turn:
                mine.set()

        taker = threading.Thread(target=take_turn)
        taker.start()
        assert not mine.wait(0.5), "the other process holds the turn"
        release.set()
        assert mine.wait(10), "the turn passes the moment it is let go"
        taker.join(10)
    finally:
        release.set()
        other.join(10)
    assert (tmp_path / "aloft.db-writer").exists()


def test_a_database_in_memory_has_only_the_processs_lock():
    turn = sqlite_writer(create_engine("sqlite://"))
    with turn:
        assert not turn.acquire(blocking=False)
    assert turn.acquire(blocking=False)
    turn.release()
