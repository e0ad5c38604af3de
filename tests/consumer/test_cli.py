"""`wearstream consumer` options: flags, WEARSTREAM_* variables and the TOML file."""

from __future__ import annotations

from wearstream.entrypoints.cli import build_parser
from wearstream.entrypoints.consumer import ConsumerSettings, settings_from_args

BASE = ["--api-url", "http://h:1", "--broker-url", "ws://h:2/connect", "--dev-id", "d", "--api-key", "k"]


def parse(argv: list[str], environ: dict[str, str] | None = None, config: dict | None = None) -> ConsumerSettings:
    args = build_parser(config or {}, environ or {}).parse_args(["consumer", *argv])
    return settings_from_args(args)


def test_defaults_to_stdout_and_no_filters() -> None:
    s = parse(BASE)
    assert s.sink == ("stdout",) and s.user == () and s.type == ()
    assert s.subscription().matches("anyone", "STEPS")
    assert s.sink_options().format == "text"


def test_repeatable_options() -> None:
    s = parse([*BASE, "--sink", "jsonl:a", "--sink", "sqlite:b", "--user", "u1", "--user", "u2",
               "--type", "HEART_RATE", "--format", "jsonl", "--webhook-secret", "x", "--cursor-dir", "/c"])
    assert s.sink == ("jsonl:a", "sqlite:b")
    assert s.subscription().matches("u2", "RUNNING_HEART_RATE")
    assert not s.subscription().matches("u3", "HEART_RATE")
    assert s.sink_options().webhook_secret == "x" and s.sink_options().cursor_dir == "/c"


def test_everything_from_the_environment() -> None:
    env = {
        "WEARSTREAM_API_URL": "http://e:1",
        "WEARSTREAM_BROKER_URL": "ws://e:2/connect",
        "WEARSTREAM_DEV_ID": "dev_env",
        "WEARSTREAM_API_KEY": "key_env",
        "WEARSTREAM_SINK": "jsonl:a.jsonl sqlite:b.db",
        "WEARSTREAM_TYPE": "STEPS",
    }
    s = parse([], env)
    assert (s.api_url, s.dev_id, s.api_key) == ("http://e:1", "dev_env", "key_env")
    assert s.sink == ("jsonl:a.jsonl", "sqlite:b.db") and s.type == ("STEPS",)


def test_from_the_config_file() -> None:
    config = {"consumer": {"api-url": "http://c:1", "broker-url": "ws://c:2/connect",
                           "dev-id": "dev_c", "api-key": "key_c", "sink": ["csv:x.csv"], "batch": 7}}
    s = parse([], config=config)
    assert s.sink == ("csv:x.csv",) and s.batch == 7 and s.dev_id == "dev_c"


def test_a_bad_sink_exits_2_with_the_reason(capsys) -> None:  # type: ignore[no-untyped-def]
    from wearstream.entrypoints.cli import main

    assert main(["consumer", *BASE, "--sink", "nosuchsink:x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wearstream consumer: bad --sink") and "nosuchsink" in err


def test_a_token_api_url_that_cannot_work_exits_2_with_the_reason(capsys) -> None:  # type: ignore[no-untyped-def]
    from wearstream.entrypoints.cli import main

    argv = ["consumer", "--api-url", "ftp://h", *BASE[2:], "--sink", "stdout"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "the API URL must start with http://" in err and "ftp://h" in err
