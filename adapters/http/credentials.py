"""Reading developer credentials from an HTTP request's headers, and checking them.

Terra clients send ``dev-id`` and ``x-api-key`` headers; HTTP Basic (user = developer id,
password = API key) is accepted too, so that curl's ``-u`` and browsers work. Everything that is
missing or cannot be parsed is a *malformed* CredentialsError (HTTP 400); whether the credentials
are right is the DeveloperStore's and the domain's business (HTTP 403).
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Mapping

from ...domain.errors import CredentialsError
from ...domain.identity import Developer, hash_api_key
from ...ports.storage import DeveloperStore

log = logging.getLogger("wearstream.http")

DEV_ID_HEADER = "dev-id"
API_KEY_HEADER = "x-api-key"
MAX_CREDENTIAL_LENGTH = 512
HOW = "send the dev-id and x-api-key headers, or HTTP Basic (developer id : API key)"
# The one answer to wrong credentials: an unknown id, a wrong key and a revoked developer read
# alike, so that nobody can learn from the broker which developer ids exist or were revoked.
WRONG_CREDENTIALS = "wrong developer id or API key"


def read_credentials(headers: Mapping[str, str]) -> tuple[str, str]:
    """``(developer id, API key)`` from the headers, or a malformed CredentialsError saying why.

    The Terra headers win when present: a client that sends one of them meant to use them, so
    a missing partner header is reported rather than silently falling back to Basic.
    """
    dev_id = headers.get(DEV_ID_HEADER)
    api_key = headers.get(API_KEY_HEADER)
    if dev_id is not None or api_key is not None:
        if dev_id is None:
            raise _malformed(f"missing {DEV_ID_HEADER} header (it came with {API_KEY_HEADER})")
        if api_key is None:
            raise _malformed(f"missing {API_KEY_HEADER} header (it came with {DEV_ID_HEADER})")
        return _checked(dev_id, DEV_ID_HEADER), _checked(api_key, API_KEY_HEADER)
    authorization = headers.get("authorization")
    if authorization is None:
        raise _malformed(f"missing credentials: {HOW}")
    return _basic(authorization)


async def authenticate(headers: Mapping[str, str], developers: DeveloperStore) -> Developer:
    """The developer whose credentials the headers carry, or a CredentialsError: malformed (400)
    or wrong (403). An unknown id, a wrong key and a revoked developer all get WRONG_CREDENTIALS;
    the precise reason goes to the broker's log, for the operator only."""
    dev_id, api_key = read_credentials(headers)
    developer = await developers.get(dev_id)
    try:
        if developer is None:
            hash_api_key(api_key)  # the work a known id costs, so the answer takes as long
            raise CredentialsError(f"no developer {dev_id!r}")
        developer.check_key(api_key)
    except CredentialsError as error:
        log.info("credentials refused: %s", error.reason)
        raise CredentialsError(WRONG_CREDENTIALS) from None
    return developer


def _basic(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _malformed(f"unsupported Authorization scheme {scheme[:20]!r}: {HOW}")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise _malformed("malformed HTTP Basic credentials: not base64 of UTF-8 text") from None
    dev_id, colon, api_key = decoded.partition(":")
    if not colon:
        raise _malformed("malformed HTTP Basic credentials: no ':' between developer id and key")
    return _checked(dev_id, "Basic user (developer id)"), _checked(api_key, "Basic password (API key)")


def _checked(value: str, where: str) -> str:
    value = value.strip()
    if not value:
        raise _malformed(f"empty {where}")
    if len(value) > MAX_CREDENTIAL_LENGTH or not value.isprintable():
        raise _malformed(f"{where} must be 1-{MAX_CREDENTIAL_LENGTH} printable characters")
    return value


def _malformed(reason: str) -> CredentialsError:
    return CredentialsError(reason, malformed=True)
