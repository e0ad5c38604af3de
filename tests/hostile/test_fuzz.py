"""A property-based fuzzer against one real `wearstream broker` process: whatever a client sends,
in whatever order, cut off wherever, the broker stays up, another tenant's round trip still
works within its bound, and the broker's memory stays bounded.

Three kinds of case, each a Hypothesis test on raw sockets (a client library would refuse to
send most of this, or hide how the connection ends):

- frame sequences after a good handshake: valid and invalid ops, random JSON, wrong types,
  huge and deep values, every role with real and false tokens, REPLAY bounds, STATUS / REPLAY /
  SUBMIT floods, WebSocket-level garbage (bad opcodes, reserved bits, unmasked frames);
- handshake garbage: random request heads, truncated upgrades, wrong versions, other paths,
  random bytes after the head;
- and each case ends at a random point: a close frame, FIN, or RST (SO_LINGER 0), possibly in
  the middle of a frame, reading the broker's answers or never reading them.

Every close the broker sends must carry a code of the close-code table (domain/closecodes.py)
or one RFC 6455 reserves for the WebSocket layer itself.

Example counts are small by default so the whole file stays under a minute on a loaded CI box;
``FUZZ_EXAMPLES=2000 pytest tests/hostile/test_fuzz.py`` runs a long local session.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import attrs
import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from wearstream.domain.closecodes import CloseCode
from wearstream.testing.broker_process import BrokerProcess

from . import rawws
from .conftest import Tenant, assert_alive, broker_pid, raw_connect, reset, rss_bytes, upgrade_request

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
RSS_GROWTH_BOUND = 256 * 2**20  # over the broker's RSS at the first case of the session
ANSWER_WAIT_S = 0.3  # how long a case reads the broker's answers before it ends
SEND_TIMEOUT_S = 3.0  # a broker that stops reading must not hang the fuzzer
# Codes RFC 6455 lets the WebSocket layer send on its own (protocol error, bad UTF-8,
# policy, too big), next to the protocol's own table.
DOCUMENTED_CLOSES = {int(code) for code in CloseCode} | {1002, 1007, 1008, 1009}

fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


# What a case is made of --------------------------------------------------------------------------


@attrs.frozen
class Identify:
    """IDENTIFY with a token of ``kind`` (minted for real, or false) and ``role`` as sent."""

    kind: str
    role: Any


@attrs.frozen
class Message:
    """One WebSocket message (text, or binary given bytes)."""

    data: str | bytes

    def __repr__(self) -> str:  # a megabyte message makes an unreadable falsifying example
        data = self.data
        return f"Message({data!r})" if len(data) <= 200 else f"Message({data[:100]!r}... {len(data)} long)"


@attrs.frozen
class Flood:
    """``count`` frames of one kind in one write: STATUS (distinct devices), REPLAY, SUBMIT."""

    kind: str
    count: int
    size: int = 0


@attrs.frozen
class Pause:
    seconds: float


@attrs.frozen
class Ending:
    """How the client leaves: ``close`` frame then FIN, ``fin``, ``rst``; ``cut`` sends only that
    fraction of the last step's bytes first; ``read`` false: never read what the broker sends."""

    how: str
    cut: float | None
    read: bool


@attrs.frozen
class Connection:
    """One raw connection of a case: the request head, the steps after it, how it ends."""

    head: bytes
    steps: list[Any]
    ending: Ending
    http: bool = False  # to the HTTP listener instead of the WebSocket one


# Strategies --------------------------------------------------------------------------------------

big_ints = st.sampled_from([2**63, 2**63 - 1, -(2**63) - 1, 2**64, 10**30, -1, 0, 2**53 + 1])
numbers = st.one_of(st.integers(), big_ints, st.floats(allow_nan=False, allow_infinity=False))
json_scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=40))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=20,
)
timestamps = st.one_of(
    st.just("2022-05-04T10:26:11.268507+01:00"),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2022-13-45T99:99:99Z",
            "", "now", "2022-05-04", "2022-05-04T10:26:11", "1e308",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat()),
    json_values,
)
data_types = st.one_of(
    st.sampled_from(["HEART_RATE", "ACCELERATION", "STEPS", "LOCATION", "ECG", "RUNNING_HEART_RATE", "X" * 300, ""]),
    st.from_regex(r"[A-Z_]{1,20}", fullmatch=True),
    json_values,
)
readings = st.fixed_dictionaries(
    {"ts": timestamps},
    optional={"val": st.one_of(numbers, json_values), "d": st.one_of(st.lists(numbers, max_size=8), json_values)},
).flatmap(
    lambda r: st.dictionaries(st.text(max_size=8), json_values, max_size=3).map(lambda extra: {**extra, **r})
)
replay_bounds = st.one_of(numbers, st.sampled_from(["28", 28.0, None, [], {}]), json_values)


