"""Developers, tokens and user ids."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.domain.errors import CredentialsError, TokenError
from wearstream.domain.identity import Developer, Role, Token, hash_api_key, validate_user_id

T0 = datetime(2024, 5, 4, 10, 0, tzinfo=timezone.utc)
ttls = st.integers(min_value=1, max_value=10**6).map(lambda s: timedelta(seconds=s))
offsets = st.integers(min_value=-(10**6), max_value=10**6).map(lambda ms: timedelta(milliseconds=ms))


def test_roles_are_the_identify_types() -> None:
    assert Role(0) is Role.PRODUCER and Role(1) is Role.CONSUMER


@given(ttl=ttls, elapsed=offsets, role=st.sampled_from(Role))
def test_a_token_is_good_only_before_it_expires(ttl: timedelta, elapsed: timedelta, role: Role) -> None:
    token = Token.mint("tok", role, "dev", "user", T0, ttl)
    assert token.expires_at == T0 + ttl
    now = T0 + elapsed
    if elapsed < ttl:
        token.check(role, now)
    else:
        with pytest.raises(TokenError, match="expired"):
            token.check(role, now)


@given(ttl=ttls, role=st.sampled_from(Role))
def test_a_token_identifies_only_its_own_role(ttl: timedelta, role: Role) -> None:
    token = Token.mint("tok", role, "dev", "user", T0, ttl)
    other = Role.CONSUMER if role is Role.PRODUCER else Role.PRODUCER
    with pytest.raises(TokenError, match=f"type {int(role)}"):
        token.check(other, T0)


def test_the_expiry_instant_itself_is_expired() -> None:
    token = Token.mint("tok", Role.CONSUMER, "dev", None, T0, timedelta(seconds=300))
    token.check(Role.CONSUMER, T0 + timedelta(seconds=300) - timedelta(microseconds=1))
    with pytest.raises(TokenError):
        token.check(Role.CONSUMER, T0 + timedelta(seconds=300))


def test_a_producer_token_binds_a_user_and_a_consumer_token_does_not() -> None:
    p = Token.mint("a", Role.PRODUCER, "dev", "alice", T0, timedelta(minutes=5))
    c = Token.mint("b", Role.CONSUMER, "dev", "alice", T0, timedelta(minutes=5))
    assert (p.developer_id, p.user_id) == ("dev", "alice")
    assert (c.developer_id, c.user_id) == ("dev", None)


@pytest.mark.parametrize("user", [None, ""])
def test_a_producer_token_needs_a_user(user: str | None) -> None:
    with pytest.raises(CredentialsError) as info:
        Token.mint("a", Role.PRODUCER, "dev", user, T0, timedelta(minutes=5))
    assert info.value.malformed


@given(key=st.text(min_size=1, max_size=64), other=st.text(min_size=1, max_size=64))
def test_developer_checks_its_key(key: str, other: str) -> None:
    dev = Developer("d1", "acme", hash_api_key(key), T0)
    dev.check_key(key)
    if other != key:
        with pytest.raises(CredentialsError, match="wrong"):
            dev.check_key(other)


def test_a_revoked_developer_is_refused_even_with_the_right_key() -> None:
    dev = Developer("d1", "acme", hash_api_key("k"), T0, revoked=True)
    with pytest.raises(CredentialsError, match="revoked"):
        dev.check_key("k")


def test_the_key_hash_is_not_the_key() -> None:
    assert hash_api_key("secret") != "secret"
    assert hash_api_key("secret") == hash_api_key("secret")
    assert len(hash_api_key("secret")) == 64


@pytest.mark.parametrize("user", ["alice", "a", "x" * 128, "user 42", "ünï"])
def test_good_user_ids(user: str) -> None:
    assert validate_user_id(user) == user


@pytest.mark.parametrize("user", ["", "x" * 129, None, 42, "a\nb", "tab\there"])
def test_bad_user_ids(user: object) -> None:
    with pytest.raises(CredentialsError) as info:
        validate_user_id(user)
    assert info.value.malformed
