"""Options from flags, WEARSTREAM_* and the config file: one validation, one-line errors, help for all.

Run through the real console script, as a user would: a bad value must be a usage error (status 2)
naming where it came from, never a traceback, and never silently ignored.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wearstream.entrypoints.cli import build_parser, main
from wearstream.testing.broker_process import clean_environment

CLI = [sys.executable, "-m", "wearstream.entrypoints.cli"]


def wearstream(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], capture_output=True, text=True, timeout=30, env={**clean_environment(), **(env or {})}
    )


def assert_one_line_usage_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in last, last


def test_an_unknown_key_in_a_command_table_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    config = tmp_path / "w.toml"
    config.write_text("[broker]\nprot = 1\n")
    result = wearstream("--config", str(config), "broker")
    assert_one_line_usage_error(result, "'prot'", "[broker]", str(config), "known keys:", " port,", " host,")


def test_an_unknown_table_or_top_level_key_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "w.toml"
    config.write_text("[brokr]\nport = 1\n")
    assert_one_line_usage_error(wearstream("--config", str(config), "broker"), "[brokr]", "broker, consumer")
    config.write_text("portt = 1\n")
    assert_one_line_usage_error(wearstream("--config", str(config), "broker"), "'portt'")


def test_an_environment_value_is_checked_like_the_flag() -> None:
    result = wearstream("broker", env={"WEARSTREAM_LOG_LEVEL": "verbose"})
    assert_one_line_usage_error(result, "WEARSTREAM_LOG_LEVEL", "--log-level", "'verbose'", "debug")


def test_a_config_value_is_checked_like_the_flag(tmp_path: Path) -> None:
    config = tmp_path / "w.toml"
    config.write_text("[broker]\nport = 70000\n")
    assert_one_line_usage_error(wearstream("--config", str(config), "broker"), "[broker] port", "65535")


def test_a_bad_value_for_another_command_does_not_stop_this_one() -> None:
    # WEARSTREAM_TIMEOUT is `token`'s and `scan`'s: scan's range is checked only when scan runs.
    result = wearstream("transports", env={"WEARSTREAM_TIMEOUT": "7200"})
    assert result.returncode in (0, 1) and "TIMEOUT" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--rate", "0"],
        ["demo", "--rate", "5000"],
        ["demo", "--duration", "inf"],
        ["broker", "--port", "70000"],
        ["broker", "--http-port", "-1"],
        ["broker", "--token-ttl", "0"],
        ["broker", "--token-ttl", "1e300"],
        ["broker", "--identify-timeout", "nan"],
        ["broker", "--heartbeat-interval", "0"],
        ["broker", "--max-consumers", "0"],
        ["broker", "--consumer-lease", "-1"],
        ["broker", "--retention-interval", "0"],
        ["producer", "--user-id", "u", "--device", "sim:watch", "--broker-url", "ws://h/c",
         "--token", "t", "--window", "0"],
        ["producer", "--user-id", "u", "--device", "sim:watch", "--broker-url", "ws://h/c",
         "--token", "t", "--drain-timeout", "-1"],
        ["consumer", "--api-url", "http://h", "--broker-url", "ws://h/c", "--dev-id", "d",
         "--api-key", "k", "--batch", "0"],
        ["token", "developer", "--timeout", "0"],
        ["scan", "--timeout", "4000"],
    ],
)
def test_every_number_out_of_range_is_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # In this process (the console script's own main, which a subprocess would run too): 17
    # interpreters would cost more than the checks; test_a_config_value_… runs the real process.
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert argv[-2] in last and "Traceback" not in last, last


def test_booleans_come_from_the_environment_too() -> None:
    parser = build_parser({}, {"WEARSTREAM_JSON": "yes"})
    assert parser.parse_args(["transports"]).json is True
    assert parser.parse_args(["scan"]).json is True


def test_a_repeatable_option_on_the_line_replaces_the_environment_s() -> None:
    parser = build_parser({}, {"WEARSTREAM_TRANSPORT": "ble,ant"})
    assert parser.parse_args(["scan"]).transport == ["ble", "ant"]
    assert parser.parse_args(["scan", "--transport", "sim"]).transport == ["sim"]


def test_a_repeatable_value_with_a_space_or_a_comma_is_in_double_quotes() -> None:
    parser = build_parser({}, {"WEARSTREAM_TRANSPORT": '"ble:name=Polar H10*" "sim,1", ant'})
    assert parser.parse_args(["scan"]).transport == ["ble:name=Polar H10*", "sim,1", "ant"]
    kept = r"jsonl:/data/run#1.jsonl sqlite:/data/bob's.db csv:C:\data\x.csv"
    parser = build_parser({}, {"WEARSTREAM_TRANSPORT": kept})
    assert parser.parse_args(["scan"]).transport == kept.split(" ")  # #, ' and \ are kept


def test_an_unclosed_quote_in_the_environment_is_one_line() -> None:
    result = wearstream("scan", env={"WEARSTREAM_TRANSPORT": '"ble:name=Polar H10*'})
    assert_one_line_usage_error(result, "WEARSTREAM_TRANSPORT", "--transport", "quotation")


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--cors-origin", "notanorigin", "not a browser origin"),
        ("--cors-origin", "https://a.example,https://b.example/app", "not a browser origin"),
        ("--public-url", "https://broker.example/prefix", "at the root"),
        ("--public-url", "https://broker.example:99999", "at the root"),
    ],
)
def test_an_origin_or_public_url_that_cannot_work_is_a_usage_error(flag: str, value: str, words: str) -> None:
    assert_one_line_usage_error(wearstream("broker", flag, value), flag, words)


def _every_parser() -> list[tuple[str, object]]:
    root = build_parser({}, {})
    assert root.sources is not None
    return [(" ".join(path) or "wearstream", parser) for path, parser in root.sources.parsers.items()]


@pytest.mark.parametrize(("command", "parser"), _every_parser(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_option_of_every_command_has_help_text(command: str, parser: object) -> None:
    for names, kwargs in parser.options:  # type: ignore[attr-defined]
        assert kwargs.get("help"), f"{command} {names[0]} has no help text"


def test_the_defaults_are_in_the_help() -> None:
    out = wearstream("broker", "--help").stdout
    for shown in ("(default 8765)", "(default 300.0)", "(default 40000)", "(default info)"):
        assert shown in " ".join(out.split()), shown


REQUIRED = {
    "broker": [],
    "producer": ["--user-id", "u", "--device", "sim:hr-strap", "--broker-url", "ws://127.0.0.1:1/connect"],
    "consumer": ["--api-url", "http://127.0.0.1:1", "--broker-url", "ws://127.0.0.1:1/connect",
                 "--dev-id", "d", "--api-key", "k"],
}


@pytest.mark.parametrize("command", sorted(REQUIRED))
def test_every_command_takes_the_one_log_format_option(command: str) -> None:
    """One logging setup for every command: ``--log-format`` and ``--log-level`` on each."""
    argv = [command, *REQUIRED[command], "--log-format", "json", "--log-level", "debug"]
    args = build_parser().parse_args(argv)
    assert (args.log_format, args.log_level) == ("json", "debug")
