"""BlueZ's ``org.bluez`` D-Bus objects, emulated with dbus-fast, for the real bleak to talk to.

Only what bleak's BlueZ backend uses is here (read bleak/backends/bluezdbus/manager.py and
client.py): an adapter (``Adapter1``: discovery with a UUID filter), devices (``Device1``:
Connect/Disconnect, Connected, ServicesResolved, Name, Address, RSSI, UUIDs, ...), and per device
GATT services and characteristics (``GattService1``, ``GattCharacteristic1``: ReadValue,
WriteValue, StartNotify/StopNotify, Value changes as notifications and indications). ``ObjectManager.GetManagedObjects`` and
``InterfacesAdded``/``InterfacesRemoved`` come from dbus-fast's own export bookkeeping.

This module runs on asyncio (dbus-fast's loop): tests reach it through ``testing.bluez``, which
hosts it on an asyncio bridge thread.
"""

import asyncio
import itertools
from typing import Any, Awaitable, Callable

import attrs
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.errors import DBusError
from dbus_fast.service import ServiceInterface, dbus_property, method

ADAPTER_PATH = "/org/bluez/hci0"
ADVERTISING_PERIOD_S = 0.05


@attrs.define
class CharacteristicPlan:
    """One characteristic of an emulated peripheral; ``value_at(n)`` is its n-th value."""

    uuid: str
    value_at: Callable[[int], bytes]
    flags: tuple[str, ...] = ("notify",)
    on_change: bool = False  # notify only when the value changes (a battery level)
    # Custom behaviour (the Polar PMD emulation, ``bluez_polar``), given the live characteristic:
    # a WriteValue handler, and a player that replaces the ``value_at`` notifications.
    on_write: Callable[["GattCharacteristic1", bytes], None] | None = None
    player: Callable[["GattCharacteristic1"], Awaitable[None]] | None = None


@attrs.define
class PeripheralPlan:
    address: str
    name: str
    services: dict[str, list[CharacteristicPlan]]
    period_s: float = 0.05  # between notifications of one characteristic


class Adapter1(ServiceInterface):
    def __init__(self, bluez: "EmulatedBlueZ") -> None:
        super().__init__("org.bluez.Adapter1")
        self._bluez = bluez
        self.discovery_sessions = 0
        self.filter_uuids: set[str] = set()

    @method()
    def StartDiscovery(self):  # noqa: N802 (D-Bus names)
        self.discovery_sessions += 1
        if self.discovery_sessions == 1:
            self.emit_properties_changed({"Discovering": True})

    @method()
    def StopDiscovery(self):  # noqa: N802
        if self.discovery_sessions == 0:
            raise DBusError("org.bluez.Error.Failed", "No discovery started")
        self.discovery_sessions -= 1
        if self.discovery_sessions == 0:
            self.emit_properties_changed({"Discovering": False})

    @method()
    def SetDiscoveryFilter(self, properties: "a{sv}"):  # noqa: N802
        uuids = properties.get("UUIDs")
        self.filter_uuids = {u.lower() for u in uuids.value} if uuids else set()

    @method()
    def RemoveDevice(self, device: "o"):  # noqa: N802
        self._bluez.remove_device(device)

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":  # noqa: N802
        return "00:1A:7D:DA:71:13"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":  # noqa: N802
        return "wearstream-emulated-hci0"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":  # noqa: N802
        return "wearstream-emulated-hci0"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> "b":  # noqa: N802
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> "b":  # noqa: N802
        return self.discovery_sessions > 0

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> "as":  # noqa: N802
        return ["central", "peripheral"]

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":  # noqa: N802
        return []


