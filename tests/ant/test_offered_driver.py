"""openant finds a session's driver through its public registry, joined once at import: nothing
edits the registry at run time, and without an offer openant finds what it always found."""

from __future__ import annotations

from openant.base import driver as openant_driver

from wearstream.adapters.ant.stick import OfferedDriver


class Recording(openant_driver.Driver):
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


def test_the_registry_holds_the_entry_once_and_it_hides_without_an_offer() -> None:
    assert openant_driver.drivers.count(OfferedDriver) == 1
    assert not OfferedDriver.find()


def test_openant_finds_the_offered_driver_once() -> None:
    before = list(openant_driver.drivers)
    inner = Recording()
    OfferedDriver.offered = inner
    try:
        found = openant_driver.find_driver()
    finally:
        OfferedDriver.offered = None
    assert isinstance(found, OfferedDriver) and found.inner is inner
    found.write(b"\xa4")
    assert inner.written == [b"\xa4"]
    assert not OfferedDriver.find()  # taken: a second Node() would not get it
    assert openant_driver.drivers == before
