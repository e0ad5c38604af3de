"""The LinkCodeStore port on Redis: one key per producer link, spent with GETDEL.

``<prefix>link:<code>`` holds the link as JSON and expires ``PURGE_GRACE`` after the link does,
so Redis forgets unredeemed links by itself. GETDEL hands a link out once, on any node. A
redeem retried after a lost reply may find its link already spent: the page then asks for a new
link, which is the safe side of single use.
"""

from __future__ import annotations

from datetime import datetime

import orjson

from ...domain.producer_links import LinkCode
from .memory import PURGE_GRACE
from .redis import DEFAULT_PREFIX, RedisConnection


class RedisLinkCodeStore:
    def __init__(self, redis: RedisConnection, *, owns_connection: bool = False) -> None:
        self.redis = redis
        self._owns_connection = owns_connection

    @classmethod
    async def open(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> "RedisLinkCodeStore":
        """A store on a connection of its own, closed by ``aclose``."""
        return cls(await RedisConnection.open(url, prefix=prefix), owns_connection=True)

    def _key(self, code: str) -> str:
        return f"{self.redis.keys.prefix}link:{code}"

    async def put(self, link: LinkCode) -> None:
        """Store a new link; raises KeyError when the code is taken (never overwrite a grant)."""
        key = self._key(link.code)
        value = orjson.dumps([link.developer_id, link.user_id, link.expires_at.isoformat()])
        forget_ms = int((link.expires_at + PURGE_GRACE).timestamp() * 1000)
        stored = await self.redis.execute("put producer link", "SET", key, value, "NX", "PXAT", forget_ms)
        if not stored:
            existing = await self.redis.execute("put producer link", "GET", key)
            if existing != value:  # the same link is this put, retried after a lost reply
                raise KeyError("a producer link with this code already exists")

    async def redeem(self, code: str) -> LinkCode | None:
        key = self._key(code)
        stored = await self.redis.execute("redeem producer link", "GETDEL", key)
        if stored is None:
            return None
        developer_id, user_id, expires_at = orjson.loads(stored)
        return LinkCode(code, developer_id, user_id, datetime.fromisoformat(expires_at))

    async def aclose(self) -> None:
        if self._owns_connection:
            await self.redis.aclose()
