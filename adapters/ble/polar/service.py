"""The Polar Measurement Data (PMD) GATT service: its UUIDs and the numbers of its protocol.

Sources: Polar's BLE SDK (github.com/polarofficial/polar-ble-sdk): its documentation and the
Android client (``BlePMDClient``, ``PmdSetting``, ``PmdControlPointResponse``, ``PmdDataFrame``)
with its tests; and bleakheart (github.com/fsmeraldi/bleakheart), an independent Python client
of the H10.
"""

from __future__ import annotations

import enum

# bleak reports UUIDs in lower case.
PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"  # read, write, indicate
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"  # notify
SERVICE_NAME = "Polar Measurement Data"


class Measurement(enum.IntEnum):
    """Measurement types: the first byte of a data frame, and of every control-point request."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6
    SDK_MODE = 9

    @classmethod
    def name_of(cls, value: int) -> str:
        """A readable name for any byte, known or not, for error messages."""
        try:
            return cls(value).name
        except ValueError:
            return f"type {value}"
