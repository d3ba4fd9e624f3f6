"""The http check's settings schema: defaults, camelCase, and what it refuses."""

import pytest
from aloft_http import HttpSettings
from marshmallow import ValidationError


def load(**settings):
    return HttpSettings().load(settings)


def errors(**settings):
    with pytest.raises(ValidationError) as caught:
        load(**settings)
    return caught.value.normalized_messages()


def test_empty_settings_get_the_defaults():
    assert load() == {
        "method": "GET",
        "headers": {},
        "expected_status_codes": ["200-399"],
        "keyword_absent": False,
        "follow_redirects": True,
        "verify_tls": True,
    }


def test_settings_dump_back_to_camel_case():
    schema = HttpSettings()
    assert schema.dump(schema.load({"keyword": "ok"})) == {
        "method": "GET",
        "headers": {},
        "expectedStatusCodes": ["200-399"],
        "keyword": "ok",
        "keywordAbsent": False,
        "followRedirects": True,
        "verifyTls": True,
    }


def test_an_unknown_field_is_rejected():
    assert errors(folowRedirects=False) == {"folowRedirects": ["Unknown field."]}


def test_a_snake_case_name_is_an_unknown_field():
    assert "verify_tls" in errors(verify_tls=False)


def test_a_method_outside_the_list_is_rejected():
    assert "method" in errors(method="FETCH")
    assert "method" in errors(method="get")


def test_status_codes_and_ranges_are_accepted():
    assert load(expectedStatusCodes=["204", "300-308"])["expected_status_codes"] == ["204", "300-308"]


def test_a_status_code_may_be_a_number_and_loads_as_text():
    assert load(expectedStatusCodes=[200, 301.0, "400-499"])["expected_status_codes"] == ["200", "301", "400-499"]


@pytest.mark.parametrize(
    "codes", [[], ["2xx"], ["200-"], ["099"], ["600"], ["399-200"], [99], [600], [200.5], [True], ["200\n"], [None]]
)
def test_malformed_status_codes_are_rejected(codes):
    assert "expectedStatusCodes" in errors(expectedStatusCodes=codes)


def test_headers_must_map_strings_to_strings():
    assert "headers" in errors(headers={"X-Retry": 3})


def test_keyword_absent_needs_a_keyword():
    assert errors(keywordAbsent=True) == {"keywordAbsent": ["Set keyword to say which text must be absent."]}


def test_a_header_name_must_be_a_token():
    assert errors(headers={"X Token": "1"}) == {"headers": ["'X Token' is not a valid header name."]}


def test_a_header_value_must_be_one_line_of_latin_1():
    assert errors(headers={"X-Token": "1\r\nX-Evil: 1"}) == {"headers": ["The value of X-Token must be one line."]}
    assert errors(headers={"X-Token": "\u2713"}) == {"headers": ["The value of X-Token must be Latin-1 text."]}
    assert load(headers={"X-Name": "caf\u00e9"})["headers"] == {"X-Name": "caf\u00e9"}
