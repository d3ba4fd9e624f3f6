"""One check guarded against its plugin: a crash or a bad result fails that check alone."""

import dataclasses
import json
import math
import multiprocessing

from sqlalchemy import select

from aloft.checks import CheckResult, CheckTarget, CheckType
from aloft.engine.check_process import _child_main, _fields, run_check
from aloft.engine.scheduler import now_ms
from aloft.engine.state import record_many
from aloft.extensions import db
from aloft.models import CheckResult as StoredResult

MONITOR = CheckTarget(
    id="m1", name="site", type="odd", url="http://x", timeout_seconds=10, interval_seconds=60, settings={}
)


def check_type_returning(value):
    class Odd(CheckType):
        name = "odd"

        def run(self, monitor):
            if isinstance(value, Exception):
                raise value
            return value

    return Odd


def test_a_plugin_that_raises_fails_its_check_with_a_cause_that_says_so(caplog):
    result = run_check(check_type_returning(KeyError("boom")), MONITOR)
    assert (result.ok, result.cause) == (False, "Internal check error: KeyError")
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert "check type 'odd' raised on monitor m1" in caplog.text


def test_a_plugin_that_returns_no_check_result_fails_its_check():
    result = run_check(check_type_returning({"ok": True}), MONITOR)
    assert (result.ok, result.cause) == (False, "Internal check error: the check type returned no CheckResult")


def test_a_latency_that_is_not_a_finite_number_is_dropped():
    for latency in (math.nan, math.inf, "12"):
        assert run_check(check_type_returning(CheckResult(True, latency)), MONITOR).latency_ms is None
    assert run_check(check_type_returning(CheckResult(True, 12.5)), MONITOR).latency_ms == 12.5


def test_details_that_are_not_json_are_replaced_so_the_batch_can_be_stored(caplog):
    result = run_check(check_type_returning(CheckResult(True, 1.0, details={"at": object()})), MONITOR)
    assert result.ok and result.details == {"error": "the check type returned details that are not JSON"}
    assert json.dumps(result.details)
    kept = run_check(check_type_returning(CheckResult(True, 1.0, details={"statusCode": 200})), MONITOR)
    assert kept.details == {"statusCode": 200}


def test_a_monitor_whose_type_is_not_installed_is_not_checked():
    assert run_check(None, MONITOR) is None


def test_a_result_crosses_to_the_parent_whole():
    result = CheckResult(ok=False, latency_ms=12.5, cause="HTTP 503", details={"statusCode": 503})
    sent = _fields(result)
    assert len(sent) == len(dataclasses.fields(CheckResult)), "a field CheckResult gained must be sent too"
    assert CheckResult(*sent) == result


def test_text_neither_database_stores_is_replaced_so_the_batch_can_be_stored(app, make_monitor):
    # A peer's words in a cause or details may hold NUL or a lone surrogate: PostgreSQL refuses the
    # first, no database encodes the second, and the whole batch of results would be lost.
    odd = CheckResult(False, 3.0, "Banner: ok\x00\ud800", details={"banner": "a\x00b", "lines": ["\udfff"], "n": 1})
    result = run_check(check_type_returning(odd), MONITOR)
    assert result.cause == "Banner: ok\ufffd\ufffd"
    assert result.details == {"banner": "a\ufffdb", "lines": ["\ufffd"], "n": 1}
    monitor = make_monitor("http", url="https://example.com")
    record_many(db.session, [(monitor["id"], now_ms(), result)])
    db.session.commit()
    stored = db.session.scalars(select(StoredResult).where(StoredResult.monitor_id == monitor["id"])).one()
    assert (stored.cause, stored.details) == (result.cause, result.details)


def test_text_both_databases_store_is_kept_as_it_is():
    fine = CheckResult(False, 3.0, 'Keyword "é😀" not found', details={"statusCode": 200, "body": "ü 😀 \\u0000"})
    assert run_check(check_type_returning(fine), MONITOR) == fine


def test_a_check_process_whose_parent_left_before_it_was_ready_exits():
    # A worker or scheduler stopped while its check process was still starting: the process must not
    # linger, holding its parent's output open (it did, with a thread waiting for checks that never come).
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_child_main, args=(theirs, 2, [], "private-ok", "INFO"), daemon=False)
    process.start()
    theirs.close()
    ours.close()
    process.join(60)
    alive = process.is_alive()
    if alive:
        process.kill()
    assert not alive, "the check process outlived its parent's connection"
