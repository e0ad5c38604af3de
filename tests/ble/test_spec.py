from __future__ import annotations

import pytest

from wearstream.adapters.ble.spec import Target, parse_spec
from wearstream.adapters.ble.transport import BleTransport
from wearstream.domain.errors import SpecError


def test_address_is_normalised_to_upper_case():
    assert parse_spec("aa:bb:cc:dd:ee:0f") == Target(address="AA:BB:CC:DD:EE:0F")


def test_name_glob_matches_case_insensitively():
    target = parse_spec("name=Polar*")
    assert target.matches_name("polar H10 1234")
    assert not target.matches_name("Wahoo TICKR")
    assert not target.matches_name(None)


@pytest.mark.parametrize("spec", ["", "name=", "AA:BB:CC:DD:EE", "AA:BB:CC:DD:EE:FG", "polar"])
def test_malformed_specs(spec):
    with pytest.raises(SpecError):
        BleTransport().open(spec)


def test_open_describes_the_device_before_connecting():
    source = BleTransport().open("C0:FF:EE:00:00:01")
    assert (source.device.id, source.device.transport) == ("C0:FF:EE:00:00:01", "ble")
    assert BleTransport.name == "ble"


def test_registered_as_the_ble_transport_entry_point():
    from importlib.metadata import entry_points

    (entry,) = entry_points(group="wearstream.transports", name="ble")
    assert entry.load() is BleTransport
