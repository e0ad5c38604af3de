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

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timezone

import attrs

from .errors import CredentialsError

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


def _key(key_hash: str) -> bytes:
    return hmac.new(key_hash.encode(), _CONTEXT, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key_hash: str, signed: str) -> str:
    return _b64(hmac.new(_key(key_hash), signed.encode(), hashlib.sha256).digest())


def mint_overlay_token(claims: OverlayClaims, key_hash: str) -> str:
    """The token stating ``claims``, signed for the developer whose API-key hash is ``key_hash``."""
    body = {
        "dev": claims.developer_id,
        "uid": claims.user_id,
        "exp": int(claims.expires_at.timestamp()),
    }
    signed = f"{PREFIX}.{_b64(json.dumps(body, separators=(',', ':')).encode())}"
    return f"{signed}.{_signature(key_hash, signed)}"


def read_overlay_claims(token: str) -> OverlayClaims:
    """The claims a token states, NOT yet checked (the caller needs the developer id to find the
    key); a CredentialsError (403) for anything that is not an overlay token."""
    parts = token.split(".") if len(token) <= MAX_TOKEN_LENGTH else []
    if len(parts) != 3 or parts[0] != PREFIX:
        raise CredentialsError(INVALID)
    try:
        body = json.loads(_unb64(parts[1]))
        claims = OverlayClaims(
            str(body["dev"]), str(body["uid"]), datetime.fromtimestamp(int(body["exp"]), timezone.utc)
        )
    except (binascii.Error, ValueError, TypeError, KeyError, OverflowError, OSError):
        raise CredentialsError(INVALID) from None
    return claims


def check_overlay_token(token: str, key_hash: str, user_id: str, now: datetime) -> OverlayClaims:
    """The token's claims if its signature matches ``key_hash``, it names ``user_id`` and it has
    not expired; else a CredentialsError whose reason a streamer can act on."""
    claims = read_overlay_claims(token)
    signed, _, signature = token.rpartition(".")
    if not hmac.compare_digest(_signature(key_hash, signed), signature):
        raise CredentialsError(INVALID)
    if claims.user_id != user_id:
        raise CredentialsError(f"this overlay token is for another user, not {user_id!r}: {HOW_TO_RENEW}")
    if now >= claims.expires_at:
        stamp = claims.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        raise CredentialsError(f"this overlay token expired on {stamp}: {HOW_TO_RENEW}")
    return claims
