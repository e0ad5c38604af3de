from __future__ import annotations

import pytest

from wearstream.adapters.ant.profiles import BIKE_SPEED_CADENCE, HEART_RATE, BIKE_POWER
from wearstream.adapters.ant.spec import AntSpec, parse_spec
from wearstream.adapters.ant.transport import AntTransport
from wearstream.domain.errors import SpecError


def test_profile_alone_is_a_wildcard():
    assert parse_spec("hr") == AntSpec(HEART_RATE)
    assert parse_spec("hr").device_id == "hr"


def test_device_number_wheel_and_stick():
    spec = parse_spec("bike-sc:4242?wheel=2.096&device=/dev/ttyUSB0")
    assert spec == AntSpec(BIKE_SPEED_CADENCE, 4242, "/dev/ttyUSB0", 2.096)
    assert spec.device_id == "bike-sc:4242"


def test_device_option_without_number():
    assert parse_spec("power?device=/dev/pts/3") == AntSpec(BIKE_POWER, None, "/dev/pts/3")


@pytest.mark.parametrize(
    "spec",
    [
        "", "heart", "hr:", "hr:0", "hr:65536", "hr:-1", "hr:12a", "hr:²",
        "hr?wheel=2.1", "bike-sc?wheel=abc", "bike-sc?wheel=0.1", "bike-sc?wheel=nan",
        "power?colour=red", "power?device=ttyUSB0", "power?device=", "power?device=/a&device=/b",
    ],
)
def test_malformed_specs(spec):
    with pytest.raises(SpecError, match="ant:"):
        parse_spec(spec)


def test_transport_opens_sessions_named_for_their_device():
    transport = AntTransport()
    assert transport.name == "ant"
    session = transport.open("sdm:77")
    assert session.device.id == "sdm:77"
    assert session.device.transport == "ant"
    assert "STEPS" in session.device.data_types
