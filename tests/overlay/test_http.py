"""The overlay's HTTP side against a real in-process broker: minting, the page's checks, and the
latest-value poll, which shows one user's readings and never another's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest
import trio

from wearstream.adapters.http.overlay_feed import LiveValues
from wearstream.ports.storage import StorageUnavailable
from wearstream.testing.fixtures import LiveBroker, start_broker
from wearstream.testing.numbered_producer import identified_producer

from .conftest import overlay_token, send_value, token_expiring


def producer(broker: LiveBroker, user: str):  # type: ignore[no-untyped-def]
    return identified_producer(broker.api_url, broker.ws_url, broker.dev_id, broker.api_key, user)


async def poll_until(client: httpx.AsyncClient, url: str, params: dict, want: float) -> dict:
    with trio.fail_after(5):
        while True:
            answer = (await client.get(url, params=params)).json()
            if answer.get("value") == want:
                return answer
            await trio.sleep(0.05)


async def test_minting_needs_the_developer_credentials(broker: LiveBroker) -> None:
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        assert (await client.post("/auth/overlay", params={"id": "alice"})).status_code == 400
        wrong = await client.post(
            "/auth/overlay", params={"id": "alice"}, headers={"dev-id": broker.dev_id, "x-api-key": "nope"}
        )
        assert wrong.status_code == 403
        creds = {"dev-id": broker.dev_id, "x-api-key": broker.api_key}
        too_long = await client.post("/auth/overlay", params={"id": "alice", "days": "400"}, headers=creds)
        assert too_long.status_code == 400 and "1 to 365" in too_long.text
        slash = await client.post("/auth/overlay", params={"id": "a/latest"}, headers=creds)
        assert slash.status_code == 400 and "holds '/'" in slash.text
        ok = await client.post("/auth/overlay", params={"id": "alice", "days": "2"}, headers=creds)
        assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"
        assert ok.json()["token"].startswith("ov1.") and broker.api_key not in ok.text


async def test_the_page_checks_its_query_and_token_before_it_is_served(broker: LiveBroker) -> None:
    token = await overlay_token(broker, "alice")
    expired = await token_expiring(broker, "alice", timedelta(seconds=-1))
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        page = await client.get("/overlay/alice", params={"type": "HEART_RATE", "token": token, "color": "#f06", "size": "90"})
        assert page.status_code == 200 and "overlay.js" in page.text
        named = await client.get("/overlay/alice", params={"type": "HEART_RATE", "token": token, "color": "HotPink"})
        assert named.status_code == 200
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"
        for query, status, reason in [
            ({"type": "HEART_RATE"}, 400, "no ?token="),
            ({"type": "HEART_RATE", "token": "nonsense"}, 403, "not valid"),
            ({"type": "HEART_RATE", "token": expired}, 403, "expired on"),
            ({"type": "HEART_RATE", "token": token, "color": "red;}body{x"}, 400, "?color="),
            ({"type": "HEART_RATE", "token": token, "color": "notacolor"}, 400, "CSS colour name"),
            ({"type": "HEART_RATE", "token": token, "size": "9000"}, 400, "?size="),
            ({"type": "ACCELERATION", "token": token}, 400, "one number per reading"),
            ({"token": token}, 400, "?type=HEART_RATE"),
        ]:
            answer = await client.get("/overlay/alice", params=query)
            assert (answer.status_code, reason in answer.text) == (status, True), (query, answer.text)
        other_user = await client.get("/overlay/bob", params={"type": "HEART_RATE", "token": token})
        assert other_user.status_code == 403 and "another user" in other_user.text
        script = await client.get("/overlay-static/overlay.js")
        assert script.status_code == 200 and "fetch(" in script.text
        assert (await client.get("/overlay-static/index.html")).status_code == 404


async def test_the_poll_follows_one_user_and_never_shows_another(broker: LiveBroker) -> None:
    token = await overlay_token(broker, "alice")
    params = {"type": "HEART_RATE", "token": token}
    url = "/overlay/alice/latest"
    async with httpx.AsyncClient(base_url=broker.api_url) as client, producer(
        broker, "alice"
    ) as alice, producer(broker, "bob") as bob:
        first = (await client.get(url, params=params)).json()
        assert first["value"] is None and first["unit"] == "bpm"  # watched from the first poll on
        for value in (71, 84, 97):
            await send_value(bob, value + 100)
            await send_value(alice, value)
            answer = await poll_until(client, url, params, value)
            assert answer["age_s"] < 5
        await send_value(bob, 250)
        await trio.sleep(0.3)
        assert (await client.get(url, params=params)).json()["value"] == 97  # bob's never shows
        assert (await client.get("/overlay/bob/latest", params=params)).status_code == 403
        lower = await client.get(url, params={"type": "heart_rate", "token": token})
        assert lower.json()["value"] == 97
        assert broker.running.hub.consumer_count() == 0  # not a consumer: outside the cap


async def test_a_bad_or_expired_token_gets_one_clear_answer_on_the_poll(broker: LiveBroker) -> None:
    expired = await token_expiring(broker, "alice", timedelta(seconds=-5))
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        for token, reason in [(expired, "expired on"), ("ov1.x.y", "not valid"), ("", "no ?token=")]:
            answer = await client.get("/overlay/alice/latest", params={"type": "HEART_RATE", "token": token})
            assert answer.status_code in (400, 403) and reason in answer.json()["error"]
        assert broker.running.hub.dashboard_count() == 0  # refused before anything was held


async def test_watched_streams_per_developer_are_bounded(broker: LiveBroker) -> None:
    """max_overlay_streams=2 in this broker: a third (user, type) pair is told to wait."""
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        for user, t in [("alice", "HEART_RATE"), ("alice", "POWER"), ("bob", "HEART_RATE")]:
            token = await overlay_token(broker, user)
            answer = await client.get(f"/overlay/{user}/latest", params={"type": t, "token": token})
        assert answer.status_code == 503 and "--max-overlay-streams" in answer.json()["error"]
        assert broker.running.hub.dashboard_count() == 1  # one watcher for the developer's overlays


async def test_a_watcher_nobody_polls_is_let_go(broker: LiveBroker, nursery: trio.Nursery) -> None:
    values = LiveValues(broker.running.hub, max_streams=4, idle=0.2)
    await nursery.start(values.run)
    await values.latest(broker.dev_id, "alice", "HEART_RATE")
    assert broker.running.hub.dashboard_count() == 1 and values.watched() == 1
    with trio.fail_after(3):
        while broker.running.hub.dashboard_count():
            await trio.sleep(0.05)
    assert values.watched() == 0


async def test_with_every_dashboard_slot_taken_the_overlay_is_told_to_wait(nursery: trio.Nursery) -> None:
    broker = await start_broker(nursery, "overlay-busy", max_dashboards=1)
    held = await broker.running.hub.add_dashboard(broker.dev_id)
    assert held is not None
    token = await overlay_token(broker, "alice")
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        params = {"type": "HEART_RATE", "token": token}
        busy = await client.get("/overlay/alice/latest", params=params)
        assert busy.status_code == 503 and "--max-dashboards" in busy.json()["error"]
        broker.running.hub.remove_consumer(held)
        assert (await client.get("/overlay/alice/latest", params=params)).status_code == 200


@attrs.define
class FlakyHub:
    """The broker's hub, whose first add_dashboard fails as a shared log that is down makes it."""

    hub: Any
    failed: bool = False

    async def add_dashboard(self, developer_id: str) -> Any:
        if not self.failed:
            self.failed = True
            raise StorageUnavailable("redis is loading")
        return await self.hub.add_dashboard(developer_id)

    def remove_consumer(self, queue: Any) -> None:
        self.hub.remove_consumer(queue)


async def test_a_watcher_that_could_not_start_is_tried_again(broker: LiveBroker, nursery: trio.Nursery) -> None:
    values = LiveValues(FlakyHub(broker.running.hub))
    await nursery.start(values.run)
    with pytest.raises(StorageUnavailable):
        await values.latest(broker.dev_id, "alice", "HEART_RATE")
    slot = await values.latest(broker.dev_id, "alice", "HEART_RATE")
    async with producer(broker, "alice") as alice:
        await send_value(alice, 77)
        with trio.fail_after(5):
            while slot.value != 77:
                await trio.sleep(0.05)