class Device1(ServiceInterface):
    def __init__(self, peripheral: "Peripheral") -> None:
        super().__init__("org.bluez.Device1")
        self._p = peripheral
        self.rssi = -60

    @method()
    async def Connect(self):  # noqa: N802
        await self._p.connect()

    @method()
    def Disconnect(self):  # noqa: N802
        self._p.drop()

    @method()
    def Pair(self):  # noqa: N802
        raise DBusError("org.bluez.Error.NotSupported", "the emulated sensors need no pairing")

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":  # noqa: N802
        return self._p.plan.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":  # noqa: N802
        return "random"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":  # noqa: N802
        return self._p.plan.name

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":  # noqa: N802
        return self._p.plan.name

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> "o":  # noqa: N802
        return ADAPTER_PATH

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> "b":  # noqa: N802
        return self._p.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> "b":  # noqa: N802
        return self._p.connected

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> "b":  # noqa: N802
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> "b":  # noqa: N802
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> "b":  # noqa: N802
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> "b":  # noqa: N802
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> "b":  # noqa: N802
        return False

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":  # noqa: N802
        return list(self._p.plan.services)

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> "n":  # noqa: N802
        return self.rssi


class GattService1(ServiceInterface):
    def __init__(self, uuid: str, device_path: str) -> None:
        super().__init__("org.bluez.GattService1")
        self._uuid = uuid
        self._device_path = device_path

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":  # noqa: N802
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":  # noqa: N802
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> "o":  # noqa: N802
        return self._device_path

    @dbus_property(access=PropertyAccess.READ)
    def Includes(self) -> "ao":  # noqa: N802
        return []


class GattCharacteristic1(ServiceInterface):
    """Plays ``plan.value_at(0), value_at(1), …`` as notifications while notifying.

    The counter lives in the peripheral's plan state, so after a reconnect the values go on
    where they stopped, as a real sensor's would.
    """

    def __init__(self, plan: CharacteristicPlan, service_path: str, period_s: float, counter: Any) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.plan = plan
        self._service_path = service_path
        self._period_s = period_s
        self._counter = counter
        self._value = plan.value_at(0)
        self._task: asyncio.Task[None] | None = None

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":  # noqa: N802
        if "read" not in self.plan.flags:
            raise DBusError("org.bluez.Error.NotPermitted", "Read not permitted")
        return self._value

    @method()
    def WriteValue(self, value: "ay", options: "a{sv}"):  # noqa: N802
        if self.plan.on_write is None or "write" not in self.plan.flags:
            raise DBusError("org.bluez.Error.NotPermitted", "Write not permitted")
        self.plan.on_write(self, bytes(value))

    @method()
    def StartNotify(self):  # noqa: N802
        if not {"notify", "indicate"} & set(self.plan.flags):
            raise DBusError("org.bluez.Error.NotSupported", "Operation is not supported")
        if self._task is None:
            play = self.plan.player(self) if self.plan.player else self._play()
            self._task = asyncio.get_running_loop().create_task(play)
            self.emit_properties_changed({"Notifying": True})

    @method()
    def StopNotify(self):  # noqa: N802
        self.stop()
        self.emit_properties_changed({"Notifying": False})

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def notify(self, value: bytes) -> None:
        """Send ``value`` now, as a notification or indication, if the central subscribed."""
        self._value = value
        if self._task is not None:
            self.emit_properties_changed({"Value": value})

    async def _play(self) -> None:
        while True:
            await asyncio.sleep(self._period_s)
            value = self.plan.value_at(next(self._counter))
            if self.plan.on_change and value == self._value:
                continue
            self._value = value
            self.emit_properties_changed({"Value": value})

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":  # noqa: N802
        return self.plan.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":  # noqa: N802
        return self._service_path

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":  # noqa: N802
        return self._value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":  # noqa: N802
        return self._task is not None

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":  # noqa: N802
        return list(self.plan.flags)


