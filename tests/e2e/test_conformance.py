"""Conformance: the real `wearstream broker` subprocess, over real WebSockets and real HTTP, held to
/work/shared/protocol.md (every opcode row, every close-code row, tokens, isolation, replay, bad
input, restart). Each test uses its own developers, so tests never see each other's streams."""

from __future__ import annotations

import base64
import json
import math
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import attrs
import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    create_developers,
)

pytestmark = pytest.mark.e2e

IDENTIFY_TIMEOUT = 2.0  # the main broker's --identify-timeout
RECV_TIMEOUT = 5.0
QUIET = 0.3  # how long "nothing more arrives" is watched
TS = "2022-05-04T10:26:11.268507+01:00"
POOL_SIZE = 16

PRODUCER, CONSUMER = 0, 1
DROPPED = None  # a bad frame dropped without closing: the connection stays (docs/protocol.md)


# Broker and developers ---------------------------------------------------------------------------


@attrs.define
class MainBroker:
    process: BrokerProcess
    pool: list[DeveloperCredentials]

    def developer(self) -> DeveloperCredentials:
        assert self.pool, "raise POOL_SIZE: the pool of fresh developers is used up"
        return self.pool.pop()


@pytest.fixture(scope="session")
def main_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MainBroker]:
    data = tmp_path_factory.mktemp("main-data")
    pool = create_developers(data, [f"dev{i}" for i in range(POOL_SIZE)])
    broker = BrokerProcess.create(
        data, log_dir=tmp_path_factory.mktemp("main-logs"),
        identify_timeout=IDENTIFY_TIMEOUT, max_consumers=1,
    )
    with broker:
        yield MainBroker(broker, pool)
        assert broker.running, f"the broker died during the suite\n{broker.output()}"


@pytest.fixture
def broker(main_broker: MainBroker) -> BrokerProcess:
    if not main_broker.process.running:
        pytest.fail(f"broker is not running\n{main_broker.process.output()}")
    return main_broker.process


@pytest.fixture
async def http(broker: BrokerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=broker.http_url, timeout=10) as client:
        yield client


async def mint(http: httpx.AsyncClient, dev: DeveloperCredentials, user: str | None = None) -> str:
    """A producer token for ``user``, or a consumer token when ``user`` is None."""
    if user is None:
        response = await http.post("/auth/developer", headers=dev.headers())
    else:
        response = await http.post("/auth/user", params={"id": user}, headers=dev.headers())
    assert response.status_code == 200, (response.status_code, response.text)
    token = response.json()["token"]
    assert isinstance(token, str) and token
    return token


# A thin Terra-style client -------------------------------------------------------------------


@attrs.define
class Client:
    ws: WebSocketConnection
    hello: dict[str, Any]
    seen: list[dict[str, Any]] = attrs.field(factory=list)

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send_message(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = RECV_TIMEOUT) -> dict[str, Any]:
        with trio.fail_after(timeout):
            text = await self.ws.get_message()
        frame = json.loads(text)
        self.seen.append(frame)
        return frame

    async def recv_many(self, n: int, timeout: float = RECV_TIMEOUT) -> list[dict[str, Any]]:
        return [await self.recv(timeout) for _ in range(n)]

    async def quiet(self, period: float = QUIET) -> list[dict[str, Any]]:
        """Every frame that arrives within ``period`` (expected: none)."""
        frames = []
        with trio.move_on_after(period):
            while True:
                frames.append(json.loads(await self.ws.get_message()))
        return frames

    async def closed(self, timeout: float = RECV_TIMEOUT) -> tuple[int | None, str, list[dict]]:
        """Wait for the server to close: (code, reason, frames received before the close)."""
        frames = []
        with trio.fail_after(timeout):
            try:
                while True:
                    frames.append(json.loads(await self.ws.get_message()))
            except ConnectionClosed as closed:
                return closed.reason.code, closed.reason.reason or "", frames
        raise AssertionError("unreachable")

    async def outcome(self, timeout: float = RECV_TIMEOUT) -> tuple[int | None, str, list[dict]]:
        """After a bad frame: (DROPPED, "", frames) when a HEARTBEAT is still answered (the frame
        was dropped, the connection kept), else what closed() says."""
        try:
            await self.send({"op": 0})
        except ConnectionClosed:
            pass
        frames = []
        with trio.fail_after(timeout):
            try:
                while True:
                    frame = json.loads(await self.ws.get_message())
                    if frame["op"] == 1:
                        return DROPPED, "", frames
                    frames.append(frame)
            except ConnectionClosed as closed:
                return closed.reason.code, closed.reason.reason or "", frames
        raise AssertionError("unreachable")

    async def submit(self, t: str, d: dict[str, Any]) -> None:
        await self.send({"op": 6, "t": t, "d": d})

    async def identify(self, token: str, role: int) -> None:
        await self.send({"op": 3, "d": {"token": token, "type": role}})


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[Client]:
    """Open /connect and take the HELLO; the client is not identified yet."""
    async with open_websocket_url(url) as ws:
        with trio.fail_after(RECV_TIMEOUT):
            hello = json.loads(await ws.get_message())
        assert hello["op"] == 2, f"first frame must be HELLO, got {hello}"
        yield Client(ws, hello)