def op_frame(op: int, **fields: Any) -> dict[str, Any]:
    return {"op": op, **fields}


frames = st.one_of(
    st.just(op_frame(0)),
    st.builds(lambda t, d, i: op_frame(6, t=t, d=d, **i), data_types, readings,
              st.one_of(st.just({}), st.builds(lambda n: {"id": n}, numbers))),
    st.builds(lambda a, b: op_frame(7, d={"after": a, "before": b}), replay_bounds, replay_bounds),
    st.builds(
        lambda c, dev, extra: op_frame(8, d={"connected": c, "device_id": dev, **extra}),
        st.one_of(st.booleans(), json_values), st.one_of(st.text(max_size=20), json_values),
        st.dictionaries(st.sampled_from(["source", "reason"]), json_values, max_size=2),
    ),
    st.builds(lambda op, d: op_frame(op, d=d), st.one_of(st.integers(-5, 20), big_ints, json_values), json_values),
    st.dictionaries(st.sampled_from(["op", "d", "t", "seq", "uid", "id"]), json_values, max_size=5),
    json_values,
)


def deep(levels: int, opener: str) -> str:
    """A SUBMIT whose reading has an extra value nested ``levels`` deep."""
    close = {"[": "]", "{": "}"}[opener]
    inner = '{"x":' * levels + "1" + "}" * levels if opener == "{" else opener * levels + "1" + close * levels
    return '{"op":6,"t":"HEART_RATE","d":{"ts":"2022-05-04T10:26:11Z","val":1,"extra":%s}}' % inner


messages = st.one_of(
    frames.map(lambda f: Message(json.dumps(f))),
    st.text(max_size=200).map(Message),
    st.binary(max_size=200).map(Message),
    st.builds(deep, st.integers(1, 3000), st.sampled_from("[{")).map(Message),
    st.sampled_from(['{"op":6,"t":"HEART_RATE","d":{"ts":"2022-05-04T10:26:11Z","val":NaN}}',
                     '{"op":6,"t":"HEART_RATE","d":{"ts":"2022-05-04T10:26:11Z","val":1e999}}',
                     '{"op": 1, "op": 6}', "\ud800", "[]" * 50000]).map(Message),
    st.integers(10_000, 1_100_000).map(
        lambda n: Message(json.dumps(op_frame(6, t="HEART_RATE", d={"ts": "2022-05-04T10:26:11Z", "val": 1, "x": "a" * n})))
    ),
)
raw_frames = st.one_of(
    st.builds(lambda op, data: rawws.frame(op, data), st.sampled_from([3, 4, 5, 7, 0xB, 0xF]), st.binary(max_size=20)),
    st.builds(lambda rsv, data: rawws.frame(rawws.TEXT, data, rsv=rsv), st.integers(1, 7), st.just(b'{"op":0}')),
    st.just(rawws.frame(rawws.TEXT, b'{"op":0}', masked=False)),
    st.just(rawws.frame(rawws.TEXT, b'{"op":', fin=False) + rawws.frame(rawws.CONTINUATION, b"0}")),
    st.just(rawws.frame(rawws.TEXT, b'{"op":', fin=False) + rawws.frame(rawws.TEXT, b"0}")),
    st.just(rawws.frame(rawws.CONTINUATION, b"0}")),
    st.builds(lambda n: rawws.frame(rawws.PING, b"p" * n), st.sampled_from([0, 125, 126, 200])),
    st.just(rawws.frame(rawws.CLOSE, b"\x03")),  # a close frame with a one-byte body
    st.just(rawws.frame(rawws.TEXT, b"\xff\xfe")),  # not UTF-8
    st.builds(lambda n: rawws.frame(rawws.TEXT, b"[" * n), st.integers(1, 2000)),
    st.binary(min_size=1, max_size=64),  # bytes that may not even parse as a frame
)
identifies = st.builds(
    Identify,
    st.sampled_from(["user", "user", "developer", "dashboard", "garbage", "empty", "spent"]),
    st.one_of(st.sampled_from([0, 0, 1, 2, "1", 1.0, -1, 3, None, True]), json_values),
)
floods = st.builds(
    Flood, st.sampled_from(["status", "replay", "submit", "heartbeat"]), st.integers(1, 1500), st.integers(0, 4000)
)
steps = st.one_of(
    messages, messages, raw_frames, identifies, floods, st.floats(0, 0.05).map(Pause)
)
endings = st.builds(Ending, st.sampled_from(["close", "fin", "rst"]), st.one_of(st.none(), st.floats(0.0, 1.0)), st.booleans())


