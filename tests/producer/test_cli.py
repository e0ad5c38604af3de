"""`wearstream producer` options: from flags, WEARSTREAM_* and TOML, checked before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from wearstream.entrypoints.cli import build_parser
from wearstream.entrypoints.producer import UsageError, default_outbox, settings_from_args

BASE = ["producer", "--user-id", "u1", "--device", "sim:hr-strap?rate=50",
        "--broker-url", "ws://127.0.0.1:8765/connect"]


def settings(argv: list[str], environ: dict[str, str] | None = None, config: dict | None = None):
    args = build_parser(config or {}, environ or {}).parse_args(argv)
    return settings_from_args(args)


def test_a_token_command_is_enough() -> None:
    s = settings([*BASE, "--token-command", "get-token", "--device", "sim:bike"])
    assert s.token_command == "get-token" and s.devices == ("sim:hr-strap?rate=50", "sim:bike")
    assert s.outbox is None and s.window == 1000


def test_options_come_from_the_environment_and_toml() -> None:
    environ = {"WEARSTREAM_USER_ID": "u9", "WEARSTREAM_DEVICE": "sim:watch",
               "WEARSTREAM_BROKER_URL": "ws://broker/connect"}
    config = {"producer": {"dev-id": "dev_1", "api-key": "k", "api-url": "http://broker:8766"}}
    s = settings(["producer"], environ, config)
    assert (s.user_id, s.devices, s.broker_url) == ("u9", ("sim:watch",), "ws://broker/connect")
    assert (s.dev_id, s.api_key, s.api_url) == ("dev_1", "k", "http://broker:8766")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "exactly one way to get tokens"),
        (["--token", "t", "--token-command", "c"], "got --token, --token-command"),
        (["--dev-id", "d", "--api-key", "k"], "needs --api-key and --api-url"),
    ],
)
def test_bad_combinations_are_refused(extra: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        settings([*BASE, *extra])


def test_the_broker_url_must_be_a_websocket_url(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*BASE[:-1], "http://127.0.0.1:8766", "--token", "t"]
    with pytest.raises(SystemExit) as exited:
        settings(argv)
    assert exited.value.code == 2 and "give ws://HOST:PORT/connect" in capsys.readouterr().err


def test_the_default_outbox_is_per_user_in_the_data_dir() -> None:
    path = default_outbox("alice/../x y")
    assert path.name == "outbox-alice%2F..%2Fx%20y.db"
    assert path.parent.name == "wearstream" and isinstance(path, Path)
