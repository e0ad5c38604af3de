"""``mqtt:URL``: each reading published to an MQTT broker, QoS 1, optionally announced to Home Assistant.

Spec: ``mqtt://[user[:password]@]host[:1883]/prefix`` (``mqtts://…:8883`` for TLS, verified against
the system's CAs or ``?ca=/path/ca.pem``). Query options: ``qos`` (0, 1 (default) or 2),
``retain`` (1: keep the latest reading per topic on the broker), ``homeassistant`` (1: publish
discovery configs), ``discovery_prefix`` (default ``homeassistant``), ``client_id``.

Topic ``<prefix>/<user>/<type>``, payload the reading's JSON record as the jsonl sink writes it
(``{"seq", "uid", "t", "d"}``). A user id holding MQTT's special characters (``/ + # %``, or NUL)
has them percent-encoded in the topic, so one user is always one topic level.

Delivery is at least once: the cursor (a file under the consumer's cursor dir) moves only after the
MQTT broker acknowledged every message of the batch (PUBACK at QoS 1), so a crash in between
publishes the batch again after a restart. Subscribers dedupe by ``seq``.

Home Assistant (``?homeassistant=1``): before the first reading of a (user, scalar type), a
retained config is published to ``<discovery_prefix>/sensor/wearstream_<user>_<type>/config``
naming the state topic, the unit, the device class where Home Assistant has one (speed, power,
distance, temperature, battery…) and ``state_class: measurement`` (``total_increasing`` for
accumulated counts such as steps), grouped as one device per user. Array readings (ECG,
acceleration) are published but not announced: Home Assistant sensors hold one number.

The client is paho-mqtt, whose network loop runs in its own thread; publishing and waiting for
acknowledgements run in trio worker threads.
"""

from __future__ import annotations

import re
import ssl
import threading
from typing import Any, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import trio

from ...domain.datatypes import Shape, resolve
from ...domain.stream import Payload
from ...ports.sinks import SinkOptions
from .cursor import CursorFile, cursor_file_name, new_payloads
from .records import json_record

INSTALL_HINT = "the mqtt sink needs paho-mqtt: pip install 'wearstream[mqtt]'"
ACK_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
# Home Assistant device classes and state classes for the data types that have one.
_DEVICE_CLASS = {
    "SPEED": "speed",
    "POWER": "power",
    "DISTANCE": "distance",
    "CORE_TEMPERATURE": "temperature",
    "SKIN_TEMPERATURE": "temperature",
    "BATTERY": "battery",
    "CALORIES": "energy",
}
_HA_UNIT = {"kcal": "kcal", "m/s": "m/s", "m": "m", "W": "W", "°C": "°C", "%": "%"}
_ESCAPE = {char: f"%{ord(char):02X}" for char in "/+#%\0"}
_OBJECT_ID = re.compile(r"[^a-zA-Z0-9_-]")


class MqttSink:
    """The ``mqtt`` SinkFactory: ``MqttSink("mqtt://localhost:1883/wearstream", options)``."""

    usage = "mqtt://HOST[:PORT]/PREFIX[?qos=N&homeassistant=1]"  # what `wearstream sinks` shows

    def __init__(self, target: str, options: SinkOptions) -> None:
        self.settings = MqttTarget(target)
        self.cursor_file = CursorFile(options.cursor_dir, cursor_file_name("mqtt", target))
        self._client: Any = None
        self._cursor = 0
        self._announced: set[tuple[str, str]] = set()

    async def open(self) -> int:
        self._cursor = await self.cursor_file.load()
        self._client = await trio.to_thread.run_sync(self.settings.connect)
        return self._cursor

    async def write(self, payloads: Sequence[Payload], cursor: int) -> None:
        fresh = new_payloads(payloads, self._cursor, cursor)
        messages = [message for payload in fresh for message in self._messages(payload)]
        cursor = max(cursor, self._cursor)
        if cursor == self._cursor:
            return
        if messages:
            await trio.to_thread.run_sync(self._publish_all, messages)
        await self.cursor_file.save(cursor)
        self._cursor = cursor

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await trio.to_thread.run_sync(_disconnect, client)

    def _messages(self, payload: Payload) -> list[tuple[str, bytes, bool]]:
        """(topic, body, retain) for one payload: its discovery config first when it needs one."""
        settings = self.settings
        topic = f"{settings.prefix}/{topic_level(payload.uid)}/{topic_level(payload.t)}"
        out = [(topic, json_record(payload), settings.retain)]
        key = (payload.uid, payload.t)
        if settings.homeassistant and key not in self._announced:
            config = discovery_config(payload.uid, payload.t, topic)
            if config is not None:
                object_id = _OBJECT_ID.sub("_", f"wearstream_{payload.uid}_{payload.t}")
                config_topic = f"{settings.discovery_prefix}/sensor/{object_id}/config"
                out.insert(0, (config_topic, orjson.dumps(config), True))
            self._announced.add(key)
        return out

    def _publish_all(self, messages: list[tuple[str, bytes, bool]]) -> None:
        client = self._client
        if client is None:
            raise RuntimeError("mqtt sink is not open")
        infos = [client.publish(topic, body, qos=self.settings.qos, retain=retain) for topic, body, retain in messages]
        for info in infos:
            info.wait_for_publish(ACK_TIMEOUT)
            if not info.is_published():
                raise ConnectionError(
                    f"mqtt sink: {self.settings.host}:{self.settings.port} did not acknowledge a message "
                    f"within {ACK_TIMEOUT:.0f} s"
                )