@asynccontextmanager
async def session(url: str, token: str, role: int) -> AsyncIterator[Client]:
    """Open, IDENTIFY and take the READY."""
    async with connect(url) as client:
        await client.identify(token, role)
        ready = await client.recv()
        assert ready["op"] == 4, f"expected READY after a good IDENTIFY, got {ready}"
        yield client


@asynccontextmanager
async def producer(url: str, http: httpx.AsyncClient, dev: DeveloperCredentials, user: str) -> AsyncIterator[Client]:
    async with session(url, await mint(http, dev, user), PRODUCER) as client:
        yield client


@asynccontextmanager
async def consumer(url: str, http: httpx.AsyncClient, dev: DeveloperCredentials) -> AsyncIterator[Client]:
    async with session(url, await mint(http, dev), CONSUMER) as client:
        yield client


def assert_close(result: tuple[int | None, str, list], code: int, what: str) -> None:
    got, reason, frames = result
    assert got == code, f"{what}: expected close {code}, got {got} {reason!r} (frames before: {frames})"
    assert reason.strip(), f"{what}: close {code} without a reason"


def reading(val: float, **extra: Any) -> dict[str, Any]:
    return {"ts": TS, "val": val, **extra}


async def dispatches(client: Client, n: int) -> list[dict[str, Any]]:
    frames = await client.recv_many(n)
    for frame in frames:
        assert frame["op"] == 5, f"expected DISPATCH, got {frame}"
    return frames


# HTTP token API ------------------------------------------------------------------------------


async def test_token_api(broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient) -> None:
    dev = main_broker.developer()
    tokens = {await mint(http, dev, "alice"), await mint(http, dev, "alice"), await mint(http, dev)}
    assert len(tokens) == 3, "every mint gives a fresh token"

    basic = "Basic " + base64.b64encode(f"{dev.dev_id}:{dev.api_key}".encode()).decode()
    response = await http.post("/auth/developer", headers={"Authorization": basic})
    assert response.status_code == 200, response.text
    assert response.json()["token"]

    cases = [
        ("/auth/developer", {}, None, 400),
        ("/auth/user", {}, {"id": "alice"}, 400),
        ("/auth/developer", {"dev-id": dev.dev_id}, None, 400),
        ("/auth/developer", {"dev-id": dev.dev_id, "x-api-key": "wrong"}, None, 403),
        ("/auth/user", {"dev-id": dev.dev_id, "x-api-key": "wrong"}, {"id": "alice"}, 403),
        ("/auth/developer", {"dev-id": "no-such-developer", "x-api-key": dev.api_key}, None, 403),
        ("/auth/user", dev.headers(), {"id": ""}, 400),  # an empty user id
    ]
    for path, headers, params, status in cases:
        response = await http.post(path, headers=headers, params=params)
        assert response.status_code == status, (path, headers, params, response.status_code, response.text)
        assert response.text.strip(), f"{path} {status} without a reason"


# Opcodes -------------------------------------------------------------------------------------


async def test_hello_heartbeat_identify_ready(broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient) -> None:
    dev = main_broker.developer()
    async with connect(broker.ws_url) as client:
        assert client.hello["d"]["heartbeat_interval"] == 40_000
        await client.send({"op": 0})
        assert (await client.recv())["op"] == 1, "HEARTBEAT before IDENTIFY is answered"
        await client.identify(await mint(http, dev, "alice"), PRODUCER)
        assert (await client.recv())["op"] == 4
        await client.send({"op": 0, "d": None})
        assert (await client.recv())["op"] == 1
    async with consumer(broker.ws_url, http, dev) as c:
        await c.send({"op": 0})
        assert (await c.recv())["op"] == 1


