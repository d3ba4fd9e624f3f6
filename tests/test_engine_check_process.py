"""One check guarded against its plugin: a crash or a bad result fails that check alone."""

import dataclasses
import json
import math

from aloft.checks import CheckResult, CheckTarget, CheckType
from aloft.engine.check_process import _fields, run_check

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