class MqttTarget:
    """What the sink's URL says: where to connect, how, and what to publish."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("the mqtt sink needs a URL, e.g. mqtt:mqtt://localhost:1883/wearstream")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"qos", "retain", "homeassistant", "discovery_prefix", "client_id", "ca"}
        if unknown:
            raise ValueError(f"mqtt sink: unknown option(s) {', '.join(sorted(unknown))} in {target!r}")
        self.tls = parts.scheme == "mqtts"
        self.host = parts.hostname
        self.port = parts.port or (8883 if self.tls else 1883)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.prefix = parts.path.strip("/") or "wearstream"
        self.qos = _choice(query, "qos", "1", ("0", "1", "2"))
        self.retain = _choice(query, "retain", "0", ("0", "1")) == "1"
        self.homeassistant = _choice(query, "homeassistant", "0", ("0", "1")) == "1"
        self.discovery_prefix = query.get("discovery_prefix", "homeassistant").strip("/")
        self.client_id = query.get("client_id", "")
        self.ca = query.get("ca")

    def connect(self) -> Any:
        """A connected paho client with its network loop running (blocking: call from a thread)."""
        mqtt = _paho()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv311)
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set_context(ssl.create_default_context(cafile=self.ca))
        connected = Handoff()
        client.on_connect = lambda _c, _u, _f, reason, _p: connected.set(reason)
        try:
            client.connect(self.host, self.port, keepalive=30)
        except (OSError, ssl.SSLError) as error:
            raise ConnectionError(f"mqtt sink: cannot connect to {self.host}:{self.port}: {error}") from None
        client.loop_start()
        reason = connected.wait(CONNECT_TIMEOUT)
        if reason is None or reason.is_failure:
            _disconnect(client)
            why = "no answer" if reason is None else str(reason)
            raise ConnectionError(f"mqtt sink: {self.host}:{self.port} refused the connection: {why}")
        return client


class Handoff:
    """A one-shot value handed from paho's thread to the connecting thread."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._value: Any = None

    def set(self, value: Any) -> None:
        self._value = value
        self._event.set()

    def wait(self, timeout: float) -> Any:
        return self._value if self._event.wait(timeout) else None


def topic_level(text: str) -> str:
    """``text`` as one MQTT topic level: ``/``, wildcards, ``%`` and NUL percent-encoded (MQTT
    topics are UTF-8, so everything else stays as it is)."""
    return "".join(_ESCAPE.get(char, char) for char in text)


def discovery_config(uid: str, t: str, state_topic: str) -> dict[str, Any] | None:
    """Home Assistant's MQTT discovery config for one user's scalar data type; None for arrays."""
    known = resolve(t)
    if known is not None and known.shape is not Shape.SCALAR:
        return None
    object_id = _OBJECT_ID.sub("_", f"wearstream_{uid}_{t}")
    config: dict[str, Any] = {
        "name": t.replace("_", " ").capitalize(),
        "unique_id": object_id,
        "object_id": object_id,
        "state_topic": state_topic,
        "value_template": "{{ value_json.d.val }}",
        "state_class": "total_increasing" if known is not None and known.info.accumulated else "measurement",
        "device": {
            "identifiers": [_OBJECT_ID.sub("_", f"wearstream_{uid}")],
            "name": f"wearstream {uid}",
            "manufacturer": "wearstream",
        },
    }
    if known is not None:
        config["unit_of_measurement"] = _HA_UNIT.get(known.unit, known.unit)
        device_class = _DEVICE_CLASS.get(known.value)
        if device_class is not None:
            config["device_class"] = device_class
    return config


def _choice(query: dict[str, str], key: str, default: str, allowed: tuple[str, ...]) -> Any:
    value = query.get(key, default)
    if value not in allowed:
        raise ValueError(f"mqtt sink: {key}={value!r} is not one of {', '.join(allowed)}")
    return int(value) if key == "qos" else value


def _paho() -> Any:
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return mqtt


def _disconnect(client: Any) -> None:
    client.disconnect()
    client.loop_stop()