async def test_submit_is_dispatched_exactly(broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient) -> None:
    dev = main_broker.developer()
    sent = [
        ("HEART_RATE", {"ts": TS, "val": 61}),
        ("HEART_RATE", {"val": 62.5, "ts": "2022-05-04T09:26:12Z"}),  # key order kept
        ("ACCELERATION", {"ts": TS, "d": [0.1, -9.81, 3]}),
        ("ECG", {"ts": TS, "d": [0.01 * i for i in range(200)]}),
        ("LOCATION", {"ts": TS, "d": [51.5, -0.12]}),
        ("RUNNING_HEART_RATE", {"ts": TS, "val": 150}),
        ("running_Heart_Rate", {"ts": TS, "val": 151}),  # t forwarded exactly, no case folding
        ("BLOOD_GLUCOSE_MMOL", {"ts": TS, "val": 5.4}),  # unknown label: forwarded untouched
        ("NEW_VECTOR_THING", {"ts": TS, "d": [1, 2, 3, 4, 5]}),
        ("STEPS", {"ts": TS, "val": 1200, "extra": {"note": "kept"}}),
    ]
    async with consumer(broker.ws_url, http, dev) as c, producer(broker.ws_url, http, dev, "alice") as p:
        for t, d in sent:
            await p.submit(t, d)
        frames = await dispatches(c, len(sent))
        for (t, d), frame in zip(sent, frames):
            assert frame["uid"] == "alice"
            assert frame["t"] == t
            assert frame["d"] == d and list(frame["d"]) == list(d), (d, frame["d"])
            assert isinstance(frame["seq"], int) and not isinstance(frame["seq"], bool)
            assert "synthetic" not in frame, "real data never carries synthetic"
            assert set(frame) <= {"op", "uid", "seq", "t", "d"}, frame
        seqs = [f["seq"] for f in frames]
        assert seqs == sorted(set(seqs)), f"seq must strictly increase: {seqs}"
        assert await c.quiet() == []


async def test_seq_is_per_developer_and_strictly_increasing_across_users(
    broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient
) -> None:
    dev = main_broker.developer()
    async with consumer(broker.ws_url, http, dev) as c, \
            producer(broker.ws_url, http, dev, "u1") as p1, producer(broker.ws_url, http, dev, "u2") as p2:
        for i in range(5):
            await p1.submit("HEART_RATE", reading(60 + i))
            await p2.submit("POWER", reading(200 + i))
        frames = await dispatches(c, 10)
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(set(seqs)), f"not strictly increasing: {seqs}"
    assert [f["d"]["val"] for f in frames if f["uid"] == "u1"] == [60, 61, 62, 63, 64]
    assert [f["d"]["val"] for f in frames if f["uid"] == "u2"] == [200, 201, 202, 203, 204]


async def test_submit_without_ts_gets_a_broker_timestamp(broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient) -> None:
    dev = main_broker.developer()
    async with consumer(broker.ws_url, http, dev) as c, producer(broker.ws_url, http, dev, "bob") as p:
        before = datetime.now(timezone.utc)
        await p.submit("HEART_RATE", {"val": 72})
        await p.submit("ACCELERATION", {"d": [1, 2, 3]})
        frames = await dispatches(c, 2)
        after = datetime.now(timezone.utc)
    assert frames[0]["d"]["val"] == 72 and frames[1]["d"]["d"] == [1, 2, 3]
    for frame in frames:
        ts = frame["d"].get("ts")
        assert isinstance(ts, str), f"no broker timestamp in {frame}"
        stamped = datetime.fromisoformat(ts)
        assert stamped.tzinfo is not None, f"ts {ts!r} has no offset"
        slack = timedelta(seconds=2)
        assert before - slack <= stamped <= after + slack, (before, ts, after)


