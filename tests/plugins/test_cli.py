"""`wearstream scan`, `transports` and `sinks` as real subprocesses, with and without a fake
third-party package on PYTHONPATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import install_fake_package

pytestmark = pytest.mark.e2e
CLI_TIMEOUT = 30


def wearstream() -> list[str]:
    script = Path(sys.executable).with_name("wearstream")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "wearstream.entrypoints.cli"]


def cli(*args: str, path: Path | None = None, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEARSTREAM_")}
    env.update({f"WEARSTREAM_{k.upper()}": v for k, v in settings.items()})
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
    return subprocess.run(
        [*wearstream(), *args], capture_output=True, text=True, timeout=CLI_TIMEOUT, env=env
    )


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return install_fake_package(tmp_path / "site")


def test_scan_sim_lists_one_device_per_kind_as_json() -> None:
    result = cli("scan", "--transport", "sim", "--json")
    assert result.returncode == 0, result.stderr
    devices = json_lines(result.stdout)
    assert [d["id"] for d in devices] == [
        "sim-hr-strap-0", "sim-footpod-0", "sim-bike-0", "sim-watch-0",
    ]
    assert devices[0]["transport"] == "sim" and "RR_INTERVAL" in devices[0]["data_types"]
    assert isinstance(devices[0]["battery"], int)


def test_scan_prints_a_table() -> None:
    result = cli("scan", "--transport", "sim")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "TRANSPORT"]
    assert rows[0].startswith("sim-hr-strap-0") and rows[0].endswith("%")


def test_scan_of_all_transports_lists_sim_whatever_the_radios() -> None:
    """Without Bluetooth or an ANT stick those transports are named on stderr; sim still lists."""
    result = cli("scan", "--json", timeout="0")
    assert result.returncode == 0, result.stderr
    assert {"sim-hr-strap-0", "sim-watch-0"} <= {d["id"] for d in json_lines(result.stdout)}
    for line in result.stderr.splitlines():
        assert line.startswith(("wearstream scan: ble: ", "wearstream scan: ant: ")), line


def test_failing_scanners_are_named_and_the_others_list(site: Path) -> None:
    result = cli(
        "scan", "--json", "--timeout", "0", "--transport", "noradio", "--transport", "acme",
        "--transport", "broken", "--transport", "sim", "--transport", "hanging", path=site,
    )
    assert result.returncode == 1
    ids = {d["id"] for d in json_lines(result.stdout)}
    assert {"acme-1", "sim-bike-0"} <= ids
    errors = sorted(result.stderr.splitlines())
    assert len(errors) == 3, result.stderr
    assert errors[0].startswith("wearstream scan: broken: the transport plug-in 'broken'")
    assert "ModuleNotFoundError" in errors[0]
    assert errors[1] == "wearstream scan: hanging: TimeoutError: no answer within 2 s"
    assert errors[2] == "wearstream scan: noradio: no radio adapter found"


def test_scan_transports_from_the_environment(site: Path) -> None:
    result = cli("scan", "--json", path=site, transport="acme,sim", timeout="0")
    assert result.returncode == 0, result.stderr
    assert [d["transport"] for d in json_lines(result.stdout)] == ["acme"] + ["sim"] * 4


def test_scan_of_an_unknown_transport_lists_the_installed_ones() -> None:
    result = cli("scan", "--transport", "zigbee")
    assert result.returncode == 2
    assert "no transport called zigbee; installed: " in result.stderr and "sim" in result.stderr


def test_scan_rejects_a_bad_timeout() -> None:
    result = cli("scan", "--timeout", "soon")
    assert result.returncode == 2 and "'soon' is not a number of seconds" in result.stderr


def test_transports_lists_the_built_ins() -> None:
    result = cli("transports", "--json")
    assert result.returncode == 0, result.stdout
    by_name = {p["name"]: p for p in json_lines(result.stdout)}
    assert {"sim", "ble", "ant"} <= set(by_name)
    assert by_name["sim"]["package"] == "wearstream" and by_name["sim"]["error"] is None
    assert "POWER" in by_name["sim"]["data_types"]


def test_transports_lists_plugins_and_their_errors(site: Path) -> None:
    result = cli("transports", path=site)
    assert result.returncode == 1
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "acme-wearables 2.5.1" in rows["acme"] and "SKIN_TEMPERATURE" in rows["acme"]
    assert "error: " in rows["broken"] and "ModuleNotFoundError" in rows["broken"]
    assert "error: " not in rows["sim"]


def test_sinks_lists_plugins_and_their_errors(site: Path) -> None:
    result = cli("sinks", "--json", path=site)
    assert result.returncode == 1
    by_name = {p["name"]: p for p in json_lines(result.stdout)}
    assert {"stdout", "jsonl", "memo", "brokensink"} <= set(by_name)
    assert by_name["memo"]["package"] == "acme-wearables" and by_name["memo"]["error"] is None
    assert "AttributeError" in by_name["brokensink"]["error"]
