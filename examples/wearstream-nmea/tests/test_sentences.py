"""NMEA sentences to fixes, without I/O.

The first examples are the ones published with their checksums in widely used NMEA 0183
references (Dale DePriest's "NMEA data" pages, gpsinformation.org, for ``123519`` and
``225446``; the ``092750.000`` pair from a SIRF-based receiver's output, as quoted in many
tutorials): checking them tests the checksum against values computed by others, not by us.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from wearstream.domain.samples import Sample
from wearstream_nmea.sentences import KNOT_M_S, BadSentence, Fix, Receiver, checksum, parse

NOW = datetime(2025, 6, 15, 10, 30, tzinfo=timezone.utc)

RMC_1994 = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
GGA_1994 = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
RMC_VANCOUVER = "$GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,191194,020.3,E*68"
GGA_DUBLIN = "$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76"
RMC_DUBLIN = "$GPRMC,092750.000,A,5321.6802,N,00630.3372,W,0.02,31.66,280511,,,A*43"


def _signed(body: str) -> str:
    return f"${body}*{checksum(body)}"


@pytest.mark.parametrize("sentence", [RMC_1994, GGA_1994, RMC_VANCOUVER, GGA_DUBLIN, RMC_DUBLIN])
def test_published_checksums(sentence: str) -> None:
    body, _, given = sentence[1:].partition("*")
    assert checksum(body) == given


def test_rmc_gives_position_speed_and_its_own_date() -> None:
    fix = parse(RMC_1994, NOW)
    assert fix == Fix(
        datetime(1994, 3, 23, 12, 35, 19, tzinfo=timezone.utc),
        pytest.approx(48 + 7.038 / 60),
        pytest.approx(11 + 31.0 / 60),
        pytest.approx(22.4 * KNOT_M_S),
    )


def test_south_and_west_are_negative() -> None:
    fix = parse(RMC_VANCOUVER, NOW)
    assert fix is not None
    assert fix.latitude == pytest.approx(49 + 16.45 / 60)
    assert fix.longitude == pytest.approx(-(123 + 11.12 / 60))
    assert fix.ts == datetime(1994, 11, 19, 22, 54, 46, tzinfo=timezone.utc)


def test_gga_is_dated_by_the_day_nearest_to_the_reference() -> None:
    fix = parse(GGA_DUBLIN, NOW)
    assert fix is not None and fix.speed_m_s is None
    assert fix.ts == datetime(2025, 6, 15, 9, 27, 50, tzinfo=timezone.utc)
    just_after_midnight = datetime(2025, 6, 16, 0, 5, tzinfo=timezone.utc)
    before_midnight = _signed("GPGGA,235950.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,")
    late = parse(before_midnight, just_after_midnight)
    assert late is not None and late.ts == datetime(2025, 6, 15, 23, 59, 50, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "sentence",
    [
        "$GPRMC,101458.00,V,,,,,,,150625,,,N*71",  # the receiver has no fix yet
        "$GPGGA,101458.00,,,,,0,00,99.99,,,,,,*6F",
        "$GPGSA,A,3,02,05,12,13,15,18,24,29,,,,,1.80,1.01,1.49*01",  # other types carry nothing
    ],
)
def test_sentences_without_a_fix_carry_nothing(sentence: str) -> None:
    assert parse(sentence, NOW) is None


def test_an_undated_gga_is_checked_but_carries_nothing() -> None:
    assert parse(GGA_DUBLIN, None) is None
    with pytest.raises(BadSentence, match="checksum"):
        parse(GGA_DUBLIN.replace("*76", "*77"), None)


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        (RMC_1994.replace("4807", "4808"), "checksum '6A', computed 65"),
        (RMC_1994[:-3], "has no checksum"),
        (RMC_1994[1:], "does not start with \\$"),
        (_signed("GPRMC,123519,A,4807.038,N"), "RMC has 4 fields"),
        (_signed("GPGGA,123519,4807.038"), "GGA has 2 fields"),
        (_signed("GPRMC,123519,A,4807.038,X,01131.000,E,022.4,084.4,230394"), "hemisphere 'X'"),
        (_signed("GPRMC,123519,A,4867.038,N,01131.000,E,022.4,084.4,230394"), "out of range"),
        (_signed("GPRMC,123519,A,48x7.038,N,01131.000,E,022.4,084.4,230394"), "is not ddmm"),
        (_signed("GPRMC,126519,A,4807.038,N,01131.000,E,022.4,084.4,230394"), "time '126519'"),
        (_signed("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,320394"), "date '320394'"),
        (_signed("GPRMC,123519,A,4807.038,N,01131.000,E,fast,084.4,230394"), "speed 'fast'"),
    ],
)
def test_bad_sentences_say_why(sentence: str, reason: str) -> None:
    with pytest.raises(BadSentence, match=reason):
        parse(sentence, NOW)


def test_one_location_per_fix_speed_from_rmc_and_gga_dated_by_rmc() -> None:
    receiver = Receiver()
    readings = receiver.readings(RMC_DUBLIN) + receiver.readings(GGA_DUBLIN)
    assert [label for label, _, _ in readings] == ["LOCATION", "SPEED"]
    assert {ts for _, ts, _ in readings} == {datetime(2011, 5, 28, 9, 27, 50, tzinfo=timezone.utc)}
    for label, ts, value in readings:  # the shapes and units the domain expects
        Sample(label, ts, value, "u", "d")


def test_a_gga_counts_only_once_an_rmc_gave_the_date() -> None:
    receiver = Receiver()
    assert receiver.readings(GGA_DUBLIN) == []
    receiver.readings(RMC_DUBLIN)
    next_second = _signed("GPGGA,092751.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,")
    ((label, ts, value),) = receiver.readings(next_second)
    assert (label, ts) == ("LOCATION", datetime(2011, 5, 28, 9, 27, 51, tzinfo=timezone.utc))
    assert value == pytest.approx((53.36134, -6.50562))