async def test_status_is_accepted_and_never_dispatched(broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient) -> None:
    dev = main_broker.developer()
    async with consumer(broker.ws_url, http, dev) as c, producer(broker.ws_url, http, dev, "carol") as p:
        await p.send({"op": 8, "d": {"connected": True, "device_id": "hrm-1", "source": "ble"}})
        await p.send({"op": 8, "d": {"connected": False, "device_id": "hrm-1", "reason": "link lost"}})
        await p.send({"op": 8, "d": {"connected": True}})
        for malformed in ({"op": 8}, {"op": 8, "d": {"connected": "yes"}}, {"op": 8, "d": []},
                          {"op": 8, "d": {"connected": True, "device_id": 7}}):
            await p.send(malformed)  # dropped without closing
        await p.submit("HEART_RATE", reading(80))
        [frame] = await dispatches(c, 1)
        assert frame["d"] == reading(80)
        assert await c.quiet() == [], "STATUS must never be dispatched"
        await p.send({"op": 0})
        assert (await p.recv())["op"] == 1, "the producer is still connected after malformed STATUS"
        await c.send({"op": 7, "d": {"after": 0, "before": frame["seq"] + 1000}})
        replayed = await c.recv_many(1)
        assert [f["seq"] for f in replayed] == [frame["seq"]]
        assert await c.quiet() == [], "STATUS must never be stored in the log"


async def test_replay_bounds_are_exclusive_and_stop_at_what_exists(
    broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient
) -> None:
    dev = main_broker.developer()
    async with consumer(broker.ws_url, http, dev) as c, producer(broker.ws_url, http, dev, "dave") as p:
        for i in range(5):
            await p.submit("SPEED", reading(i + 0.5))
        live = await dispatches(c, 5)
        s = [f["seq"] for f in live]
        by_seq = {f["seq"]: f for f in live}
        await c.send({"op": 7, "d": {"after": s[0], "before": s[4]}})  # s1..s3
        await c.send({"op": 7, "d": {"after": s[1], "before": s[3]}})  # s2 only
        await c.send({"op": 7, "d": {"after": s[3], "before": s[4] + 1000}})  # s4 only: nothing beyond
        await c.send({"op": 7, "d": {"after": s[4], "before": s[4] + 1000}})  # nothing
        await c.send({"op": 7, "d": {"after": s[2], "before": s[2] + 1}})  # empty range
        replayed = await dispatches(c, 5)
        replayed += await c.quiet()
    assert sorted(f["seq"] for f in replayed) == sorted([s[1], s[2], s[3], s[2], s[4]]), (s, replayed)
    for frame in replayed:
        assert frame == by_seq[frame["seq"]], "a replayed DISPATCH equals the live one"


async def test_consumers_see_only_their_own_developers_users(
    broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient
) -> None:
    a, b = main_broker.developer(), main_broker.developer()
    url = broker.ws_url
    async with consumer(url, http, a) as ca, consumer(url, http, b) as cb, \
            producer(url, http, a, "same-user") as pa, producer(url, http, b, "same-user") as pb, \
            producer(url, http, b, "b-only") as pb2:
        for i in range(3):
            await pa.submit("HEART_RATE", reading(100 + i))
            await pb.submit("HEART_RATE", reading(200 + i))
            await pb2.submit("STEPS", reading(300 + i))
        got_a = await dispatches(ca, 3) + await ca.quiet()
        got_b = await dispatches(cb, 6) + await cb.quiet()
        assert [f["d"]["val"] for f in got_a] == [100, 101, 102]
        assert sorted(f["d"]["val"] for f in got_b) == [200, 201, 202, 300, 301, 302]
        last_a = max(f["seq"] for f in got_a)
        await ca.send({"op": 7, "d": {"after": 0, "before": last_a + 10_000}})
        replay_a = await dispatches(ca, 3) + await ca.quiet()
        assert [f["d"]["val"] for f in replay_a] == [100, 101, 102], "REPLAY crossed developers"


async def test_consumer_cap_closes_4002_and_the_first_consumer_carries_on(
    broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient
) -> None:
    dev = main_broker.developer()
    async with consumer(broker.ws_url, http, dev) as first, producer(broker.ws_url, http, dev, "erin") as p:
        async with connect(broker.ws_url) as second:
            await second.identify(await mint(http, dev), CONSUMER)
            assert_close(await second.closed(), 4002, "second consumer over --max-consumers 1")
        await p.submit("HEART_RATE", reading(90))
        [frame] = await dispatches(first, 1)
        assert frame["d"]["val"] == 90
    # Once the first consumer is gone, its slot is free again.
    for _ in range(20):
        async with connect(broker.ws_url) as third:
            await third.identify(await mint(http, dev), CONSUMER)
            frame = await third.recv()
            if frame["op"] == 4:
                break
        await trio.sleep(0.1)
    else:
        pytest.fail("the consumer slot never came free after the first consumer left")