class Peripheral:
    """One emulated sensor: advertises, accepts connections, and can misbehave on request."""

    def __init__(self, bluez: "EmulatedBlueZ", plan: PeripheralPlan) -> None:
        self._bluez = bluez
        self.plan = plan
        self.path = f"{ADAPTER_PATH}/dev_{plan.address.upper().replace(':', '_')}"
        self.device = Device1(self)
        self.connected = False
        self.exported = False
        self.absent_until = 0.0
        self.connect_calls = 0
        self.failures: list[tuple[str, str]] = []  # D-Bus errors for the next Connect calls
        self._counters = {c.uuid: itertools.count(1) for cs in plan.services.values() for c in cs}
        self._gatt: list[tuple[str, ServiceInterface]] = []

    @property
    def bus(self) -> MessageBus:
        return self._bluez.bus

    async def connect(self) -> None:
        self.connect_calls += 1
        if self.failures:
            name, text = self.failures.pop(0)
            raise DBusError(name, text)
        if self.connected:
            return
        await asyncio.sleep(0.01)  # a radio takes a moment
        self.connected = True
        self.device.emit_properties_changed({"Connected": True})
        self._export_gatt()
        self.device.emit_properties_changed({"ServicesResolved": True})

    def _export_gatt(self) -> None:
        handle = itertools.count(0x000A)
        for service_uuid, characteristics in self.plan.services.items():
            service_path = f"{self.path}/service{next(handle):04x}"
            self._gatt.append((service_path, GattService1(service_uuid, self.path)))
            for plan in characteristics:
                path = f"{service_path}/char{next(handle):04x}"
                counter = self._counters[plan.uuid]
                self._gatt.append((path, GattCharacteristic1(plan, service_path, self.plan.period_s, counter)))
        for path, interface in self._gatt:
            self.bus.export(path, interface)

    def drop(self) -> None:
        """The link ends (a Disconnect call, or the sensor going out of range)."""
        if not self.connected:
            return
        self.connected = False
        self.device.emit_properties_changed({"ServicesResolved": False})
        self.device.emit_properties_changed({"Connected": False})
        for path, interface in reversed(self._gatt):
            if isinstance(interface, GattCharacteristic1):
                interface.stop()
            self.bus.unexport(path, interface)
        self._gatt.clear()

    def remove(self, absent_s: float) -> None:
        """The sensor disappears from BlueZ altogether, and advertises again after ``absent_s``."""
        self.drop()
        if self.exported:
            self.bus.unexport(self.path, self.device)
            self.exported = False
        self.absent_until = asyncio.get_running_loop().time() + absent_s

    def advertise(self, filter_uuids: set[str]) -> None:
        if self.connected or asyncio.get_running_loop().time() < self.absent_until:
            return
        if filter_uuids and not filter_uuids & {u.lower() for u in self.plan.services}:
            return
        if not self.exported:
            self.bus.export(self.path, self.device)  # InterfacesAdded: a new device is seen
            self.exported = True
        else:
            self.device.rssi = -60 if self.device.rssi != -60 else -61
            self.device.emit_properties_changed({"RSSI": self.device.rssi})


class EmulatedBlueZ:
    """``org.bluez`` on a bus: one adapter, the planned peripherals, an advertising loop."""

    def __init__(self, plans: list[PeripheralPlan]) -> None:
        self.adapter = Adapter1(self)
        self.peripherals = {p.address.upper(): Peripheral(self, p) for p in plans}
        self._bus: MessageBus | None = None
        self._advertiser: asyncio.Task[None] | None = None

    @property
    def bus(self) -> MessageBus:
        assert self._bus is not None, "EmulatedBlueZ.start() first"
        return self._bus

    async def start(self, bus_address: str) -> None:
        self._bus = await MessageBus(bus_address=bus_address).connect()
        self._bus.export(ADAPTER_PATH, self.adapter)
        await self._bus.request_name("org.bluez")
        self._advertiser = asyncio.get_running_loop().create_task(self._advertise())

    async def stop(self) -> None:
        if self._advertiser is not None:
            self._advertiser.cancel()
        for peripheral in self.peripherals.values():
            peripheral.drop()
        if self._bus is not None:
            self._bus.disconnect()
            await self._bus.wait_for_disconnect()

    def remove_device(self, path: str) -> None:
        for peripheral in self.peripherals.values():
            if peripheral.path == path:
                peripheral.remove(0.0)
                return
        raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")

    async def _advertise(self) -> None:
        while True:
            if self.adapter.discovery_sessions:
                for peripheral in self.peripherals.values():
                    peripheral.advertise(self.adapter.filter_uuids)
            await asyncio.sleep(ADVERTISING_PERIOD_S)