# Running one case --------------------------------------------------------------------------------


@attrs.define
class Client:
    """One raw connection of the attacker; reads the broker's answers (unless told not to)."""

    attacker: Tenant
    stream: trio.SocketStream
    answers: rawws.ServerFrames = attrs.field(factory=rawws.ServerFrames)
    spent: str = ""
    eof: bool = False

    async def read(self) -> None:
        try:
            while data := await self.stream.receive_some(65536):
                self.answers.feed(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        self.eof = True

    async def encode(self, step: Any) -> bytes:
        if isinstance(step, Message):
            data = step.data
            return rawws.frame(rawws.BINARY, data) if isinstance(data, bytes) else rawws.text(data)
        if isinstance(step, bytes):
            return step
        if isinstance(step, Identify):
            return rawws.text(json.dumps(op_frame(3, d={"token": await self.token(step.kind), "type": step.role})))
        if isinstance(step, Flood):
            return b"".join(rawws.text(json.dumps(f)) for f in flood_frames(step))
        raise TypeError(step)

    async def token(self, kind: str) -> str:
        if kind == "user":
            self.spent = await self.attacker.user_token("fuzz-user")
        elif kind == "developer":
            self.spent = await self.attacker.developer_token()
        elif kind == "dashboard":
            self.spent = await self.attacker.dashboard_token()
        elif kind == "garbage":
            return "not-a-token"
        elif kind == "empty":
            return ""
        return self.spent  # "spent": the one this connection used last (or "")

    async def send(self, data: bytes) -> bool:
        """False once the broker no longer takes bytes (it closed or reset)."""
        with trio.move_on_after(SEND_TIMEOUT_S):
            try:
                await self.stream.send_all(data)
                return True
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return False
        return False  # the broker stopped reading (a bounded queue, or it is busy): end here


def flood_frames(flood: Flood) -> list[dict[str, Any]]:
    n = flood.count
    if flood.kind == "status":
        return [op_frame(8, d={"connected": i % 3 != 0, "device_id": f"dev-{i}-{'x' * (flood.size % 200)}"})
                for i in range(n)]
    if flood.kind == "replay":
        return [op_frame(7, d={"after": 0, "before": 2**62}) for _ in range(n)]
    if flood.kind == "submit":
        pad = "p" * flood.size
        return [op_frame(6, t="HEART_RATE", d={"ts": "2022-05-04T10:26:11Z", "val": i, "pad": pad}) for i in range(n)]
    return [op_frame(0) for _ in range(n)]


async def run_case(broker: BrokerProcess, attacker: Tenant, connection: Connection) -> Client:
    """Send the connection's head and then its steps on one raw connection (without waiting for
    any answer), and end it as it says."""
    head, steps, ending = connection.head, connection.steps, connection.ending
    client = Client(attacker, await raw_connect(broker, http=connection.http))
    async with trio.open_nursery() as nursery:
        if ending.read:
            nursery.start_soon(client.read)
        chunks = [head] + [await client.encode(step) if not isinstance(step, Pause) else step for step in steps]
        if ending.cut is not None:
            last = chunks[-1]
            if isinstance(last, bytes):
                chunks[-1] = last[: int(len(last) * ending.cut)]
        for chunk in chunks:
            if isinstance(chunk, Pause):
                await trio.sleep(chunk.seconds)
            elif not await client.send(chunk):
                break
        if ending.cut is None and ending.read:
            with trio.move_on_after(ANSWER_WAIT_S):
                while not client.eof:
                    await trio.sleep(0.01)
        await finish(client, ending)
        nursery.cancel_scope.cancel()
    return client


async def finish(client: Client, ending: Ending) -> None:
    if ending.how == "rst":
        reset(client.stream)
        return
    if ending.how == "close" and ending.cut is None:
        await client.send(rawws.close(1000))
    try:
        await client.stream.send_eof()
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    await client.stream.aclose()


# The properties ----------------------------------------------------------------------------------

_baseline: dict[int, int] = {}


def ensure_running(broker: BrokerProcess) -> None:
    """Start every case with a live broker: after a crash, shrinking must not blame every
    later case for the first one's fault."""
    if not broker.running:
        broker.start()


async def check_broker(broker: BrokerProcess, witness: Tenant) -> None:
    """The three properties every case ends with."""
    await assert_alive(broker)
    await witness.round_trip()
    pid = broker_pid(broker)
    rss = rss_bytes(pid)
    baseline = _baseline.setdefault(pid, rss)
    note(f"broker RSS {rss / 2**20:.0f} MiB (first case {baseline / 2**20:.0f} MiB)")
    assert rss - baseline < RSS_GROWTH_BOUND, f"broker RSS grew {(rss - baseline) / 2**20:.0f} MiB"


def assert_documented_close(client: Client) -> None:
    code = client.answers.close_code
    assert code is None or code in DOCUMENTED_CLOSES, f"close code {code} is in no table"


def fuzz(
    broker: BrokerProcess, attacker: Tenant, witness: Tenant, connections: list[Connection]
) -> None:
    """Run the connections of one case at once, then check the broker."""
    ensure_running(broker)

    async def case() -> None:
        clients: list[Client] = []

        async def one(connection: Connection) -> None:
            clients.append(await run_case(broker, attacker, connection))

        async with trio.open_nursery() as nursery:
            for connection in connections:
                nursery.start_soon(one, connection)
        for client in clients:
            answers = client.answers
            note(f"answer: {answers.status_line!r}, {answers.frames} frames, close {answers.close_code}")
        await check_broker(broker, witness)
        for client in clients:
            assert_documented_close(client)

    try:
        trio.run(case)
    except BaseException:
        settle(broker)
        raise


def settle(broker: BrokerProcess) -> None:
    """After a failed case, let a dying broker finish exiting (or end a hung one), so the next
    case (Hypothesis shrinking) starts a fresh one rather than failing on this one's corpse."""
    assert broker.process is not None
    try:
        broker.process.wait(3)
    except subprocess.TimeoutExpired:
        if assert_alive_sync(broker):
            return
        broker.kill()


def assert_alive_sync(broker: BrokerProcess) -> bool:
    try:
        return httpx.get(f"{broker.http_url}/healthz", timeout=2).status_code > 0
    except httpx.HTTPError:
        return False


@fuzz_settings
@given(first=st.one_of(st.none(), identifies), rest=st.lists(steps, max_size=8), ending=endings)
def test_random_frame_sequences(broker: BrokerProcess, attacker: Tenant, witness: Tenant,
                                first: Identify | None, rest: list[Any], ending: Ending) -> None:
    """Any sequence of frames after a good upgrade, mostly after a real IDENTIFY."""
    sequence = ([first] if first is not None else []) + rest
    fuzz(broker, attacker, witness, [Connection(upgrade_request(), sequence, ending)])


sessions = st.builds(
    lambda first, rest, ending: Connection(upgrade_request(), [first, *rest], ending),
    st.builds(Identify, st.sampled_from(["user", "developer", "dashboard"]), st.sampled_from([0, 1, 2])),
    st.lists(st.one_of(steps, floods, floods), max_size=5),
    endings,
)


@fuzz_settings
@given(connections=st.lists(sessions, min_size=2, max_size=4))
def test_concurrent_sessions(broker: BrokerProcess, attacker: Tenant, witness: Tenant, connections: list[Connection]) -> None:
    """Several of one tenant's sessions at once, each with its own frames and ending: producers
    flooding while a consumer or dashboard of the same developer never reads, replays while the
    log grows, a second consumer refused while the first leaves mid-replay."""
    fuzz(broker, attacker, witness, connections)


# Handshake garbage -------------------------------------------------------------------------------

header_lines = st.one_of(
    st.sampled_from(
        [
            "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade", "Connection: keep-alive, Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Key: short",
            "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", "Sec-WebSocket-Version: x",
            "Sec-WebSocket-Extensions: permessage-deflate", "Sec-WebSocket-Protocol: a, b",
            "Content-Length: 10", "Content-Length: -1", "Transfer-Encoding: chunked", "Origin: http://evil",
            "Upgrade: h2c", "Expect: 100-continue",
        ]
    ),
    st.builds(lambda k, v: f"{k}: {v}", st.from_regex(r"[A-Za-z-]{1,20}", fullmatch=True), st.text(max_size=50)),
    st.integers(100, 70_000).map(lambda n: "X-Big: " + "a" * n),
    st.text(max_size=60),
)
request_lines = st.one_of(
    st.builds(
        lambda method, path, version: f"{method} {path} {version}",
        st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "CONNECT", "get", "PRI", "GET GET"]),
        st.one_of(st.sampled_from(["/connect", "/connect?x=1", "/", "/healthz", "/metrics", "/auth/user", "*",
                                   "/connect/..", "http://127.0.0.1/connect", "/" + "a" * 9000]),
                  st.text(max_size=30)),
        st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "HTTP/1.1 x", "", "FOO"]),
    ),
    st.text(max_size=80),
)