async def test_tokens_are_single_use_and_bound_to_their_role(
    broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient
) -> None:
    dev = main_broker.developer()
    url = broker.ws_url
    token = await mint(http, dev)
    async with session(url, token, CONSUMER):
        pass
    async with connect(url) as again:
        await again.identify(token, CONSUMER)
        assert_close(await again.closed(), 4001, "consumer token used twice")

    token = await mint(http, dev, "frank")
    async with session(url, token, PRODUCER):
        async with connect(url) as again:  # while the first session is still open
            await again.identify(token, PRODUCER)
            assert_close(await again.closed(), 4001, "producer token used twice")

    cases = [
        (await mint(http, dev, "frank"), CONSUMER, "producer token as a consumer"),
        (await mint(http, dev), PRODUCER, "consumer token as a producer"),
        ("not-a-token", PRODUCER, "unknown token"),
        ("not-a-token", CONSUMER, "unknown token"),
    ]
    for token, role, what in cases:
        async with connect(url) as client:
            await client.identify(token, role)
            assert_close(await client.closed(), 4001, what)


async def test_second_identify_closes_4003(broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient) -> None:
    dev = main_broker.developer()
    async with producer(broker.ws_url, http, dev, "gina") as p:
        await p.identify(await mint(http, dev, "gina"), PRODUCER)
        assert_close(await p.closed(), 4003, "second IDENTIFY")


async def test_identify_timeout_closes_4000(broker: BrokerProcess) -> None:
    async with connect(broker.ws_url) as client:
        await client.send({"op": 0})  # heartbeats do not stand in for IDENTIFY
        code, reason, frames = await client.closed(timeout=IDENTIFY_TIMEOUT + 5)
    assert_close((code, reason, frames), 4000, "no IDENTIFY within --identify-timeout")
    assert [f["op"] for f in frames] == [1]


BEFORE_READY = [
    ({"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": 60}}, 4004, "SUBMIT before READY"),
    ({"op": 7, "d": {"after": 0, "before": 10}}, 4004, "REPLAY before READY"),
    ({"op": 8, "d": {"connected": True}}, 4004, "STATUS before READY"),
    ({"op": 1}, 4004, "HEARTBEAT_ACK from a client"),
    ({"op": 2, "d": {"heartbeat_interval": 1000}}, 4004, "HELLO from a client"),
    ({"op": 4}, 4004, "READY from a client"),
    ({"op": 5, "uid": "u", "seq": 1, "t": "HEART_RATE", "d": {"ts": TS, "val": 1}}, 4004, "DISPATCH from a client"),
    ({"op": 5}, 4004, "DISPATCH without its fields from a client"),
    ({"op": 2}, 4004, "HELLO without d from a client"),
    ({"op": 9}, 4004, "SUBMIT_ACK from a client"),
    ({"op": 11, "d": 1}, 4004, "WARNING from a client"),
    ({"op": 42}, 4004, "unknown op"),
    ({"op": 3, "d": {"token": "x", "type": 3}}, 1003, "IDENTIFY with type 3"),
    ({"op": 3, "d": {"type": 0}}, 1003, "IDENTIFY without token"),
    ({"op": 3}, 1003, "IDENTIFY without d"),
    ("not json", 1003, "non-JSON before IDENTIFY"),
    ("[]", 1003, "a JSON array before IDENTIFY"),
]


async def test_frames_before_ready_close_with_the_documented_code(broker: BrokerProcess) -> None:
    failures = []
    for frame, code, what in BEFORE_READY:
        async with connect(broker.ws_url) as client:
            await client.send(frame)
            got, reason, before = await client.closed()
        if got != code or not reason.strip():
            failures.append(f"{what}: sent {frame!r}, expected {code}, got {got} {reason!r} after {before}")
    assert not failures, "\n".join(failures)


# Bad input: each closes one connection with its code and a reason; the rest carry on -----------

ECG_300KB = '{"op":6,"t":"ECG","d":{"ts":"%s","d":[%s]}}' % (TS, ",".join(["0.123456"] * 40_000))

