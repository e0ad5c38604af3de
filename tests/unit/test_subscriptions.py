"""Subscription filters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wearstream.domain.subscriptions import Subscription

names = st.text(alphabet="abcXYZ_019", min_size=1, max_size=8)


@given(uid=names, t=names)
def test_no_filter_matches_everything(uid: str, t: str) -> None:
    assert Subscription().matches(uid, t)
    assert Subscription(users=[], types=set()).matches(uid, t)


@given(users=st.sets(names, min_size=1, max_size=4), uid=names)
def test_user_filter(users: set[str], uid: str) -> None:
    assert Subscription(users=users).matches(uid, "HEART_RATE") is (uid in users)


def test_type_filter_matches_exact_labels_and_the_same_known_type() -> None:
    sub = Subscription(types=["HEART_RATE", "FOO"])
    assert sub.matches("u", "HEART_RATE")
    assert sub.matches("u", "RUNNING_HEART_RATE")
    assert sub.matches("u", "FOO")
    assert not sub.matches("u", "RUNNING_FOO")  # unknown labels match exactly only
    assert not sub.matches("u", "STEPS")
    assert not sub.matches("u", "RR_INTERVAL")


def test_a_prefixed_filter_matches_the_plain_type() -> None:
    assert Subscription(types={"CYCLING_POWER"}).matches("u", "POWER")


def test_both_filters_must_match() -> None:
    sub = Subscription(users={"alice"}, types={"STEPS"})
    assert sub.matches("alice", "STEPS")
    assert not sub.matches("bob", "STEPS")
    assert not sub.matches("alice", "HEART_RATE")
