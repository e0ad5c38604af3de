"""What the commands print when something is off: the user's own words, the path, no noise."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from wearstream.testing.broker_process import clean_environment

CLI = [sys.executable, "-m", "wearstream.entrypoints.cli"]
CONSUMER = [*CLI, "consumer", "--api-url", "http://127.0.0.1:9", "--broker-url", "ws://127.0.0.1:9/connect",
            "--dev-id", "dev_x", "--api-key", "k"]


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=clean_environment())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_file_sink_without_a_path_shows_its_own_form() -> None:
    for scheme in ("csv", "jsonl", "sqlite"):
        result = run([*CONSUMER, "--sink", scheme])
        assert result.returncode == 2
        assert f"{scheme}:PATH" in result.stderr and "plug-in" not in result.stderr, result.stderr
        if scheme != "jsonl":
            assert "jsonl" not in result.stderr, result.stderr


def test_a_sqlite_sink_that_cannot_be_opened_names_its_path(tmp_path: Path) -> None:
    where = tmp_path / "a-folder.db"
    where.mkdir()  # sqlite says only "unable to open database file"
    result = run([*CONSUMER, "--sink", f"sqlite:{where}"])
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert str(where) in last and "Traceback" not in result.stderr, result.stderr


def test_a_sink_refusing_its_spec_or_its_file_says_so_in_its_own_words(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text("not json\n")
    for spec, code, words in (
        (f"jsonl:{foreign}", 1, "name a new one"),
        ("mqtt:127.0.0.1:1883", 2, "needs a URL"),
        ("webhook:not a url", 2, "needs an http(s) URL"),
    ):
        result = run([*CONSUMER, "--sink", spec])
        last = result.stderr.strip().splitlines()[-1]
        assert result.returncode == code and words in last, result.stderr
        assert "ValueError" not in result.stderr and "failed" not in last, result.stderr


def test_a_data_dir_that_is_a_file_is_named_as_such(tmp_path: Path) -> None:
    a_file = tmp_path / "data"
    a_file.write_text("")
    result = run([*CLI, "developers", "create", "x", "--data-dir", str(a_file)])
    assert result.returncode == 1 and "it is a file, not a directory" in result.stderr, result.stderr


def test_a_type_filter_that_names_no_data_type_is_warned_of(tmp_path: Path) -> None:
    consumer = subprocess.Popen(
        [*CONSUMER, "--type", "HEARTRATE", "--type", "HEART_RATE", "--sink", f"jsonl:{tmp_path / 'out.jsonl'}"],
        stderr=subprocess.PIPE, text=True, env=clean_environment(),
    )
    assert consumer.stderr is not None
    seen = []
    try:
        deadline = time.monotonic() + 30  # it warns at once, then retries the closed port
        while time.monotonic() < deadline and not any("--type" in line for line in seen):
            seen.append(consumer.stderr.readline())
    finally:
        consumer.send_signal(signal.SIGTERM)
        _, rest = consumer.communicate(timeout=30)
    warned = [line for line in [*seen, *rest.splitlines()] if "--type" in line]
    assert len(warned) == 1 and "did you mean HEART_RATE?" in warned[0], "".join(seen) + rest


def test_sinks_lists_how_to_name_each_sink() -> None:
    lines = run([*CLI, "sinks"]).stdout.splitlines()
    assert lines[0].split() == ["NAME", "PACKAGE", "SPEC"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["csv"].endswith("csv:PATH[?max_bytes=N&keep=N]") and rows["sqlite"].endswith("sqlite:PATH")
    assert all(not line.endswith(" -") for line in lines)


def test_a_producer_stopped_before_any_acknowledgement(tmp_path: Path) -> None:
    url = f"ws://127.0.0.1:{closed_port()}/connect"
    producer = subprocess.Popen(
        [*CLI, "producer", "--user-id", "u1", "--device", "sim:hr-strap", "--broker-url", url,
         "--token", "t", "--outbox", str(tmp_path / "outbox.db"), "--drain-timeout", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_environment(),
    )
    time.sleep(4)  # a few refused connections: backoff 0.5, 1, 2 s
    stopped = time.monotonic()
    producer.send_signal(signal.SIGTERM)
    out, err = producer.communicate(timeout=30)
    # The drain window, not a backoff beyond it: while draining, the link may still try again
    # where a try fits in the window (a memory outbox's readings would otherwise wait for the
    # next start), and a backoff that does not fit is cut short at the window's end.
    assert time.monotonic() - stopped < 1 + 2.5, err
    assert "acked=- " in out and "acked=-1" not in out, out


def test_a_token_command_that_does_not_exist_stops_the_producer(tmp_path: Path) -> None:
    broker = subprocess.Popen(
        [*CLI, "broker", "--port", "0", "--http-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=clean_environment(),
    )
    try:
        assert broker.stdout is not None
        ready = broker.stdout.readline()
        url = re.search(r"ws=(\S+)", ready)
        assert url, ready
        result = subprocess.run(
            [*CLI, "producer", "--user-id", "u1", "--device", "sim:hr-strap", "--broker-url", url[1],
             "--token-command", str(tmp_path / "no-such-script"), "--outbox", str(tmp_path / "o.db")],
            capture_output=True, text=True, timeout=60, env=clean_environment(),
        )
    finally:
        broker.terminate()
        broker.wait(timeout=30)
    assert result.returncode == 2, result.stderr
    assert "was not found" in result.stderr and "fix --token-command" in result.stderr, result.stderr


def test_a_cursor_dir_that_cannot_be_made_is_named() -> None:
    result = run([*CONSUMER, "--cursor-dir", "/proc/no-such/cursors", "--sink", "webhook:http://127.0.0.1:9/h"])
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("wearstream consumer: stopped: cannot use /proc/no-such") and "Error" not in last, last