BAD_PRODUCER_FRAMES: list[tuple[str, int | None, str]] = [
    ("this is not json", 1003, "non-JSON"),
    ('{"op":6,"t":"HEART_RATE"', 1003, "truncated JSON"),
    ('[{"op":6,"t":"HEART_RATE","d":{"val":1}}]', 1003, "JSON array"),
    ('"op"', 1003, "JSON string"),
    ('{"op":"6","t":"HEART_RATE","d":{"val":1}}', 1003, "op as a string"),
    ('{"op":6.5}', 1003, "op as a float"),
    ('{"t":"HEART_RATE","d":{"val":1}}', 1003, "no op"),
    ('{"op":6,"t":"HEART_RATE","d":60}', DROPPED, "d as a number"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s","val":"60"}}' % TS, DROPPED, "val as a string"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s","val":true}}' % TS, DROPPED, "val as a bool"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s","val":null}}' % TS, DROPPED, "val null"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s"}}' % TS, DROPPED, "neither val nor d"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"yesterday","val":60}}', DROPPED, "ts not ISO-8601"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"2022-05-04T10:26:11","val":60}}', DROPPED, "ts without offset"),
    ('{"op":42}', 4004, "unknown op"),
    ('{"op":7,"d":{"after":0,"before":10}}', 4004, "REPLAY from a producer"),
    ('{"op":1}', 4004, "HEARTBEAT_ACK from a producer"),
    (ECG_300KB, 1003, "a 300 KB frame"),
    ('{"op":6,"t":"HEART RATE","d":{"ts":"%s","val":60}}' % TS, DROPPED, "t with a space"),
    ('{"op":6,"t":"HEART-RATE","d":{"ts":"%s","val":60}}' % TS, DROPPED, "t with a dash"),
    ('{"op":6,"t":"","d":{"ts":"%s","val":60}}' % TS, DROPPED, "t empty"),
    ('{"op":6,"t":"%s","d":{"ts":"%s","val":60}}' % ("A" * 65, TS), DROPPED, "t too long"),
    ('{"op":6,"t":7,"d":{"ts":"%s","val":60}}' % TS, DROPPED, "t a number"),
    ('{"op":6,"d":{"ts":"%s","val":60}}' % TS, DROPPED, "t missing"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s","d":[60,61]}}' % TS, DROPPED, "HEART_RATE with d"),
    ('{"op":6,"t":"RUNNING_HEART_RATE","d":{"ts":"%s","d":[60]}}' % TS, DROPPED, "prefixed scalar with d"),
    ('{"op":6,"t":"ACCELERATION","d":{"ts":"%s","val":9.8}}' % TS, DROPPED, "ACCELERATION with val"),
    ('{"op":6,"t":"ACCELERATION","d":{"ts":"%s","d":[1,2]}}' % TS, DROPPED, "ACCELERATION with 2 numbers"),
    ('{"op":6,"t":"LOCATION","d":{"ts":"%s","d":[1,2,3]}}' % TS, DROPPED, "LOCATION with 3 numbers"),
    ('{"op":6,"t":"ECG","d":{"ts":"%s","d":[]}}' % TS, DROPPED, "ECG empty"),
    ('{"op":6,"t":"ECG","d":{"ts":"%s","d":[1,"2",3]}}' % TS, DROPPED, "ECG with a string"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s","val":60,"d":[60]}}' % TS, DROPPED, "val and d both"),
    ('{"op":6,"t":"UNKNOWN_THING","d":{"ts":"%s","val":1,"d":[1]}}' % TS, DROPPED, "val and d both, unknown t"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s","val":NaN}}' % TS, 1003, "NaN literal"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s","val":Infinity}}' % TS, 1003, "Infinity literal"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s","val":-Infinity}}' % TS, 1003, "-Infinity literal"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s","val":1e999}}' % TS, 1003, "1e999"),
    ('{"op":6,"t":"ECG","d":{"ts":"%s","d":[1,NaN]}}' % TS, 1003, "NaN in an array"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"0001-01-01T00:00:00+23:59","val":60}}', DROPPED, "ts without a UTC year"),
    ('{"op":6,"t":"STEPS","d":{"ts":"%s","val":18446744073709551616}}' % TS, DROPPED, "val beyond 64 bits"),
    ('{"op":6,"t":"STEPS","id":9223372036854775808,"d":{"ts":"%s","val":1}}' % TS, DROPPED, "id beyond 63 bits"),
    ('{"op":6,"t":"STEPS","d":{"ts":"%s","val":1,"x":%s}}' % (TS, "[" * 254 + "]" * 254), DROPPED, "254 levels deep"),
]

