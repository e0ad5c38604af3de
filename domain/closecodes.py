"""WebSocket close codes of the streaming protocol (see docs/protocol.md)."""

from __future__ import annotations

import enum


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    MALFORMED_FRAME = 1003
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013  # RFC 6455's registry: storage cannot take submissions now
    IDENTIFY_TIMEOUT = 4000
    INVALID_TOKEN = 4001
    CONSUMER_CAP = 4002
    ALREADY_IDENTIFIED = 4003
    INVALID_OPCODE = 4004
    HEARTBEAT_TIMEOUT = 4005
    # ours: a consumer or dashboard whose socket took no frames for --send-timeout seconds
    SLOW_CONSUMER = 4006
    # ours: more distinct REPLAY ranges waiting than --max-pending-replays
    TOO_MANY_REPLAYS = 4007
    DEVELOPER_REVOKED = 4009  # the session's developer was revoked (`wearstream developers revoke`)

    @property
    def client_should_retry(self) -> bool:
        """Whether a well-behaved client reconnects (with backoff) after this close."""
        return self in _RETRY

    @property
    def needs_fresh_token(self) -> bool:
        return self is CloseCode.INVALID_TOKEN


_RETRY = {
    CloseCode.GOING_AWAY,
    CloseCode.INTERNAL_ERROR,
    CloseCode.TRY_AGAIN_LATER,
    CloseCode.INVALID_TOKEN,
    CloseCode.HEARTBEAT_TIMEOUT,
    CloseCode.SLOW_CONSUMER,
}
