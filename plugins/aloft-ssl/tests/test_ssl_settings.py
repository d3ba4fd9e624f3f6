"""The ssl check's settings schema: its default, camelCase, and what it refuses."""

import pytest
from aloft_ssl import SslSettings
from marshmallow import ValidationError


def errors(**settings):
    with pytest.raises(ValidationError) as caught:
        SslSettings().load(settings)
    return caught.value.normalized_messages()


def test_empty_settings_get_a_threshold_of_fourteen_days():
    assert SslSettings().load({}) == {"expiry_threshold_days": 14}


def test_settings_dump_back_to_camel_case():
    schema = SslSettings()
    assert schema.dump(schema.load({"expiryThresholdDays": 30})) == {"expiryThresholdDays": 30}


@pytest.mark.parametrize("days", [0, 365])
def test_thresholds_from_zero_to_a_year_are_accepted(days):
    assert SslSettings().load({"expiryThresholdDays": days}) == {"expiry_threshold_days": days}


@pytest.mark.parametrize("days", [-1, 366, "14", 1.5, True, None])
def test_other_thresholds_are_rejected(days):
    assert "expiryThresholdDays" in errors(expiryThresholdDays=days)


def test_an_unknown_field_is_rejected():
    assert errors(expiryDays=7) == {"expiryDays": ["Unknown field."]}
