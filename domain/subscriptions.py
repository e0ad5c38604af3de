"""Subscriptions: which users and data types a consumer wants."""

from __future__ import annotations

import attrs

from .datatypes import resolve


def _frozen(values: object) -> frozenset[str] | None:
    if values is None:
        return None
    result = frozenset(values)  # type: ignore[arg-type]
    return result or None


@attrs.frozen
class Subscription:
    """Empty or None filters match everything. A type filter matches its label exactly, and
    also any label of the same known data type (``HEART_RATE`` matches ``RUNNING_HEART_RATE``)."""

    users: frozenset[str] | None = attrs.field(default=None, converter=_frozen)
    types: frozenset[str] | None = attrs.field(default=None, converter=_frozen)

    def matches(self, uid: str, t: str) -> bool:
        if self.users is not None and uid not in self.users:
            return False
        if self.types is None or t in self.types:
            return True
        known = resolve(t)
        return known is not None and any(resolve(x) is known for x in self.types)
