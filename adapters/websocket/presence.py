"""Presence: which of a user's producers are connected here, and what their devices reported.

Dashboards show it (PRESENCE frames, dashboard.py). Everything here is bounded by what the
producers' connections hold: a user has at most ``max_devices`` devices, and the devices a
producer connection reported go with it when it closes.
"""

from __future__ import annotations

import collections
import logging
from typing import Callable

import attrs
import trio

from ...domain.frames import Status
from .dashboard import encode_presence

log = logging.getLogger("wearstream.broker")

UserKey = tuple[str, str]  # (developer, user)


@attrs.define
class DeviceState:
    """A device as its last STATUS described it, and the producer connection that sent it."""

    connected: bool
    source: str | None
    reason: str | None
    at: float
    link: int = 0


class Presence:
    """The devices and producer connections of every user, per developer. ``changed(dev, uid)``
    is called after each change (the hub marks the user changed on the developer's dashboards)."""

    def __init__(self, max_devices: int, changed: Callable[[str, str], None]) -> None:
        self.max_devices = max_devices
        self.devices: dict[UserKey, dict[str, DeviceState]] = {}
        self.links: collections.Counter[UserKey] = collections.Counter()  # producer sockets
        self._over_device_cap: set[int] = set()  # producer connections told so (logged once)
        self._changed = changed

    def update(self, developer_id: str, uid: str, status: Status, link: int = 0) -> None:
        """Remember what a STATUS from producer connection ``link`` says of a device. A user has
        at most ``max_devices``: a new one past that replaces the device disconnected longest
        ago, or, when all are connected, is not recorded (logged once per connection)."""
        devices = self.devices.setdefault((developer_id, uid), {})
        device = status.device_id or ""
        if device not in devices and len(devices) >= self.max_devices:
            gone = [(state.at, name) for name, state in devices.items() if not state.connected]
            if not gone:
                if link not in self._over_device_cap:
                    self._over_device_cap.add(link)
                    log.warning(
                        "user %s of %s reports more than %d connected devices: STATUS of %r "
                        "and further new devices ignored",
                        uid, developer_id, self.max_devices, device[:64],
                    )
                return
            del devices[min(gone)[1]]
        devices[device] = DeviceState(
            status.connected, status.source, status.reason, trio.current_time(), link
        )
        self._changed(developer_id, uid)

    def link_changed(self, developer_id: str, uid: str, delta: int, link: int = 0) -> None:
        """A producer connection ``link`` of ``uid`` opened (+1) or closed (-1). The devices a
        closed connection reported go with it (a later run reports its own)."""
        key = (developer_id, uid)
        self.links[key] += delta
        if self.links[key] <= 0:
            del self.links[key]
        if delta < 0:
            self._over_device_cap.discard(link)
            devices = self.devices.get(key, {})
            for name in [name for name, state in devices.items() if state.link == link]:
                del devices[name]
            if not devices:
                self.devices.pop(key, None)
        self._changed(developer_id, uid)

    def users(self, developer_id: str) -> list[str]:
        """Every user of ``developer_id`` with a producer connected or a device remembered."""
        return sorted({u for d, u in [*self.devices, *self.links] if d == developer_id})

    def frame(self, developer_id: str, uid: str) -> str:
        """The PRESENCE frame of ``uid`` now."""
        key = (developer_id, uid)
        return encode_presence(uid, key in self.links, self.devices.get(key, {}))
