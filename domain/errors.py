"""Domain errors. Protocol errors carry the close code the protocol prescribes for them, so that
every adapter maps the same mistake to the same close code without a table of its own."""

from __future__ import annotations

from .closecodes import CloseCode


class DomainError(Exception):
    """Base of every error the domain raises."""


class ProtocolError(DomainError):
    """A client broke a protocol rule; the connection is closed with ``code`` and ``reason``."""

    code: CloseCode = CloseCode.MALFORMED_FRAME

    def __init__(self, reason: str, code: CloseCode | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code


class MalformedFrame(ProtocolError):
    """Not JSON, not an object, or a field of the wrong type or shape (close 1003)."""

    code = CloseCode.MALFORMED_FRAME


class InvalidReading(MalformedFrame):
    """A reading whose fields break the rules of its data type, or that no store could write
    back: the broker drops the SUBMIT without closing."""


class UnknownOpcode(ProtocolError):
    """An opcode the protocol does not define, or one not valid for this role (close 4004)."""

    code = CloseCode.INVALID_OPCODE


class TokenError(DomainError):
    """A token that is unknown, expired, already used or of the wrong kind (close 4001)."""


class CredentialsError(DomainError):
    """Missing, malformed or wrong developer credentials (HTTP 400/403)."""

    def __init__(self, reason: str, *, malformed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.malformed = malformed


class ReplayRangeError(MalformedFrame):
    """REPLAY bounds that are missing, not integers, or out of range: the REPLAY is dropped
    without closing (Terra replays nothing without ``before``); a reversed range is not an
    error: it covers nothing."""


class DeviceUnavailable(DomainError):
    """A device that cannot be reached or has gone for good; the other devices carry on."""


class SpecError(DomainError):
    """A device or sink spec that cannot be parsed (unknown prefix, bad option)."""


class TokenUnavailable(DomainError):
    """No token could be had right now (API down, command failed): retry with backoff."""


class ConsumerStopped(DomainError):
    """A consumer link gave up for good: reconnecting cannot help (a wrong URL, credentials
    refused, 4002, a client bug); ``reason`` is the one line saying why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
