"""Every shell command of the README and docs/ runs as written, so a doc command cannot rot.

The commands are the fenced ``sh`` blocks of README.md and docs/*.md, run in document order, one
file at a time, in a fresh folder, as a newcomer would type them, with this checkout's
``wearstream`` first on PATH. What cannot run on a fresh machine is listed in NOT_HERE with its
reason (hardware, root, a host of the reader's network); every other command must either exit 0 or,
when it is a server that runs until stopped (broker, producer, consumer, demo, or a line ending in
``&``), start, be alive a moment later, and exit 0 on SIGTERM.

Three rewrites keep the run honest and private: the documented ports 8765/8766 become free ones
(the broker gets them through WEARSTREAM_PORT / WEARSTREAM_HTTP_PORT, the other commands through
their URLs); the placeholders ``dev_…`` and ``…`` become the id and key that the file's own
``wearstream developers create --json`` printed; ``.venv/bin/`` is the venv running this test.
A new command in the docs is run, or must be added to NOT_HERE with a reason.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import attrs
import psycopg
import pytest

from wearstream.testing.broker_process import clean_environment

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"  # the machine's, as docs/integrations.md says
FENCE = re.compile(r"^```(\w*)\s*$")
SHELL = {"sh", "bash", "shell"}
HEREDOC = re.compile(r"<<-?'?(\w+)'?")

# (pattern found in the command, why it cannot run here). First match wins.
NOT_HERE: list[tuple[str, str]] = [
    (r"\bsudo", "changes the machine as root (system users, udev, systemd units of a real host)"),
    (r"/opt/wearstream|/etc/wearstream|^id wearstream|^cd ~/wearstream",
     "the Raspberry Pi's installation, which docs/raspberry-pi.md makes with sudo"),
    (r"^(systemctl|journalctl)\b", "needs the systemd units installed on the host"),
    (r"\bble:|--transport ble|\bant:", "needs a Bluetooth LE or ANT+ device in range"),
    (r"^(open|xdg-open) ", "opens the reader's browser"),
    (r"redis\.internal|strap-pi\.local|//broker:", "names a host of the reader's own network"),
    (r"-m pytest", "the test suite itself, of which this test is part"),
    (r"\bpip install\b", "installs the package: this test runs in an installed one"),
    (r"\blsl:", "LSL resolves streams by multicast on the reader's network; tests/lsl runs it on this machine only"),
]
LONG_RUNNING = re.compile(r"^wearstream (broker|producer|consumer|demo)\b|&$")
STARTED_AFTER_S = 4.0
SHORT_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def logical_lines(block: str) -> list[str]:
    """Commands of a block: continuation lines joined, comments and blank lines dropped."""
    commands: list[str] = []
    pending = ""
    lines = iter(block.splitlines())
    for raw in lines:
        line = pending + raw.strip()
        heredoc = HEREDOC.search(line)
        if heredoc:  # the here-document's body belongs to this command
            body = [next_line for next_line in iter(lambda: next(lines), heredoc.group(1))]
            commands.append("\n".join([line, *body, heredoc.group(1)]))
            pending = ""
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        command = _without_comment(line)
        if command:
            commands.append(command)
    return commands


def _without_comment(line: str) -> str:
    """The line up to its first unquoted ``#`` that starts a word (the shell's rule)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].strip()
    return line.strip()


def chain(command: str) -> list[str]:
    """``a && b && c`` as its steps, so that one step that cannot run here spares the others."""
    return [step.strip() for step in command.split(" && ")]


