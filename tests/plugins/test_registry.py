"""The registry against the real installed entry points and a fake third-party package."""

from __future__ import annotations

from pathlib import Path

import pytest

from wearstream.adapters.simulated.transport import SimulatedTransport
from wearstream.entrypoints.plugins import (
    PluginError,
    installed_transports,
    list_sinks,
    list_transports,
    open_device,
    sink_for,
    split_spec,
    transport_for,
)
from wearstream.domain.errors import SpecError
from wearstream.ports.sinks import SinkOptions


@pytest.mark.parametrize(
    ("spec", "parts"),
    [
        ("sim:hr-strap?rate=5", ("sim", "hr-strap?rate=5")),
        ("ble:AA:BB:CC:DD:EE:FF", ("ble", "AA:BB:CC:DD:EE:FF")),
        ("jsonl:C:/data/hr.jsonl", ("jsonl", "C:/data/hr.jsonl")),
        ("webhook:https://example.org/hook", ("webhook", "https://example.org/hook")),
        ("stdout", ("stdout", "")),
        ("", ("", "")),
    ],
)
def test_the_prefix_is_before_the_first_colon(spec: str, parts: tuple[str, str]) -> None:
    assert split_spec(spec) == parts


def test_the_built_in_transports_are_entry_points() -> None:
    assert {"sim", "ble", "ant"} <= set(installed_transports())
    transport, rest = transport_for("sim:bike?seed=2")
    assert isinstance(transport, SimulatedTransport) and rest == "bike?seed=2"
    assert open_device("sim:bike?seed=2").device.id == "sim-bike-2"


def test_the_built_in_listing_names_package_and_version() -> None:
    sim = next(info for info in list_transports() if info.name == "sim")
    assert sim.distribution == "wearstream" and sim.version and sim.error is None
    assert "HEART_RATE" in sim.data_types
    assert sim.target == "wearstream.adapters.simulated.transport:SimulatedTransport"


def test_the_built_in_sinks_are_entry_points() -> None:
    names = {info.name for info in list_sinks()}
    assert {"stdout", "jsonl", "csv", "sqlite", "webhook"} <= names


def test_an_unknown_prefix_lists_the_installed_ones() -> None:
    with pytest.raises(SpecError, match="no transport called 'bluetooth'; installed: .*ble.*sim"):
        open_device("bluetooth:AA")
    with pytest.raises(SpecError, match="no sink called 'parquet'; installed: .*jsonl"):
        sink_for("parquet:/tmp/x", SinkOptions())


def test_a_transport_spec_error_passes_through_unchanged() -> None:
    with pytest.raises(SpecError, match="hr-strap, footpod, bike, watch") as error:
        open_device("sim:rowing-machine")
    assert not isinstance(error.value, PluginError)


def test_a_third_party_transport_loads_like_a_built_in(fake_package: Path) -> None:
    assert open_device("acme:band") == "band"
    with pytest.raises(SpecError, match="acme: no device 'watch'"):
        open_device("acme:watch")
    acme = next(info for info in list_transports() if info.name == "acme")
    assert (acme.distribution, acme.version) == ("acme-wearables", "2.5.1")
    assert acme.data_types == ("HEART_RATE", "SKIN_TEMPERATURE")


def test_a_broken_plugin_is_named_with_its_error_and_others_still_load(fake_package: Path) -> None:
    expected = r"'broken' \(acme_missing_module:Transport\).*ModuleNotFoundError"
    with pytest.raises(PluginError, match=expected):
        open_device("broken:x")
    by_name = {info.name: info for info in list_transports()}
    assert "ModuleNotFoundError" in by_name["broken"].error
    assert by_name["sim"].error is None and by_name["acme"].error is None
    assert open_device("sim:watch").device.id == "sim-watch-0"


def test_a_plugin_that_fails_when_built_is_a_plugin_error(fake_package: Path) -> None:
    with pytest.raises(PluginError, match="'exploding' failed: RuntimeError: needs a licence key"):
        transport_for("exploding:x")


def test_a_third_party_sink_gets_its_target_and_options(fake_package: Path) -> None:
    options = SinkOptions(format="jsonl")
    sink = sink_for("memo:a:b", options)
    assert (sink.target, sink.options) == ("a:b", options)
    assert sink_for("memo", options).target == ""


def test_a_broken_sink_is_reported_and_the_others_load(fake_package: Path) -> None:
    with pytest.raises(PluginError, match="sink plug-in 'brokensink'.*AttributeError"):
        sink_for("brokensink:x", SinkOptions())
    by_name = {info.name: info for info in list_sinks()}
    assert "AttributeError" in by_name["brokensink"].error
    assert by_name["memo"].error is None
    assert by_name["memo"].distribution == "acme-wearables"


def test_a_plugin_error_is_a_spec_error_for_callers() -> None:
    assert issubclass(PluginError, SpecError)
