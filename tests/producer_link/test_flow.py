"""The producer-link flow end to end, through the real CLI and a real broker on each kind of store:
mint a link, redeem it once, mint a producer token with the session, IDENTIFY on /connect as a
producer asking for acks, and a consumer of the developer gets the reading. Every wrong
credential on the way gets the one 403 answer."""

from __future__ import annotations

import base64
import json

import httpx
import orjson
import trio
from trio_websocket import open_websocket_url

from wearstream.domain.producer_links import INVALID
from wearstream.testing.fixtures import LiveBroker, start_broker
from wearstream.testing.wire import receive, send

from .conftest import mint_link, producer_link, producer_token, redeem, session_for

TS = "2026-12-06T08:00:00.000000Z"
REFUSED = {"status": "error", "message": INVALID}


async def test_a_link_from_the_cli_streams_a_reading_to_the_consumer(broker: LiveBroker) -> None:
    done = await producer_link(broker, "alice", "--json")
    assert done.returncode == 0, done.stderr
    link = json.loads(done.stdout)
    assert link["status"] == "success" and link["user_id"] == "alice" and link["expires_in"] == 900
    assert link["url"] == f"{broker.api_url}/produce#link={link['link']}"
    assert broker.api_key not in done.stdout.decode()

    session = await redeem(broker, link["link"])
    assert session.status_code == 200, session.text
    assert session.json()["user_id"] == "alice" and session.json()["expires_in"] == 12 * 3600
    assert session.headers["cache-control"] == "no-store"
    minted = await producer_token(broker, session.json()["session"])
    assert minted.status_code == 200, minted.text
    assert minted.json()["status"] == "success" and minted.json()["user_id"] == "alice"

    async with broker.consumer() as stream:
        async with open_websocket_url(broker.ws_url) as ws:
            assert (await receive(ws))["op"] == 2
            identify = {"token": minted.json()["token"], "type": 0, "source": "tab-1", "ack": True}
            await send(ws, {"op": 3, "d": identify})
            assert (await receive(ws))["op"] == 4
            await send(ws, {"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": 61}, "id": 1})
            assert await receive(ws) == {"op": 9, "d": {"upto": 1}}
        with trio.fail_after(10):
            payload = await stream.__anext__()
    assert (payload.uid, payload.t, payload.d["val"]) == ("alice", "HEART_RATE", 61)


async def test_a_session_mints_a_token_per_reconnect(broker: LiveBroker) -> None:
    session = await session_for(broker, "alice")
    tokens = [(await producer_token(broker, session)).json()["token"] for _ in range(3)]
    assert len(set(tokens)) == 3


async def test_a_link_is_redeemed_once(broker: LiveBroker) -> None:
    code = (await mint_link(broker, "alice"))["link"]
    assert (await redeem(broker, code)).status_code == 200
    second = await redeem(broker, code)
    assert (second.status_code, second.json()) == (403, REFUSED)


async def test_an_unknown_or_malformed_link_is_refused(broker: LiveBroker) -> None:
    unknown = await redeem(broker, "never-minted")
    assert (unknown.status_code, unknown.json()) == (403, REFUSED)
    for body in (b"not json", b'{"code": "x"}', b"[]"):
        async with httpx.AsyncClient() as client:
            answer = await client.post(broker.api_url + "/produce/session", content=body)
        assert answer.status_code == 400 and answer.json()["status"] == "error"
    huge = await redeem(broker, "x" * 5000)
    assert huge.status_code == 400


async def test_an_expired_link_is_refused(nursery: trio.Nursery) -> None:
    broker = await start_broker(nursery, "expiring", producer_link_ttl=1e-6)
    code = (await mint_link(broker, "alice"))["link"]
    answer = await redeem(broker, code)
    assert (answer.status_code, answer.json()) == (403, REFUSED)


async def test_an_expired_session_is_refused(nursery: trio.Nursery) -> None:
    broker = await start_broker(nursery, "expiring", producer_session_ttl=1e-6)
    answer = await producer_token(broker, await session_for(broker, "alice"))
    assert (answer.status_code, answer.json()) == (403, REFUSED)


async def test_revoking_the_developer_ends_its_sessions_and_links(broker: LiveBroker) -> None:
    session = await session_for(broker, "alice")
    unopened = (await mint_link(broker, "bob"))["link"]
    assert (await producer_token(broker, session)).status_code == 200
    assert await broker.running.stores.developers.revoke(broker.dev_id)
    for answer in (await producer_token(broker, session), await redeem(broker, unopened)):
        assert (answer.status_code, answer.json()) == (403, REFUSED)


async def test_a_wrong_bearer_is_refused_alike(broker: LiveBroker, nursery: trio.Nursery) -> None:
    session = await session_for(broker, "alice")
    head, claims, signature = session.split(".")
    forged_claims = orjson.loads(base64.urlsafe_b64decode(claims + "=="))
    forged_claims["uid"] = "mallory"
    forged = ".".join(
        [head, base64.urlsafe_b64encode(orjson.dumps(forged_claims)).decode().rstrip("="), signature]
    )
    other = await start_broker(nursery, "other")
    elsewhere = await session_for(other, "alice")  # signed with another developer's key
    for bearer in (forged, session[:-2] + "xx", "ov1.a.b", "garbage", elsewhere):
        answer = await producer_token(broker, bearer)
        assert (answer.status_code, answer.json()) == (403, REFUSED), bearer
    async with httpx.AsyncClient() as client:
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
            answer = await client.post(broker.api_url + "/produce/token", headers=headers)
            assert answer.status_code == 400 and answer.json()["status"] == "error"


async def test_minting_a_link_needs_the_developer_credentials(broker: LiveBroker) -> None:
    async with httpx.AsyncClient() as client:
        url = broker.api_url + "/auth/producer-link"
        wrong = await client.post(url, params={"id": "alice"}, headers={"dev-id": broker.dev_id, "x-api-key": "nope"})
        assert (wrong.status_code, wrong.text) == (403, "wrong developer id or API key")
        creds = {"dev-id": broker.dev_id, "x-api-key": broker.api_key}
        assert (await client.post(url, headers=creds)).status_code == 400  # no ?id=
        assert (await client.post(url, params={"id": "\n"}, headers=creds)).status_code == 400
