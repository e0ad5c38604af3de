"""entrypoints.state: making developers (only the key's hash is stored) and choosing the stores."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from wearstream.domain.identity import Developer, Role, Token, hash_api_key
from wearstream.entrypoints import state
from wearstream.entrypoints.state import create_developer, open_stores, validate_developer_name

from .conftest import NOW, DictDeveloperStore



async def test_create_developer_stores_the_hash_and_returns_the_key() -> None:
    store = DictDeveloperStore()
    new = await create_developer(store, "  Acme  ", now=lambda: NOW)
    assert new.dev_id.startswith("dev_") and len(new.dev_id) == 4 + 16
    assert len(new.api_key) >= 40
    stored = await store.get(new.dev_id)
    assert stored == Developer(new.dev_id, "Acme", hash_api_key(new.api_key), NOW)
    assert new.api_key not in repr(stored)
    stored.check_key(new.api_key)
    other = await create_developer(store, "Acme", now=lambda: NOW)
    assert other.dev_id != new.dev_id and other.api_key != new.api_key


async def test_an_id_collision_draws_again() -> None:
    class CollidingOnce(DictDeveloperStore):
        collided = False

        async def add(self, developer: Developer) -> None:
            if not self.collided:
                self.collided = True
                raise KeyError(developer.id)
            await super().add(developer)

    store = CollidingOnce()
    new = await create_developer(store, "x")
    assert store.collided and list(store.developers) == [new.dev_id]


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 129])
def test_bad_developer_names(name: str) -> None:
    with pytest.raises(ValueError, match="developer name"):
        validate_developer_name(name)


async def test_no_data_dir_means_memory() -> None:
    async with open_stores(None) as stores:
        assert not stores.persistent
        new = await create_developer(stores.developers, "m")
        assert (await stores.developers.get(new.dev_id)) is not None
        token = Token.mint("t", Role.CONSUMER, new.dev_id, None, NOW, timedelta(minutes=5))
        await stores.tokens.put(token)
        assert await stores.tokens.take("t") == token
        assert await stores.log.last_seq(new.dev_id) == 0


async def test_a_data_dir_is_created_and_persists(tmp_path: Path) -> None:
    data = tmp_path / "a" / "b"
    async with open_stores(str(data)) as stores:
        assert stores.persistent
        new = await create_developer(stores.developers, "p")
    assert data.is_dir() and os.listdir(data)
    async with open_stores(data) as stores:
        again = await stores.developers.get(new.dev_id)
        assert again is not None and again.key_hash == hash_api_key(new.api_key)
        assert await stores.developers.revoke(new.dev_id)
    async with open_stores(data) as stores:
        assert (await stores.developers.get(new.dev_id)).revoked


def test_an_api_key_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--api-key -xyz` would be read as an option: a key drawn with a leading "-" is drawn again."""
    drawn = iter(["-first", "second"])
    monkeypatch.setattr(state.secrets, "token_urlsafe", lambda nbytes: next(drawn))
    assert state.new_api_key() == "second"
