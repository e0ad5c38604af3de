"""Errors of the ANT+ adapter."""

from __future__ import annotations


class DecodeError(ValueError):
    """A broadcast data page that breaks its ANT+ device profile.

    The message names the profile and the byte, so that a log line is enough to tell a broken
    sensor (or a bug here) from radio noise. Sessions skip such pages and keep listening.
    """

    def __init__(self, profile: str, byte: int | None, reason: str) -> None:
        where = f"byte {byte}" if byte is not None else "page"
        super().__init__(f"{profile}: {where}: {reason}")
        self.profile = profile
        self.byte = byte
        self.reason = reason


class StickUnavailable(Exception):
    """No ANT USB stick could be opened (none plugged in, no permission, path missing)."""
