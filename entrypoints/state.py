"""The broker's state: where the stream log, developers, tokens and producer links live, and
making developers.

``open_stores`` is the one place that decides between a shared Redis (``--backend
redis://HOST:PORT/DB``, for several broker nodes), SQLite files under ``--data-dir`` and memory,
so the broker, the demo and ``wearstream developers`` cannot disagree about it.
"""

from __future__ import annotations

import re
import secrets
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator, Callable

import attrs

from ..domain.identity import Developer, cli_safe_secret, hash_api_key
from ..ports.storage import (
    ConsumerLeases,
    DeveloperStore,
    LinkCodeStore,
    Retention,
    StreamLog,
    TokenStore,
)

DEV_ID_PREFIX = "dev_"
DEV_ID_BYTES = 8
API_KEY_BYTES = 32
MAX_NAME_LENGTH = 128
_ID_ATTEMPTS = 5


@attrs.frozen
class Stores:
    log: StreamLog
    developers: DeveloperStore
    tokens: TokenStore
    persistent: bool
    leases: ConsumerLeases | None = None
    """Consumer leases shared by the broker nodes of one backend; None for an embedded one."""
    links: LinkCodeStore = attrs.field(factory=lambda: _memory_links())
    """Producer links (``wearstream producer-link``); in memory unless the backend keeps them."""


def _memory_links() -> LinkCodeStore:
    from ..adapters.storage.memory import MemoryLinkCodeStore

    return MemoryLinkCodeStore()


BACKEND_SCHEMES = ("redis://", "rediss://", "unix://")


@asynccontextmanager
async def open_stores(
    data_dir: str | Path | None,
    backend: str | None = None,
    *,
    lease_ttl: timedelta = timedelta(seconds=10),
    busy_timeout: float | None = None,
) -> AsyncIterator[Stores]:
    """Redis stores when ``backend`` is a Redis URL (consumer leases live ``lease_ttl`` past
    their last renewal); else SQLite stores in ``data_dir`` (created if missing; a write waits
    ``busy_timeout`` seconds for another process's lock), or memory ones when it is None."""
    if backend is not None:
        async with _redis_stores(check_backend(backend), lease_ttl) as stores:
            yield stores
        return
    if data_dir is None:
        async with _memory_stores() as stores:
            yield stores
        return
    path = Path(data_dir).expanduser()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new one: the owner's alone
    async with _sqlite_stores(path, busy_timeout) as stores:
        yield stores


@asynccontextmanager
async def _memory_stores() -> AsyncIterator[Stores]:
    from ..adapters.storage import memory

    log = memory.MemoryStreamLog()
    try:
        yield Stores(log, memory.MemoryDeveloperStore(), memory.MemoryTokenStore(), persistent=False)
    finally:
        await log.aclose()


@asynccontextmanager
async def _sqlite_stores(path: Path, busy_timeout: float | None) -> AsyncIterator[Stores]:
    from ..adapters.storage import sqlite
    from ..adapters.storage.sqlite_links import SqliteLinkCodeStore

    options = {} if busy_timeout is None else {"busy_timeout": busy_timeout}
    async with sqlite.open_sqlite_stores(path, **options) as (log, developers, tokens):
        links = await SqliteLinkCodeStore.open(sqlite.database_path(path), **options)
        try:
            yield Stores(log, developers, tokens, persistent=True, links=links)
        finally:
            await links.aclose()


def check_backend(url: str) -> str:
    """A backend URL this broker can use (``redis://HOST:PORT/DB``), else ValueError."""
    if not url.startswith(BACKEND_SCHEMES):
        raise ValueError(f"--backend must be a Redis URL such as redis://HOST:6379/0, got {url!r}")
    return url


@asynccontextmanager
async def _redis_stores(url: str, lease_ttl: timedelta) -> AsyncIterator[Stores]:
    from ..adapters.storage import redis
    from ..adapters.storage.redis_links import RedisLinkCodeStore

    async with redis.open_redis_stores(url, lease_ttl=lease_ttl) as stores:
        links = RedisLinkCodeStore(stores.tokens.redis)  # the same client as the other stores
        yield Stores(
            stores.log, stores.developers, stores.tokens, persistent=True, leases=stores.leases, links=links
        )


_AGE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_retention(text: str) -> Retention:
    """``--retention``: an age (``7d``, ``12h``, ``30m``, ``45s``, ``2w``), a length (a number of
    payloads per developer), or both, comma-separated (``7d,1000000``)."""
    age: timedelta | None = None
    length: int | None = None
    for part in (p.strip().lower() for p in text.split(",")):
        match = _AGE.match(part)
        if match and age is None:
            age = timedelta(**{_UNITS[match[2]]: int(match[1])})
        elif part.isdigit() and length is None:
            length = int(part)
        else:
            raise ValueError(
                f"retention must be an age (7d, 12h, 30m), a payload count, or both "
                f"as 7d,1000000; got {text!r}"
            )
    return Retention(age, length)


# Developers ------------------------------------------------------------------------------------


@attrs.frozen
class NewDeveloper:
    """A developer just created, with the only copy of its API key (the store keeps a hash)."""

    developer: Developer
    api_key: str

    @property
    def dev_id(self) -> str:
        return self.developer.id


def validate_developer_name(name: str) -> str:
    """A developer's display name: 1-128 printable characters, surrounding blanks dropped."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise ValueError(f"developer name must be 1-{MAX_NAME_LENGTH} printable characters, got {name!r}")
    return name


def new_dev_id() -> str:
    return DEV_ID_PREFIX + secrets.token_hex(DEV_ID_BYTES)


def new_api_key() -> str:
    """A random key for ``--api-key`` (never starting with "-": see ``cli_safe_secret``)."""
    return cli_safe_secret(API_KEY_BYTES)


async def create_developer(
    developers: DeveloperStore,
    name: str,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> NewDeveloper:
    """Create and store a developer with a fresh id and API key; only the key's hash is stored."""
    name = validate_developer_name(name)
    for _ in range(_ID_ATTEMPTS):
        api_key = new_api_key()
        developer = Developer(new_dev_id(), name, hash_api_key(api_key), now())
        try:
            await developers.add(developer)
        except KeyError:
            continue  # 64 random bits collided: draw again
        return NewDeveloper(developer, api_key)
    raise RuntimeError(f"could not find a free developer id in {_ID_ATTEMPTS} attempts")
