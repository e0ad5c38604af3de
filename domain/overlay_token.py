"""Overlay tokens: read-only, reusable links to ONE user's live value (the OBS overlay).

An overlay URL sits in a streamer's OBS scene for weeks and is fetched again on every scene
switch, so its token cannot be the single-use, minutes-long kind the broker stores for producers
and consumers. It is a signed statement instead: ``ov1.<claims>.<signature>``, the claims being
the developer id, the user id and the expiry (Unix seconds), HMAC-SHA256-signed with a key
derived from the developer's stored API-key hash.

Why signed rather than stored: nothing new to store, replicate or clean up (it works the same on
memory, SQLite and Redis backends, on every node), and checking one costs a developer lookup the
broker does anyway. Revocation follows from the key: it stops working at its expiry, when the
developer is revoked, and when the developer's API key changes; there is no revoking one overlay
link alone, which is why links expire (30 days unless asked otherwise).

Pure: no clock, no I/O; the caller passes ``now`` and the developer's key hash.
"""

from __future__ import annotations

from datetime import datetime, timezone

import attrs

from .errors import CredentialsError
from .signed_claims import seal, unverified_claims, verified

PREFIX = "ov1"
# A key per purpose: the same stored hash must never sign anything but overlay claims.
_CONTEXT = b"wearstream overlay token v1"
MAX_TOKEN_LENGTH = 1024
HOW_TO_RENEW = "mint a new overlay URL with `wearstream overlay-url USER`"
INVALID = f"this overlay token is not valid (wrong, or its developer was revoked): {HOW_TO_RENEW}"


@attrs.frozen
class OverlayClaims:
    developer_id: str
    user_id: str
    expires_at: datetime


def mint_overlay_token(claims: OverlayClaims, key_hash: str) -> str:
    """The token stating ``claims``, signed for the developer whose API-key hash is ``key_hash``."""
    body = {
        "dev": claims.developer_id,
        "uid": claims.user_id,
        "exp": int(claims.expires_at.timestamp()),
    }
    return seal(PREFIX, _CONTEXT, key_hash, body)


def read_overlay_claims(token: str) -> OverlayClaims:
    """The claims a token states, NOT yet checked (the caller needs the developer id to find the
    key); a CredentialsError (403) for anything that is not an overlay token."""
    body = unverified_claims(token, PREFIX, MAX_TOKEN_LENGTH)
    if body is None:
        raise CredentialsError(INVALID)
    try:
        claims = OverlayClaims(
            str(body["dev"]), str(body["uid"]), datetime.fromtimestamp(int(body["exp"]), timezone.utc)
        )
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        raise CredentialsError(INVALID) from None
    return claims


def check_overlay_token(token: str, key_hash: str, user_id: str, now: datetime) -> OverlayClaims:
    """The token's claims if its signature matches ``key_hash``, it names ``user_id`` and it has
    not expired; else a CredentialsError whose reason a streamer can act on."""
    claims = read_overlay_claims(token)
    if not verified(token, _CONTEXT, key_hash):
        raise CredentialsError(INVALID)
    if claims.user_id != user_id:
        raise CredentialsError(f"this overlay token is for another user, not {user_id!r}: {HOW_TO_RENEW}")
    if now >= claims.expires_at:
        stamp = claims.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        raise CredentialsError(f"this overlay token expired on {stamp}: {HOW_TO_RENEW}")
    return claims
