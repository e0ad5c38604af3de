"""Errors of the BLE adapter."""

from __future__ import annotations

from ...domain.errors import DomainError


class DecodeError(DomainError):
    """A characteristic value that is truncated or malformed.

    It names the characteristic and the byte offset where decoding failed, so a log line is
    enough to find the device firmware's mistake; the session skips the value and carries on.
    """

    def __init__(self, characteristic: str, offset: int, reason: str) -> None:
        super().__init__(f"{characteristic}: {reason} at offset {offset}")
        self.characteristic = characteristic
        self.offset = offset
        self.reason = reason
