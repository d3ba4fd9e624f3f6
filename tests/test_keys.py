import pytest

from aloft.keys import (
    BASE62,
    SCOPES,
    InvalidScope,
    generate_token,
    hash_token,
    looks_like_token,
    validate_scopes,
)


def test_tokens_are_ur_and_24_base62_characters():
    tokens = {generate_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert token.startswith("ur_") and len(token) == 27
        assert set(token[3:]) <= set(BASE62)
        assert looks_like_token(token)


@pytest.mark.parametrize("value", ["", "ur_", "ur_short", "xx_" + "a" * 24, "ur_" + "a" * 23 + "-", "ur_" + "a" * 25])
def test_malformed_tokens_are_recognised(value):
    assert not looks_like_token(value)


def test_the_hash_is_keyed_with_the_server_secret():
    token = generate_token()
    assert hash_token("secret-one-000000", token) != hash_token("secret-two-000000", token)
    assert hash_token("secret-one-000000", token) == hash_token("secret-one-000000", token)
    assert token not in hash_token("secret-one-000000", token)


def test_scopes_are_deduplicated_in_canonical_order():
    assert validate_scopes(["monitors:write", "monitors:read", "monitors:write"]) == ["monitors:read", "monitors:write"]
    assert validate_scopes(None) is None
    assert validate_scopes(list(SCOPES)) == list(SCOPES)


def test_unknown_and_reserved_scopes_are_refused():
    with pytest.raises(InvalidScope, match="Unknown scope 'monitors:admin'"):
        validate_scopes(["monitors:admin"])
    with pytest.raises(InvalidScope, match="reserved"):
        validate_scopes(["status-pages:write"])