BAD_CONSUMER_FRAMES: list[tuple[str, int | None, str]] = [
    ('{"op":7,"d":{"after":3}}', DROPPED, "REPLAY without before"),
    ('{"op":7}', DROPPED, "REPLAY without d"),
    ('{"op":7,"d":{"after":"x3","before":10}}', DROPPED, "REPLAY after not a number"),
    ('{"op":7,"d":{"after":-1,"before":10}}', DROPPED, "REPLAY negative after"),
    ('{"op":7,"d":{"after":1.5,"before":10}}', DROPPED, "REPLAY float after"),
    ('{"op":6,"t":"HEART_RATE","d":{"ts":"%s","val":60}}' % TS, 4004, "SUBMIT from a consumer"),
    ('{"op":8,"d":{"connected":true}}', 4004, "STATUS from a consumer"),
    ('{"op":42}', 4004, "unknown op"),
    ('{"op":5,"uid":"u","seq":1,"t":"X","d":{"val":1}}', 4004, "DISPATCH from a consumer"),
    ("{not json", 1003, "non-JSON"),
    ("[7]", 1003, "JSON array"),
]


async def test_bad_producer_input(broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient) -> None:
    """Each bad frame closes its own connection with the documented code and a reason, or is
    dropped while the connection stays (DROPPED), after the good SUBMIT that came before it was
    dispatched; the witness producer and consumer of the same
    developer carry on; at the end a REPLAY returns every accepted reading, none lost."""
    dev = main_broker.developer()
    url = broker.ws_url
    failures: list[str] = []
    accepted: dict[int, dict[str, Any]] = {}
    async with consumer(url, http, dev) as witness_c, producer(url, http, dev, "witness") as witness_p:
        for i, (message, code, what) in enumerate(BAD_PRODUCER_FRAMES):
            async with producer(url, http, dev, f"bad{i}") as bad:
                await bad.submit("HEART_RATE", reading(i))  # good, before the bad frame
                await bad.send(message)
                got, reason, before = await bad.outcome()
            if got != code or (code is not DROPPED and not reason.strip()):
                shown = message if len(message) < 200 else message[:120] + f"... ({len(message)} chars)"
                failures.append(f"{what}: sent {shown}, expected {code}, got {got} {reason!r} after {before}")
            await witness_p.submit("POWER", reading(1000 + i))
            try:
                frames = await dispatches(witness_c, 2)
            except Exception as error:  # noqa: BLE001 - reported with the case that caused it
                failures.append(f"{what}: the witness consumer stopped receiving: {error!r}")
                break
            got_vals = sorted((f["uid"], f["d"]["val"]) for f in frames)
            want = sorted([(f"bad{i}", i), ("witness", 1000 + i)])
            if got_vals != want:
                failures.append(f"{what}: witness consumer got {got_vals}, expected {want}")
            accepted.update({f["seq"]: f for f in frames})
        await witness_p.send({"op": 0})
        assert (await witness_p.recv())["op"] == 1, "witness producer disturbed"
        if accepted:
            await witness_c.send({"op": 7, "d": {"after": 0, "before": max(accepted) + 1}})
            replayed = await witness_c.recv_many(len(accepted)) + await witness_c.quiet()
            if {f["seq"]: f for f in replayed} != accepted or len(replayed) != len(accepted):
                failures.append(f"REPLAY after the bad input lost or changed readings: "
                                f"{sorted(accepted)} vs {[f['seq'] for f in replayed]}")
    assert not failures, "\n".join(failures)


async def test_bad_consumer_input(broker: BrokerProcess, main_broker: MainBroker, http: httpx.AsyncClient) -> None:
    """Bad consumer frames close that consumer with its code; another developer's consumer and the
    producers carry on."""
    dev, other = main_broker.developer(), main_broker.developer()
    url = broker.ws_url
    failures: list[str] = []
    async with consumer(url, http, other) as witness_c, producer(url, http, other, "w") as witness_p, \
            producer(url, http, dev, "p") as p:
        for i, (message, code, what) in enumerate(BAD_CONSUMER_FRAMES):
            result = None
            for _attempt in range(20):  # the slot of the previous bad consumer may free a moment late
                async with connect(url) as bad:
                    await bad.identify(await mint(http, dev), CONSUMER)
                    first = await bad.recv()
                    if first["op"] != 4:
                        await trio.sleep(0.05)
                        continue
                    await p.submit("HEART_RATE", reading(i))
                    seen = await dispatches(bad, 1)
                    await bad.send(message)
                    result = await bad.outcome()
                    break
            if result is None:
                failures.append(f"{what}: consumer never got READY (cap slot not freed?)")
                continue
            got, reason, _ = result
            if got != code or (code is not DROPPED and not reason.strip()):
                failures.append(f"{what}: sent {message}, expected {code}, got {got} {reason!r} "
                                f"(dispatched before: {seen})")
            await witness_p.submit("POWER", reading(i))
            [frame] = await dispatches(witness_c, 1)
            if frame["d"]["val"] != i:
                failures.append(f"{what}: witness got {frame}")
    assert not failures, "\n".join(failures)


