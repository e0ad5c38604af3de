"""WebSocket close codes of the streaming protocol: what each means and what a client does next.

One table for the broker (which closes with these codes) and for both clients (the producer and
the consumer read a close through ``close_rule``), so that a code cannot mean one thing to one
side and another to the other. To add a code, add one member, one line:

    NAME = code, Advice.X, "what it means", "what the user should do"

``docs/protocol.md`` shows the same table to users.
"""

from __future__ import annotations

import enum

import attrs


class Advice(enum.Enum):
    """What a client does after a failure (a close, a refused handshake, a failed token mint)."""

    RETRY = "retry"  # reconnect after a backoff delay
    REMINT = "re-mint"  # reconnect after a backoff delay with a freshly minted token
    STOP = "stop"  # reconnecting cannot help: stop and say what to fix


class CloseCode(enum.IntEnum):
    advice: Advice
    meaning: str
    todo: str

    def __new__(cls, code: int, advice: Advice, meaning: str, todo: str) -> "CloseCode":
        member = int.__new__(cls, code)
        member._value_ = code
        member.advice = advice
        member.meaning = meaning
        member.todo = todo
        return member

    # A broker never closes a live client with 1000 on its own: a client that sees it still has
    # data to move, so it reconnects.
    NORMAL = 1000, Advice.RETRY, "normal close", "reconnect"
    GOING_AWAY = 1001, Advice.RETRY, "the server is going away (shutdown)", "reconnect with backoff"
    PROTOCOL_ERROR = (  # a frame that breaks RFC 6455 (unmasked, reserved bits, bad close code)
        1002, Advice.STOP, "a frame that breaks the WebSocket protocol (RFC 6455)",
        "a bug in the client's WebSocket library or code: please report it",
    )
    MALFORMED_FRAME = (
        1003, Advice.STOP, "a malformed frame (not JSON, wrong shape)",
        "a bug in the client: please report it",
    )
    INVALID_DATA = (  # a text message (or close reason) that is not valid UTF-8
        1007, Advice.STOP, "a text message that is not valid UTF-8",
        "a bug in the client: please report it",
    )
    # Sent by the WebSocket library, on either side, for a message over its size limit; the same
    # message would be sent (or replayed) again after a reconnect.
    MESSAGE_TOO_BIG = (
        1009, Advice.STOP, "a message larger than the other side accepts",
        "a bug in the client: please report it",
    )
    INTERNAL_ERROR = 1011, Advice.RETRY, "server internal error", "reconnect with backoff"
    TRY_AGAIN_LATER = (  # RFC 6455's registry: storage cannot take submissions now
        1013, Advice.RETRY, "the broker's storage cannot take submissions now",
        "reconnect with backoff",
    )
    IDENTIFY_TIMEOUT = (
        4000, Advice.STOP, "no IDENTIFY within the time limit", "a bug in the client: please report it"
    )
    INVALID_TOKEN = (
        4001, Advice.REMINT, "bad, expired or already-used token", "mint a fresh token, reconnect"
    )
    CONSUMER_CAP = (
        4002, Advice.STOP, "another consumer is connected: the developer's consumer cap is reached",
        "stop the other consumer of this developer, or start the broker with a higher "
        "--max-consumers",
    )
    ALREADY_IDENTIFIED = (
        4003, Advice.STOP, "a second IDENTIFY on one connection",
        "a bug in the client: please report it",
    )
    INVALID_OPCODE = (
        4004, Advice.STOP, "an opcode unknown or not valid for this role",
        "a bug in the client: please report it",
    )
    HEARTBEAT_TIMEOUT = (
        4005, Advice.RETRY, "no heartbeat within the interval window", "reconnect with backoff"
    )
    SLOW_CONSUMER = (  # ours: a consumer or dashboard whose socket took no frames for --send-timeout s
        4006, Advice.RETRY, "the consumer took no frames for too long",
        "reconnect and resume (REPLAY from the last stored seq); a sink this slow may need a look",
    )
    TOO_MANY_REPLAYS = (  # ours: more distinct REPLAY ranges waiting than --max-pending-replays
        4007, Advice.STOP, "too many REPLAY requests waiting", "a bug in the client: please report it"
    )
    DEVELOPER_REVOKED = (  # `wearstream developers revoke`
        4009, Advice.STOP, "the session's developer was revoked",
        "ask the broker's operator for a new developer id and API key",
    )

    @property
    def client_should_retry(self) -> bool:
        """Whether a well-behaved client reconnects (with backoff) after this close."""
        return self.advice is not Advice.STOP

    @property
    def needs_fresh_token(self) -> bool:
        return self.advice is Advice.REMINT


@attrs.frozen
class CloseRule:
    """What a close means to a client: one row of the table, or the rule for codes outside it."""

    code: int | None
    advice: Advice
    meaning: str
    todo: str


# Codes outside the table (1006 for a connection dropped without a close frame, a proxy's 1012
# "service restart", another server's 4xxx) say nothing about this client: it reconnects.
_UNKNOWN = (Advice.RETRY, "reconnect with backoff")


def close_rule(code: int | None) -> CloseRule:
    """The table's row for ``code``; None (the socket broke) and unknown codes are retried."""
    try:
        known = CloseCode(code) if code is not None else None
    except ValueError:
        known = None
    if known is None:
        meaning = "connection lost" if code is None else f"close code {code}"
        return CloseRule(code, _UNKNOWN[0], meaning, _UNKNOWN[1])
    return CloseRule(int(known), known.advice, known.meaning, known.todo)
