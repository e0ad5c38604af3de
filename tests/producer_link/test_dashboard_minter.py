"""The dashboard's producer links: a link minter taken at sign-in mints links with their QR code,
and nothing else; it ends with its developer. (The page itself: tests/dashboard/test_browser.py.)"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import trio

from wearstream.domain.producer_links import MINTER_INVALID
from wearstream.testing.fixtures import LiveBroker, start_broker

from .conftest import producer_token, redeem


@pytest.fixture
async def broker(nursery: trio.Nursery) -> LiveBroker:
    return await start_broker(nursery, "dashboard-links")


def creds(broker: LiveBroker) -> dict[str, str]:
    return {"dev-id": broker.dev_id, "x-api-key": broker.api_key}


async def minter_of(broker: LiveBroker, lives: int = 12 * 3600) -> str:
    async with httpx.AsyncClient() as client:
        answer = await client.post(broker.api_url + "/dashboard/producer-link-minter", headers=creds(broker))
    assert answer.status_code == 200, answer.text
    assert answer.json()["expires_in"] == lives and answer.headers["cache-control"] == "no-store"
    return str(answer.json()["minter"])


async def dashboard_link(broker: LiveBroker, user: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(broker.api_url + "/dashboard/producer-link", params={"id": user}, headers=headers)


async def test_a_minter_makes_single_use_links_with_their_qr_code(broker: LiveBroker) -> None:
    bearer = {"Authorization": f"Bearer {await minter_of(broker)}"}
    answers: list[dict[str, Any]] = []
    for _ in range(2):
        answer = await dashboard_link(broker, "carol", bearer)
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    first = answers[0]
    assert first["user_id"] == "carol" and first["url"] == f"{broker.api_url}/produce#link={first['link']}"
    head, _, svg = first["qr_svg"].partition(",")
    assert head.startswith("data:image/svg+xml") and unquote(svg).startswith("<svg")
    assert first["link"] != answers[1]["link"]
    assert (await redeem(broker, first["link"])).status_code == 200
    assert (await redeem(broker, first["link"])).status_code == 403


async def test_developer_credentials_still_work_for_a_script(broker: LiveBroker) -> None:
    answer = await dashboard_link(broker, "carol", creds(broker))
    assert answer.status_code == 200 and answer.json()["qr_svg"].startswith("data:image/svg+xml")


async def test_a_minter_mints_nothing_but_links(broker: LiveBroker) -> None:
    minter = await minter_of(broker)
    token = await producer_token(broker, minter)
    assert token.status_code == 403
    async with httpx.AsyncClient() as client:
        for path in ("/auth/producer-link", "/auth/user", "/auth/developer", "/auth/dashboard"):
            answer = await client.post(
                broker.api_url + path, params={"id": "carol"}, headers={"Authorization": f"Bearer {minter}"}
            )
            assert answer.status_code == 400, (path, answer.text)  # Basic or the Terra headers only


async def test_a_wrong_minter_is_refused_in_one_line(broker: LiveBroker, nursery: trio.Nursery) -> None:
    minter = await minter_of(broker)
    other = await start_broker(nursery, "other")
    for bearer in (minter[:-2] + "xx", "plm1.a.b", "garbage", await minter_of(other)):
        answer = await dashboard_link(broker, "carol", {"Authorization": f"Bearer {bearer}"})
        assert (answer.status_code, answer.text) == (403, MINTER_INVALID), bearer


async def test_a_minter_expires(nursery: trio.Nursery) -> None:
    broker = await start_broker(nursery, "expiring", producer_session_ttl=1e-6)
    answer = await dashboard_link(broker, "carol", {"Authorization": f"Bearer {await minter_of(broker, 0)}"})
    assert (answer.status_code, answer.text) == (403, MINTER_INVALID)


async def test_revoking_the_developer_ends_its_minters(broker: LiveBroker) -> None:
    minter = await minter_of(broker)
    assert await broker.running.stores.developers.revoke(broker.dev_id)
    answer = await dashboard_link(broker, "carol", {"Authorization": f"Bearer {minter}"})
    assert (answer.status_code, answer.text) == (403, MINTER_INVALID)
    async with httpx.AsyncClient() as client:
        again = await client.post(broker.api_url + "/dashboard/producer-link-minter", headers=creds(broker))
    assert again.status_code == 403
