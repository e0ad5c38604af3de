"""Signed statements: ``<prefix>.<claims>.<signature>``, for credentials the broker need not store.

The claims are a small JSON object (base64url, no padding); the signature is HMAC-SHA256 with a
key derived from the developer's stored API-key hash and a *context* naming the purpose, so the
same hash never signs two kinds of statement that could be swapped for each other. Revocation
follows from the key: a statement stops verifying when the developer's key changes, and its
users re-check the developer's revocation themselves on every use.

Pure: no clock, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any


def _key(key_hash: str, context: bytes) -> bytes:
    return hmac.new(key_hash.encode(), context, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key_hash: str, context: bytes, signed: str) -> str:
    return _b64(hmac.new(_key(key_hash, context), signed.encode(), hashlib.sha256).digest())


def seal(prefix: str, context: bytes, key_hash: str, claims: dict[str, Any]) -> str:
    """The statement of ``claims``, signed for the developer whose API-key hash is ``key_hash``."""
    signed = f"{prefix}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    return f"{signed}.{_signature(key_hash, context, signed)}"


def unverified_claims(token: str, prefix: str, max_length: int) -> dict[str, Any] | None:
    """The claims a statement makes, NOT yet verified (the caller needs them to find the key);
    None for anything that is not a statement of this ``prefix``."""
    parts = token.split(".") if len(token) <= max_length else []
    if len(parts) != 3 or parts[0] != prefix:
        return None
    try:
        claims = json.loads(_unb64(parts[1]))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def verified(token: str, context: bytes, key_hash: str) -> bool:
    """Whether the statement's signature is the one ``key_hash`` makes for ``context``."""
    signed, _, signature = token.rpartition(".")
    return hmac.compare_digest(_signature(key_hash, context, signed), signature)
