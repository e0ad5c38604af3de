"""Errors of the BLE adapter."""

from __future__ import annotations

from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError

from ...domain.errors import DomainError

_NO_BUS = (FileNotFoundError, ConnectionRefusedError)
_BLUEZ_MISSING = (
    "org.freedesktop.DBus.Error.ServiceUnknown",  # nothing owns org.bluez: bluetoothd is not running
    "org.freedesktop.DBus.Error.NameHasNoOwner",
)
_NOT_ALLOWED = ("org.freedesktop.DBus.Error.AccessDenied",)


class DecodeError(DomainError):
    """A characteristic value that is truncated or malformed.

    It names the characteristic and the byte offset where decoding failed, so a log line is
    enough to find the device firmware's mistake; the session skips the value and carries on.
    """

    def __init__(self, characteristic: str, offset: int, reason: str) -> None:
        super().__init__(f"{characteristic}: {reason} at offset {offset}")
        self.characteristic = characteristic
        self.offset = offset
        self.reason = reason


def bluetooth_unreachable(error: BaseException) -> str | None:
    """The one line for an error that says Bluetooth itself cannot be used on this machine (no
    D-Bus system bus, no BlueZ on it, no adapter, not allowed), which retrying will not cure;
    None for any other error. ``wearstream scan`` and a ``ble:`` device say the same."""
    cause = _innermost(error)
    said = f"{type(cause).__name__}: {cause}"
    if isinstance(cause, _NO_BUS):
        why = "no D-Bus system bus"
    elif isinstance(cause, BleakDBusError) and cause.dbus_error in _BLUEZ_MISSING:
        why = "BlueZ is not on the D-Bus system bus"
    elif isinstance(cause, BleakDBusError) and cause.dbus_error in _NOT_ALLOWED:
        return (
            f"Bluetooth is not reachable: D-Bus does not allow this user to use BlueZ ({said}); "
            "add the user to the 'bluetooth' group (see docs/ble.md)"
        )
    elif isinstance(cause, (BleakBluetoothNotAvailableError, PermissionError)):
        why = str(cause) or "Bluetooth is not available"
    else:
        return None
    return (
        f"Bluetooth is not reachable: {why} ({said}); install BlueZ and start it "
        "(sudo systemctl enable --now bluetooth), and check that an adapter is present "
        "(bluetoothctl list)"
    )


def _innermost(error: BaseException) -> BaseException:
    """The error a nursery wrapped (the one a person can act on), not the group around it."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
