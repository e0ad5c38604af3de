"""Every bound of docs/limits.md is a broker flag, also settable by environment and TOML."""

from __future__ import annotations

import pytest

from wearstream.domain.limits import HubLimits
from wearstream.entrypoints.broker import hub_limits, settings_from_args
from wearstream.entrypoints.cli import build_parser


def limits(argv: list[str], config: dict | None = None, environ: dict | None = None) -> HubLimits:
    args = build_parser(config or {}, environ or {}).parse_args(["broker", *argv])
    return hub_limits(settings_from_args(args))


def test_the_defaults_are_the_hub_defaults() -> None:
    assert limits([]) == HubLimits()


def test_flags_environment_and_toml_set_each_bound() -> None:
    got = limits(
        ["--consumer-queue-bytes", "64MiB", "--max-pending-replays", "4", "--send-timeout", "5"],
        config={"broker": {"max-dashboards": 2, "dashboard-queue-bytes": 65536}},
        environ={"WEARSTREAM_MAX_DEVICES_PER_USER": "3", "WEARSTREAM_SUBMIT_QUEUE_BYTES": "512KiB",
                 "WEARSTREAM_PRESENCE_INTERVAL": "1.5"},
    )
    assert got == HubLimits(
        submit_queue_bytes=512 * 1024,
        consumer_queue_bytes=64 * 1024 * 1024,
        max_pending_replays=4,
        max_dashboards=2,
        dashboard_queue_bytes=65536,
        max_devices=3,
        presence_interval=1.5,
        send_timeout=5.0,
    )


@pytest.mark.parametrize(
    "argv",
    [["--consumer-queue-bytes", "lots"], ["--consumer-queue-bytes", "12"], ["--max-dashboards", "0"],
     ["--send-timeout", "-1"], ["--max-pending-replays", "two"]],
)
def test_a_bad_bound_is_refused_naming_the_value(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        limits(argv)
    assert stop.value.code == 2
    assert repr(argv[1]) in capsys.readouterr().err


@pytest.mark.parametrize(
    ("size", "value"),
    [("1024", 1024), ("1KiB", 1024), ("1.5MiB", 1572864), ("2G", 2 * 1024**3), ("1MB", 10**6)],
)
def test_sizes(size: str, value: int) -> None:
    assert limits(["--consumer-queue-bytes", size]).consumer_queue_bytes == value


@pytest.mark.parametrize(
    ("text", "value"), [("2ms", 0.002), ("0", 0.0), ("0.005", 0.005), ("500us", 0.0005), ("0.5s", 0.5)]
)
def test_coalesce_takes_seconds_or_a_unit(text: str, value: float) -> None:
    assert limits(["--coalesce", text]).coalesce == pytest.approx(value)


@pytest.mark.parametrize("text", ["soon", "-0.5", "2", "nan", "3 minutes"])
def test_a_bad_coalesce_is_refused_naming_the_value(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        limits(["--coalesce", text])
    assert stop.value.code == 2
    assert repr(text) in capsys.readouterr().err
