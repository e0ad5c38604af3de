"""`--retention`: what the operator writes, and the Retention value every backend trims by."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wearstream.entrypoints.state import check_backend, parse_retention
from wearstream.ports.storage import Retention


@pytest.mark.parametrize(
    "text, age, length",
    [
        ("7d", timedelta(days=7), None),
        ("12h", timedelta(hours=12), None),
        ("30m", timedelta(minutes=30), None),
        ("45s", timedelta(seconds=45), None),
        ("2w", timedelta(weeks=2), None),
        ("1000000", None, 1_000_000),
        ("7d,1000000", timedelta(days=7), 1_000_000),
        ("1000, 12H", timedelta(hours=12), 1000),
    ],
)
def test_ages_lengths_and_both_are_understood(text: str, age: timedelta | None, length: int | None) -> None:
    assert parse_retention(text) == Retention(age, length)


@pytest.mark.parametrize("text", ["", "0", "-5", "0d", "7x", "7 d", "7d,8d", "5,6", "1.5d", "7d,"])
def test_anything_else_is_refused_with_the_expected_forms(text: str) -> None:
    with pytest.raises(ValueError, match="retention"):
        parse_retention(text)


def test_no_limit_is_unlimited() -> None:
    assert Retention().unlimited and not Retention(max_length=1).unlimited


@pytest.mark.parametrize("url", ["redis://h:6379/0", "rediss://h/1", "unix:///run/redis.sock"])
def test_redis_urls_are_backends(url: str) -> None:
    assert check_backend(url) == url


@pytest.mark.parametrize("url", ["", "h:6379", "http://h", "sqlite:///x.db"])
def test_other_backends_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="Redis URL"):
        check_backend(url)