@st.composite
def request_heads(draw: st.DrawFn) -> bytes:
    """A request head near a real upgrade, mutated; or bytes with no shape at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=4000))
    if draw(st.booleans()):
        head = upgrade_request(
            draw(st.sampled_from(["/connect", "/", "/nope", "/connect?a=b"])),
            version=draw(st.sampled_from(["13", "13", "8", "0", "x", "13, 8"])),
            extra="".join(line + "\r\n" for line in draw(st.lists(header_lines, max_size=3))),
        )
    else:
        lines = [draw(request_lines)] + draw(st.lists(header_lines, max_size=8))
        newline = draw(st.sampled_from(["\r\n", "\r\n", "\n", "\r"]))
        head = (newline.join(lines) + newline * draw(st.integers(0, 2))).encode("utf-8", "surrogatepass")
    return head


@fuzz_settings
@given(head=request_heads(), after=st.lists(st.one_of(st.binary(max_size=300), raw_frames), max_size=3), ending=endings)
def test_handshake_garbage(broker: BrokerProcess, attacker: Tenant, witness: Tenant,
                           head: bytes, after: list[bytes], ending: Ending) -> None:
    """Any request head, then any bytes, cut off anywhere (the ``cut`` may fall inside the head)."""
    fuzz(broker, attacker, witness, [Connection(head, after, ending)])


http_paths = st.sampled_from(
    ["/healthz", "/metrics", "/auth/user?id=x", "/auth/developer", "/auth/dashboard", "/", "/static/x", "/connect"]
)


@st.composite
def http_requests(draw: st.DrawFn) -> bytes:
    """An HTTP request to the API, near a real one or not: methods, paths, credentials, bodies."""
    if draw(st.integers(0, 4)) == 0:
        return draw(request_heads())
    method = draw(st.sampled_from(["GET", "POST", "OPTIONS", "PUT", "DELETE"]))
    body = draw(st.binary(max_size=2000))
    lines = [f"{method} {draw(http_paths)} HTTP/1.1", "Host: 127.0.0.1"] + draw(st.lists(header_lines, max_size=4))
    lines += draw(st.sampled_from([[], [f"Content-Length: {len(body)}"], ["Transfer-Encoding: chunked"]]))
    if draw(st.booleans()):
        lines.append(f"dev-id: {draw(st.text(max_size=30))}".encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
        lines.append(f"x-api-key: {draw(st.text(max_size=60))}".encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
    if draw(st.booleans()):
        lines.append("Authorization: Basic " + draw(st.sampled_from(["", "Og==", "!!!", "YTpi", "x" * 5000])))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass") + body


@fuzz_settings
@given(requests=st.lists(http_requests(), min_size=1, max_size=3), ending=endings)
def test_http_garbage(broker: BrokerProcess, attacker: Tenant, witness: Tenant, requests: list[bytes], ending: Ending) -> None:
    """Requests to the HTTP API (token mints with any credentials, health, metrics, the dashboard
    page), pipelined on one connection and cut off anywhere."""
    fuzz(broker, attacker, witness, [Connection(requests[0], requests[1:], ending, http=True)])
