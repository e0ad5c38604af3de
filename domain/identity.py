"""Developers, users and tokens as pure values and rules.

API keys are random and high-entropy, so a SHA-256 digest is enough to store them safely; a slow
password hash would only slow every token mint. Randomness comes from the caller (an adapter).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import attrs

from .errors import CredentialsError, TokenError


class Role(enum.IntEnum):
    """The IDENTIFY ``type``: 0 = user (producer), 1 = developer (consumer).

    2 = dashboard is our extension (docs/protocol.md): a read-only view of a developer's stream
    that only a dashboard token opens, so a plain Terra client never meets it.
    """

    PRODUCER = 0
    CONSUMER = 1
    DASHBOARD = 2

    @property
    def session_name(self) -> str:
        """How a close reason names a session of this role."""
        return _SESSION_NAMES[self]


_SESSION_NAMES = {
    Role.PRODUCER: "user (type 0)",
    Role.CONSUMER: "developer (type 1)",
    Role.DASHBOARD: "dashboard (type 2)",
}


def cli_safe_secret(nbytes: int) -> str:
    """``nbytes`` random bytes, URL-safe base64, never starting with "-": a secret a user pastes
    after an option (``--api-key KEY``, ``--token TOKEN``) would otherwise, 1 time in 64, be
    read by the command line as an unknown option instead of the value."""
    while (secret := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return secret


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@attrs.frozen
class Developer:
    id: str
    name: str
    key_hash: str
    created_at: datetime
    revoked: bool = False

    def check_key(self, api_key: str) -> None:
        """Raise CredentialsError unless ``api_key`` is this developer's live key."""
        if self.revoked:
            raise CredentialsError(f"developer {self.id} is revoked")
        if not hmac.compare_digest(self.key_hash, hash_api_key(api_key)):
            raise CredentialsError("wrong API key for this developer")


@attrs.frozen
class Token:
    """A single-use, short-lived token. A producer token binds a user; a consumer or dashboard
    token, a developer."""

    value: str
    role: Role
    developer_id: str
    user_id: str | None
    expires_at: datetime

    @classmethod
    def mint(
        cls,
        value: str,
        role: Role,
        developer_id: str,
        user_id: str | None,
        now: datetime,
        ttl: timedelta,
    ) -> "Token":
        if role is Role.PRODUCER and not user_id:
            raise CredentialsError("a producer token needs a user id", malformed=True)
        return cls(value, role, developer_id, user_id if role is Role.PRODUCER else None, now + ttl)

    def check(self, role: Role, now: datetime) -> None:
        """Raise TokenError unless this token may IDENTIFY as ``role`` at ``now``.

        Single use is the token store's part: it deletes the token as it hands it out.
        """
        if now >= self.expires_at:
            raise TokenError("token expired")
        if role is not self.role:
            raise TokenError(f"token is for a {self.role.session_name} session")


def validate_user_id(user_id: object) -> str:
    if not isinstance(user_id, str) or not 0 < len(user_id) <= 128 or not user_id.isprintable():
        raise CredentialsError("user id must be 1-128 printable characters", malformed=True)
    return user_id