def shell_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each fenced sh block."""
    lines = path.read_text().splitlines()
    blocks, start, language = [], -1, None
    for number, line in enumerate(lines, 1):
        fence = FENCE.match(line)
        if language is None and fence:
            language, start = fence.group(1), number
        elif language is not None and line.startswith("```"):
            if language in SHELL:
                blocks.append((start, "\n".join(lines[start:number - 1])))
            language = None
    return blocks


def not_here(command: str) -> str | None:
    for pattern, reason in NOT_HERE:
        if re.search(pattern, command):
            return reason
    return None


@attrs.define
class Session:
    """One doc file's commands, run in order in one folder with one environment."""

    folder: Path
    env: dict[str, str]
    ws_port: int = attrs.field(factory=free_port)
    http_port: int = attrs.field(factory=free_port)
    dev_id: str | None = None
    api_key: str | None = None
    running: list[tuple[str, subprocess.Popen[str]]] = attrs.field(factory=list)
    table: str = attrs.field(factory=lambda: f"samples_{uuid.uuid4().hex[:12]}")

    def drop_table(self) -> None:
        """Leave the machine's database as it was (the table and its cursor row), if it was used."""
        try:
            with psycopg.connect(POSTGRES, connect_timeout=5, autocommit=True) as connection:
                connection.execute(f"DROP TABLE IF EXISTS {self.table}")
                if connection.execute("SELECT to_regclass('wearstream_sink_cursor')").fetchone()[0]:
                    connection.execute("DELETE FROM wearstream_sink_cursor WHERE sink = %s", (self.table,))
        except psycopg.OperationalError:  # no server here: nothing was written
            pass

    def rewrite(self, command: str) -> str:
        bin_dir = Path(sys.executable).parent
        command = command.replace(".venv/bin/", f"{bin_dir}/")
        # The machine's PostgreSQL outlives each run: a table of this run's own, as on a fresh
        # database (a table holds one developer's stream; an earlier run's is another's).
        command = command.replace("?table=samples", f"?table={self.table}")
        command = command.replace(":8765", f":{self.ws_port}").replace(":8766", f":{self.http_port}")
        if self.dev_id and self.api_key:
            command = command.replace("dev_…", self.dev_id).replace("=…", f"={self.api_key}")
        return command

    def run(self, where: str, command: str) -> None:
        command = self.rewrite(command)
        if command.startswith("export "):
            for word in shlex.split(command)[1:]:
                name, _, value = word.partition("=")
                self.env[name] = value
            return
        if command.startswith("wearstream broker"):
            self.stop("wearstream broker")  # the docs show alternatives one after the other
        if LONG_RUNNING.search(command):
            self.start(where, command.rstrip("&").strip())
            return
        result = subprocess.run(
            ["sh", "-c", command], cwd=self.folder, env=self.env, capture_output=True, text=True,
            timeout=SHORT_TIMEOUT_S,
        )
        assert result.returncode == 0, f"{where}: `{command}` exited {result.returncode}:\n{result.stderr}"
        self.remember_credentials(result.stdout)

    def start(self, where: str, command: str) -> None:
        process = subprocess.Popen(
            ["sh", "-c", f"exec {command}"], cwd=self.folder, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        time.sleep(STARTED_AFTER_S)
        if process.poll() is not None:
            out, err = process.communicate()
            assert process.returncode == 0, f"{where}: `{command}` exited {process.returncode}:\n{err}"
            return  # it finished its work (e.g. demo --duration) within the wait
        self.running.append((command, process))

    def stop(self, prefix: str = "") -> None:
        keep = []
        for command, process in self.running:
            if not command.startswith(prefix):
                keep.append((command, process))
                continue
            process.send_signal(signal.SIGTERM)
            try:
                _, err = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise AssertionError(f"`{command}` did not stop on SIGTERM") from None
            assert process.returncode == 0, f"`{command}` exited {process.returncode} on SIGTERM:\n{err}"
        self.running = keep

    def remember_credentials(self, stdout: str) -> None:
        for line in stdout.splitlines():
            if line.startswith("{") and '"api_key"' in line:
                created = json.loads(line)
                self.dev_id, self.api_key = created["dev_id"], created["api_key"]


def commands_of(path: Path) -> list[tuple[str, str]]:
    """(where, command) of every step of every sh block of a file."""
    found = []
    for line, block in shell_blocks(path):
        for command in logical_lines(block):
            for step in chain(command):
                found.append((f"{path.relative_to(ROOT)}:{line}", step))
    return found


def test_the_docs_have_shell_blocks_to_check() -> None:
    assert sum(len(commands_of(path)) for path in DOCS) >= 20


@pytest.mark.e2e
@pytest.mark.parametrize("path", [p for p in DOCS if commands_of(p)], ids=lambda p: p.name)
def test_every_shell_command_runs_as_written(path: Path, tmp_path: Path) -> None:
    env = clean_environment()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_DATA_HOME"] = str(tmp_path / "user-data")  # outboxes and cursors: not the real home
    session = Session(tmp_path, env)
    session.env["WEARSTREAM_PORT"] = str(session.ws_port)
    session.env["WEARSTREAM_HTTP_PORT"] = str(session.http_port)
    try:
        for where, command in commands_of(path):
            if not_here(command) is None:
                session.run(where, command)
    finally:
        try:
            session.stop()
        finally:
            for _, process in session.running:
                process.kill()
            session.drop_table()
