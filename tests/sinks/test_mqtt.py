"""The ``mqtt:`` sink against a real Mosquitto (started on a free port) and a real subscriber:
it passes the SampleSink contract (the subscriber's view is the medium), publishes topics and
QoS as documented, and announces Home Assistant sensors."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import trio

from wearstream.adapters.sinks.mqtt import MqttSink, MqttTarget, discovery_config, topic_level
from wearstream.ports.sinks import SinkOptions
from wearstream.testing.contracts.sinks import SinkContract, Stored, reading
from wearstream.testing.mosquitto_server import MosquittoProcess, mosquitto_binary, start_mosquitto

mqtt = pytest.importorskip("paho.mqtt.client", reason="the mqtt sink's tests need paho-mqtt (the test extra has it)")


class Subscriber:
    """A real MQTT client subscribed to ``#``: every message it received, per topic, in order."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, bytes, bool, int]] = []
        self.lock = threading.Lock()
        ready = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.on_connect = lambda c, *_: c.subscribe("#", qos=1)
        client.on_subscribe = lambda *_: ready.set()
        client.on_message = self._received
        client.connect("127.0.0.1", port)
        client.loop_start()
        assert ready.wait(10), "the test subscriber did not subscribe"
        self.client = client

    def _received(self, _client: Any, _userdata: Any, message: Any) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload, message.retain, message.qos))

    def under(self, prefix: str) -> list[tuple[str, bytes, bool, int]]:
        with self.lock:
            return [m for m in self.messages if m[0].startswith(prefix + "/")]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoProcess]:
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed (apt package mosquitto; .ci/run installs it)")
    process = start_mosquitto(tmp_path_factory.mktemp("mosquitto"), binary)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def subscriber(broker: MosquittoProcess) -> Iterator[Subscriber]:
    subscriber = Subscriber(broker.port)
    try:
        yield subscriber
    finally:
        subscriber.close()


def prefix_of(path: Path) -> str:
    return "t" + hashlib.sha256(str(path).encode()).hexdigest()[:12]


async def settled(subscriber: Subscriber, prefix: str) -> list[tuple[str, bytes, bool, int]]:
    """What arrived under ``prefix`` once nothing more has come for a moment (QoS 1 delivery to
    the subscriber is asynchronous to the sink's PUBACK)."""
    seen = -1
    while len(subscriber.under(prefix)) != seen:
        seen = len(subscriber.under(prefix))
        await trio.sleep(0.15)
    return subscriber.under(prefix)


class TestMqttSink(SinkContract):
    at_least_once = True
    port: int
    sub: Subscriber

    @pytest.fixture
    async def medium(self, request: pytest.FixtureRequest, broker: MosquittoProcess, subscriber: Subscriber) -> None:
        request.instance.port = broker.port
        request.instance.sub = subscriber

    def target(self, path: Path) -> str:
        return f"mqtt://127.0.0.1:{self.port}/{prefix_of(path)}"

    def options(self, path: Path) -> SinkOptions:
        return SinkOptions(cursor_dir=str(path / "cursors"))

    def make_sink(self, path: Path) -> MqttSink:
        return MqttSink(self.target(path), self.options(path))

    async def stored(self, path: Path) -> list[Stored]:
        records = [json.loads(body) for _, body, _, _ in await settled(self.sub, prefix_of(path))]
        return [(r["seq"], r["uid"], r["t"], r["d"]) for r in records]

    def spec(self, path: Path) -> tuple[str, SinkOptions]:
        return f"mqtt:{self.target(path)}", self.options(path)


async def test_topics_qos_and_home_assistant_discovery(
    broker: MosquittoProcess, subscriber: Subscriber, tmp_path: Path
) -> None:
    target = f"mqtt://127.0.0.1:{broker.port}/ha-test?homeassistant=1&discovery_prefix=ha-test/disc"
    sink = MqttSink(target, SinkOptions(cursor_dir=str(tmp_path)))
    await sink.open()
    try:
        await sink.write([reading(1, uid="alice/1", val=71), reading(2, uid="alice/1", val=72)], 2)
        await sink.write([reading(3, uid="alice/1", t="ACCELERATION", d=[0.0, 9.8, 0.1])], 3)
    finally:
        await sink.aclose()
    messages = await settled(subscriber, "ha-test")
    topics = [topic for topic, *_ in messages]
    assert topics == [
        "ha-test/disc/sensor/wearstream_alice_1_HEART_RATE/config",
        "ha-test/alice%2F1/HEART_RATE",
        "ha-test/alice%2F1/HEART_RATE",
        "ha-test/alice%2F1/ACCELERATION",
    ]
    config = json.loads(messages[0][1])
    assert config["state_topic"] == "ha-test/alice%2F1/HEART_RATE"
    assert config["unit_of_measurement"] == "bpm"
    assert config["value_template"] == "{{ value_json.d.val }}"
    assert config["state_class"] == "measurement"
    assert [qos for *_, qos in messages[1:]] == [1, 1, 1]
    assert json.loads(messages[1][1])["d"]["val"] == 71


def test_discovery_configs_carry_home_assistant_classes() -> None:
    assert discovery_config("u", "POWER", "p/u/POWER")["device_class"] == "power"  # type: ignore[index]
    assert discovery_config("u", "STEPS", "p/u/STEPS")["state_class"] == "total_increasing"  # type: ignore[index]
    assert discovery_config("u", "ECG", "p/u/ECG") is None
    assert "unit_of_measurement" not in discovery_config("u", "MY_SENSOR", "p/u/MY_SENSOR")  # type: ignore[operator]


def test_topic_levels_never_split_or_wildcard() -> None:
    assert topic_level("a/b+c#d%e") == "a%2Fb%2Bc%23d%25e"
    assert topic_level("user-ü ❤") == "user-ü ❤"


@pytest.mark.parametrize(
    "target, message",
    [
        ("http://h/x", "needs a URL"),
        ("mqtt://h/x?qos=3", "qos='3'"),
        ("mqtt://h/x?colour=red", "unknown option"),
    ],
)
def test_a_bad_target_is_one_clear_error(target: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MqttTarget(target)


async def test_an_unreachable_broker_is_one_clear_error(tmp_path: Path) -> None:
    sink = MqttSink("mqtt://127.0.0.1:1/x", SinkOptions(cursor_dir=str(tmp_path)))
    with pytest.raises(ConnectionError, match="cannot connect to 127.0.0.1:1"):
        await sink.open()