# Brokers of their own: heartbeat window, expiry, restart -------------------------------------


@pytest.fixture
def own_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    return data


async def test_heartbeat_window_4005_and_expired_token_4001(own_data: Path, tmp_path: Path) -> None:
    [dev] = create_developers(own_data, ["hb"])
    broker = BrokerProcess.create(own_data, log_dir=tmp_path / "logs", heartbeat_interval=500, token_ttl=1.0)
    await broker.start_async()
    try:
        async with httpx.AsyncClient(base_url=broker.http_url, timeout=10) as http:
            alive_token, silent_token = await mint(http, dev, "alive"), await mint(http, dev, "silent")
            stale_token, stale_at = await mint(http, dev), trio.current_time()

            async def keeps_beating() -> None:
                async with session(broker.ws_url, alive_token, PRODUCER) as client:
                    assert client.hello["d"]["heartbeat_interval"] == 500
                    for _ in range(8):  # 2 s, well past the window, beating every 250 ms
                        await client.send({"op": 0})
                        assert (await client.recv())["op"] == 1
                        await trio.sleep(0.25)

            async def stays_silent() -> None:
                async with session(broker.ws_url, silent_token, PRODUCER) as client:
                    assert_close(await client.closed(timeout=5), 4005, "no heartbeat within the window")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(keeps_beating)
                nursery.start_soon(stays_silent)

            await trio.sleep_until(stale_at + 1.3)  # past --token-ttl 1 (already, after the above)
            async with connect(broker.ws_url) as client:
                await client.identify(stale_token, CONSUMER)
                assert_close(await client.closed(), 4001, "token older than --token-ttl 1")
    finally:
        code = await broker.stop_async()
    assert code == 0, broker.output()


async def test_sigterm_closes_1001_and_replay_survives_a_restart(own_data: Path, tmp_path: Path) -> None:
    [dev] = create_developers(own_data, ["restart"])
    broker = BrokerProcess.create(own_data, log_dir=tmp_path / "logs")
    await broker.start_async()
    try:
        async with httpx.AsyncClient(base_url=broker.http_url, timeout=10) as http:
            async with consumer(broker.ws_url, http, dev) as c, \
                    producer(broker.ws_url, http, dev, "henry") as p, connect(broker.ws_url) as idle:
                sent = [("HEART_RATE", reading(70)), ("ACCELERATION", {"ts": TS, "d": [1, 2, 3]}),
                        ("STEPS", {"val": 10, "ts": TS})]
                for t, d in sent:
                    await p.submit(t, d)
                before = await dispatches(c, 3)
                results: dict[str, tuple] = {}

                async def watch(name: str, client: Client) -> None:
                    results[name] = await client.closed(timeout=15)

                async with trio.open_nursery() as nursery:
                    for name, client in (("consumer", c), ("producer", p), ("unidentified", idle)):
                        nursery.start_soon(watch, name, client)
                    code = await broker.stop_async()
                assert code == 0, f"exit code {code} after SIGTERM\n{broker.output()}"
                for name, result in results.items():
                    assert_close(result, 1001, f"{name} on SIGTERM")
    finally:
        broker.kill()

    await broker.start_async()
    try:
        async with httpx.AsyncClient(base_url=broker.http_url, timeout=10) as http:
            async with consumer(broker.ws_url, http, dev) as c:
                last = before[-1]["seq"]
                await c.send({"op": 7, "d": {"after": 0, "before": last + 1}})
                replayed = await dispatches(c, 3)
                assert await c.quiet() == []
                assert replayed == before, "a restarted broker replays what it dispatched before"
                async with producer(broker.ws_url, http, dev, "henry") as p:
                    await p.submit("HEART_RATE", reading(71))
                    [after] = await dispatches(c, 1)
                assert after["seq"] > last, "seq numbers are never reused across a restart"
    finally:
        code = await broker.stop_async()
    assert code == 0, broker.output()


def test_numbers_used_by_this_suite_are_what_they_claim() -> None:
    assert len(ECG_300KB) > 300_000
    assert math.isinf(float("1e999"))
