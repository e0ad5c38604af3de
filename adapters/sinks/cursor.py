"""What every sink shares about its cursor: which payloads of a batch are new, and the small
cursor file of sinks whose medium has no place for one (stdout, webhook, jsonl's filtered tail).

A cursor file holds one decimal number. It is replaced atomically (write a temporary file, fsync,
``os.replace``, fsync the directory), so after a crash it holds either the old or the new cursor,
never a torn one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import trio

from ...domain.stream import Payload


def new_payloads(payloads: Sequence[Payload], stored: int, cursor: int) -> list[Payload]:
    """The payloads above ``stored`` (the sink's cursor), after checking the batch is well formed.

    Seqs must rise strictly and ``cursor`` must cover them: a batch that breaks either rule is a
    caller bug and is refused whole (ValueError), so nothing is half-written.
    """
    previous = None
    for p in payloads:
        if previous is not None and p.seq <= previous:
            raise ValueError(f"sink batch seqs must rise strictly: seq {p.seq} after {previous}")
        previous = p.seq
    if previous is not None and cursor < previous:
        raise ValueError(f"sink cursor {cursor} is below the last seq of its batch ({previous})")
    return [p for p in payloads if p.seq > stored]


def cursor_file_name(kind: str, target: str) -> str:
    """A file name for one sink's cursor: two webhooks to different URLs never share one."""
    digest = hashlib.sha256(target.encode()).hexdigest()[:16]
    return f"{kind}-{digest}.cursor" if target else f"{kind}.cursor"


def read_cursor_file(path: Path) -> int:
    """The cursor in ``path``; 0 when there is no such file (nothing committed yet)."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return 0
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"cursor file {path} does not hold a number: {text[:40]!r}") from None
    if value < 0:
        raise ValueError(f"cursor file {path} holds a negative cursor: {value}")
    return value


def write_cursor_file(path: Path, cursor: int) -> None:
    """Replace ``path`` with ``cursor`` atomically and durably (blocking: call from a thread)."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="ascii") as file:
        file.write(f"{cursor}\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class CursorFile:
    """The cursor of a sink whose medium cannot hold one: a file under ``options.cursor_dir``,
    or, without a directory, only in memory (the sink then starts from 0 on every open)."""

    def __init__(self, directory: str | None, name: str) -> None:
        self.path = None if directory is None else Path(directory) / name

    async def load(self) -> int:
        if self.path is None:
            return 0
        return await trio.to_thread.run_sync(_prepare_and_read, self.path)

    async def save(self, cursor: int) -> None:
        if self.path is not None:
            await trio.to_thread.run_sync(write_cursor_file, self.path, cursor)


def _prepare_and_read(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return read_cursor_file(path)
