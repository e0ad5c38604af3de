"""The systemd units in deploy/: systemd itself checks them, and their command lines and
environment files make the settings they promise.

``systemd-analyze verify`` also checks that ExecStart's program exists, so the copies it sees
name this environment's ``wearstream`` instead of /opt/wearstream/venv/bin/wearstream.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wearstream.entrypoints import broker, producer
from wearstream.entrypoints.cli import build_parser
from wearstream.entrypoints.config import ENV_PREFIX

DEPLOY = Path(__file__).parents[2] / "deploy"
UNITS = ("wearstream-broker.service", "wearstream-producer.service")
INSTALLED = "/opt/wearstream/venv/bin/wearstream"


def unit_settings(name: str) -> dict[str, list[str]]:
    """``key -> values`` of a unit file (keys may repeat)."""
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def env_file(name: str) -> dict[str, str]:
    lines = (DEPLOY / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package: systemd)",
)
@pytest.mark.parametrize("name", UNITS)
def test_systemd_verifies_the_unit(name: str, tmp_path: Path) -> None:
    here = Path(sys.executable).parent / "wearstream"
    assert here.exists(), "wearstream's console script is installed beside this python"
    copy = tmp_path / name
    copy.write_text((DEPLOY / name).read_text().replace(INSTALLED, str(here)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    ours = [line for line in (result.stdout + result.stderr).splitlines() if name in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr


def command_line(unit: str, state: Path) -> list[str]:
    (start,) = unit_settings(unit)["ExecStart"]
    words = shlex.split(start.replace("${STATE_DIRECTORY}", str(state)))
    assert words[0] == INSTALLED
    return words[1:]


@pytest.mark.parametrize(
    ("unit", "env", "module"),
    [
        ("wearstream-broker.service", "broker.env", broker),
        ("wearstream-producer.service", "producer.env", producer),
    ],
)
def test_every_variable_is_an_option_of_its_command(unit: str, env: str, module: object) -> None:
    (environment_file,) = unit_settings(unit)["EnvironmentFile"]
    assert environment_file == f"/etc/wearstream/{env}"
    parser = build_parser(environ={})
    command = command_line(unit, Path("/state"))[0]
    options = {ENV_PREFIX + key.replace("-", "_").upper() for key in parser.command(command).keys()}
    ours = {key for key in env_file(env) if key.startswith(ENV_PREFIX)}
    assert ours <= options, ours - options


def test_the_broker_unit_keeps_its_state_in_the_state_directory(tmp_path: Path) -> None:
    args = build_parser(environ=env_file("broker.env")).parse_args(
        command_line("wearstream-broker.service", tmp_path)
    )
    settings = broker.settings_from_args(args)
    assert (settings.host, settings.port, settings.http_port) == ("0.0.0.0", 8765, None)
    assert settings.data_dir == str(tmp_path)


def test_the_producer_unit_gets_its_tokens_from_the_token_command(tmp_path: Path) -> None:
    args = build_parser(environ=env_file("producer.env")).parse_args(
        command_line("wearstream-producer.service", tmp_path)
    )
    settings = producer.settings_from_args(args)
    assert settings.token_command == "/etc/wearstream/token-command"
    assert settings.outbox == str(tmp_path / "outbox.db")
    assert settings.devices == ("ble:name=Polar*",) and settings.user_id == "runner-1"


def test_the_services_run_sandboxed_as_the_service_user() -> None:
    broker_unit = unit_settings("wearstream-broker.service")
    producer_unit = unit_settings("wearstream-producer.service")
    for unit in (broker_unit, producer_unit):
        assert unit["User"] == ["wearstream"] and unit["Restart"] == ["on-failure"]
        assert unit["ProtectSystem"] == ["strict"] and unit["NoNewPrivileges"] == ["yes"]
        assert unit["CapabilityBoundingSet"] == [""]
    assert "SupplementaryGroups" not in broker_unit
    assert producer_unit["SupplementaryGroups"] == ["bluetooth plugdev dialout"]
    members = [line.split()[2] for line in (DEPLOY / "wearstream.sysusers").read_text().splitlines()
               if line.startswith("m ")]
    assert members == ["bluetooth", "plugdev", "dialout"]


def test_the_broker_may_hold_more_descriptors_than_its_connection_cap_needs() -> None:
    """Each WebSocket holds one descriptor and each HTTP connection three (client, relay,
    hypercorn's end): the unit's LimitNOFILE covers --max-connections of WebSockets several
    times over, and the producer has a bound too."""
    from wearstream.entrypoints.broker import BrokerSettings

    (limit,) = unit_settings("wearstream-broker.service")["LimitNOFILE"]
    assert int(limit) >= 3 * BrokerSettings().max_connections
    (producer_limit,) = unit_settings("wearstream-producer.service")["LimitNOFILE"]
    assert int(producer_limit) >= 1024
