"""Overlay tokens (domain/overlay_token.py): signed for one developer and one user, expiring."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from wearstream.domain.errors import CredentialsError
from wearstream.domain.identity import hash_api_key
from wearstream.domain.overlay_token import (
    INVALID,
    OverlayClaims,
    check_overlay_token,
    mint_overlay_token,
    read_overlay_claims,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
KEY_HASH = hash_api_key("the-api-key")
CLAIMS = OverlayClaims("dev_1", "alice", NOW + timedelta(days=30))


def token(claims: OverlayClaims = CLAIMS, key_hash: str = KEY_HASH) -> str:
    return mint_overlay_token(claims, key_hash)


def test_a_token_checks_for_its_user_until_it_expires() -> None:
    assert check_overlay_token(token(), KEY_HASH, "alice", NOW) == CLAIMS
    assert check_overlay_token(token(), KEY_HASH, "alice", CLAIMS.expires_at - timedelta(seconds=1))


def test_an_expired_token_says_when_and_what_to_do() -> None:
    with pytest.raises(CredentialsError) as error:
        check_overlay_token(token(), KEY_HASH, "alice", CLAIMS.expires_at)
    assert "expired on 2027-01-05 12:00 UTC" in error.value.reason
    assert "wearstream overlay-url" in error.value.reason
    assert not error.value.malformed  # 403: the URL is wrong, not the request


def test_a_token_reveals_only_its_own_user() -> None:
    with pytest.raises(CredentialsError, match="for another user, not 'bob'"):
        check_overlay_token(token(), KEY_HASH, "bob", NOW)


def test_a_new_api_key_or_another_developer_invalidates_it() -> None:
    with pytest.raises(CredentialsError) as error:
        check_overlay_token(token(), hash_api_key("a-new-key"), "alice", NOW)
    assert error.value.reason == INVALID


def test_tampered_claims_are_refused() -> None:
    forged = mint_overlay_token(OverlayClaims("dev_1", "bob", CLAIMS.expires_at), hash_api_key("guess"))
    prefix, _, signature = token().rpartition(".")
    swapped = f"{forged.rsplit('.', 1)[0]}.{signature}"  # bob's claims under alice's signature
    for bad in (forged, swapped, prefix + ".", token()[:-2]):
        with pytest.raises(CredentialsError) as error:
            check_overlay_token(bad, KEY_HASH, "bob" if bad in (forged, swapped) else "alice", NOW)
        assert error.value.reason == INVALID


@pytest.mark.parametrize(
    "garbage", ["", "ov1", "ov1..", "ov2.e30.x", "ov1.!!!.x", "ov1.e30.x", "ov1." + "A" * 2000 + ".x", "a.b.c.d"]
)
def test_anything_else_is_one_clear_refusal(garbage: str) -> None:
    with pytest.raises(CredentialsError) as error:
        read_overlay_claims(garbage)
    assert error.value.reason == INVALID


def test_the_api_key_itself_is_not_in_the_token() -> None:
    assert "the-api-key" not in token() and KEY_HASH not in token()
