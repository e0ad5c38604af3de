"""Producer links: how a browser tab streams for one user without ever holding the API key.

Two credentials, each for one step (docs/web-producer.md, "Producer links"):

- A **link code** (``LinkCode``): what the developer hands the phone, in ``/produce#link=CODE``.
  Short-lived (minutes) and single use, so a link seen over a shoulder or left in a chat is
  worthless once the phone has opened it. Single use needs storage: codes are stored like tokens
  (``ports.storage.LinkCodeStore``) and spent when redeemed.
- A **producer session** credential: what redeeming a code gives the page, to mint a producer
  token for that one user on every (re)connect, for hours. It is a signed statement
  (``signed_claims``: developer, user, expiry), like the overlay token: nothing to store or
  replicate across nodes, and since the broker looks the developer up on every mint, revoking the
  developer (or changing its key) ends every session at once.

- A **link minter** credential: what the dashboard page gets at sign-in, beside its dashboard
  token, so that its "Stream a phone" form can mint producer links after the API key is gone
  from the page. A signed statement of the developer and an expiry, with its own key context, so
  it mints links only (never tokens) and nothing else passes for it.

Every wrong, unknown, spent, expired or revoked credential reads alike (``INVALID``): the page can
only ask for a new link, and nobody learns which codes or developers exist.

Pure: no clock, no I/O, no randomness (the caller draws the code).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs

from .errors import CredentialsError
from .signed_claims import seal, unverified_claims, verified

LINK_CODE_BYTES = 16
"""128 random bits: unguessable within a link's minutes, and short enough for a small QR code."""
MAX_LINK_CODE_LENGTH = 64
SESSION_PREFIX = "ps1"
# A key per purpose: a session statement can never pass for an overlay token, nor the reverse.
_CONTEXT = b"wearstream producer session v1"
MAX_SESSION_LENGTH = 1024
INVALID = (
    "this producer link or session is not valid (unknown, already used, expired, or its "
    "developer was revoked): ask for a new producer link"
)


MINTER_PREFIX = "plm1"
_MINTER_CONTEXT = b"wearstream producer-link minter v1"
MINTER_INVALID = (
    "this dashboard's sign-in no longer mints producer links (expired, or its developer was "
    "revoked or given a new key): sign in again"
)


@attrs.frozen
class LinkCode:
    """A stored, single-use producer link for one user of one developer."""

    code: str
    developer_id: str
    user_id: str
    expires_at: datetime

    @classmethod
    def mint(cls, code: str, developer_id: str, user_id: str, now: datetime, ttl: timedelta) -> "LinkCode":
        return cls(code, developer_id, user_id, now + ttl)

    def check(self, now: datetime) -> None:
        """Raise CredentialsError (INVALID) once expired; single use is the store's part."""
        if now >= self.expires_at:
            raise CredentialsError(INVALID)


def check_code_shape(code: object) -> str:
    """A code as the page sent it, or INVALID for what no link could be (no store lookup)."""
    if not isinstance(code, str) or not 0 < len(code) <= MAX_LINK_CODE_LENGTH or not code.isprintable():
        raise CredentialsError(INVALID)
    return code


@attrs.frozen
class SessionClaims:
    developer_id: str
    user_id: str
    expires_at: datetime


def mint_session(claims: SessionClaims, key_hash: str) -> str:
    """The session credential stating ``claims``, signed for the developer's API-key hash."""
    body = {"dev": claims.developer_id, "uid": claims.user_id, "exp": int(claims.expires_at.timestamp())}
    return seal(SESSION_PREFIX, _CONTEXT, key_hash, body)


def read_session_claims(credential: str) -> SessionClaims:
    """The claims a credential states, NOT yet checked (the caller needs the developer id to find
    the key); INVALID for anything that is not a session credential."""
    body = unverified_claims(credential, SESSION_PREFIX, MAX_SESSION_LENGTH)
    if body is None:
        raise CredentialsError(INVALID)
    try:
        expires = datetime.fromtimestamp(int(body["exp"]), timezone.utc)
        return SessionClaims(str(body["dev"]), str(body["uid"]), expires)
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        raise CredentialsError(INVALID) from None


def check_session(credential: str, key_hash: str, now: datetime) -> SessionClaims:
    """The credential's claims if ``key_hash`` signed it and it has not expired; else INVALID.
    Whether the developer is revoked is the caller's to check, as it holds the developer."""
    claims = read_session_claims(credential)
    if not verified(credential, _CONTEXT, key_hash) or now >= claims.expires_at:
        raise CredentialsError(INVALID)
    return claims


def mint_minter(developer_id: str, expires_at: datetime, key_hash: str) -> str:
    """A link minter credential for the developer, signed for its API-key hash."""
    return seal(MINTER_PREFIX, _MINTER_CONTEXT, key_hash, {"dev": developer_id, "exp": int(expires_at.timestamp())})


def minter_developer(credential: str) -> str:
    """The developer id a minter credential names, NOT yet checked; MINTER_INVALID for anything
    that is not one."""
    body = unverified_claims(credential, MINTER_PREFIX, MAX_SESSION_LENGTH)
    if body is None or not isinstance(body.get("dev"), str):
        raise CredentialsError(MINTER_INVALID)
    return str(body["dev"])


def check_minter(credential: str, key_hash: str, now: datetime) -> None:
    """MINTER_INVALID unless ``key_hash`` signed the credential and it has not expired; whether
    the developer is revoked is the caller's to check."""
    body = unverified_claims(credential, MINTER_PREFIX, MAX_SESSION_LENGTH)
    try:
        expires = datetime.fromtimestamp(int(body["exp"]), timezone.utc) if body else None
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        expires = None
    if expires is None or not verified(credential, _MINTER_CONTEXT, key_hash) or now >= expires:
        raise CredentialsError(MINTER_INVALID)
