"""Append-only files of one line per payload (JSON lines, CSV), whose last line is their cursor.

Why the file is its own cursor: a batch is appended and fsynced in one go, so the seq on the last
complete line is exactly how far the file got, with no second write that could disagree with it.
A crash mid-batch leaves at most one torn (unterminated) last line; ``open`` cuts it off, and
the consumer resends from the cursor, so every payload ends up in the file exactly once.

Seqs a filter dropped after the last stored line still advance the cursor: those go to a small
side file, ``PATH.cursor`` (replaced atomically), read on open as ``max(last line, side file)``.
It is also written before a rotation, so the cursor survives the current file starting empty.

Target syntax: ``PATH`` or ``PATH?max_bytes=N&keep=K``. With ``max_bytes`` the file is rotated
before a batch would take it past N bytes: PATH becomes PATH.1, PATH.1 becomes PATH.2, …, and
PATH.K is deleted (``keep`` defaults to 5). A batch is never split, so a file exceeds N only when
a single batch is larger than N.
"""

from __future__ import annotations

import abc
import io
import os
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar
from urllib.parse import parse_qsl

import attrs
import trio

from ...domain.errors import SpecError
from ...domain.stream import Payload
from ...ports.sinks import SinkOptions
from .cursor import fsync_directory, new_payloads, read_cursor_file, write_cursor_file

T = TypeVar("T")
DEFAULT_KEEP = 5
_TAIL_BLOCK = 64 * 1024


@attrs.frozen
class FileTarget:
    """A parsed file sink target: the path and its rotation settings."""

    path: Path
    max_bytes: int | None = None
    keep: int = DEFAULT_KEEP

    @classmethod
    def parse(cls, target: str, scheme: str = "jsonl") -> "FileTarget":
        path, _, query = target.partition("?")
        if not path:
            raise SpecError(
                f"the {scheme} sink needs a path: {scheme}:PATH, e.g. {scheme}:/var/lib/wearstream/hr.{scheme}"
            )
        settings: dict[str, int] = {}
        for name, text in parse_qsl(query, keep_blank_values=True):
            if name not in ("max_bytes", "keep"):
                raise ValueError(f"unknown file sink option {name!r} (known: max_bytes, keep)")
            try:
                settings[name] = int(text)
            except ValueError:
                raise ValueError(
                    f"file sink option {name} must be an integer, got {text!r}"
                ) from None
        if settings.get("max_bytes", 1) < 1 or settings.get("keep", 1) < 1:
            raise ValueError("file sink options max_bytes and keep must be at least 1")
        return cls(Path(path), settings.get("max_bytes"), settings.get("keep", DEFAULT_KEEP))


class LineFile:
    """The blocking file work of a line sink; each method runs in a worker thread."""

    def __init__(self, target: FileTarget, header: bytes, sink: "LineFileSink") -> None:
        self.target = target
        self.header = header
        self.sink = sink
        self.cursor_path = target.path.with_name(target.path.name + ".cursor")
        self._file: io.FileIO | None = None
        self.size = 0

    def open(self) -> int:
        """Open (creating) the file, cut a torn last line, and return the committed cursor."""
        path = self.target.path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a+b", buffering=0)
        fsync_directory(path.parent)  # the file's name is durable, not only its contents
        self._check_header()
        last = self._recover_tail()
        return max(last, read_cursor_file(self.cursor_path))

    def append(self, lines: list[bytes], committed: int, cursor: int, last_seq: int) -> None:
        """Append whole lines and fsync; record a cursor beyond the last line in the side file.

        ``committed`` is the cursor before this batch, ``last_seq`` the seq of its last line.
        """
        data = b"".join(lines)
        if data and self._full(len(data)):
            self._rotate(committed)
        if data:
            self._append_whole(data)
        if cursor > last_seq:
            write_cursor_file(self.cursor_path, cursor)

    def _append_whole(self, data: bytes) -> None:
        """Append and fsync, or (disk full, I/O error) cut the file back to where it was, so
        that a failed batch never leaves a torn line for the next one to follow."""
        assert self._file is not None
        try:
            view = memoryview(data)
            while view:  # an unbuffered write may take only part of the data
                view = view[self._file.write(view) :]
            os.fsync(self._file.fileno())
        except BaseException:
            self._file.truncate(self.size)
            raise
        self.size += len(data)

    def _full(self, more: int) -> bool:
        limit = self.target.max_bytes
        return limit is not None and self.size > len(self.header) and self.size + more > limit

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _check_header(self) -> None:
        assert self._file is not None
        if not self.header:
            return
        self._file.seek(0)
        first = self._file.read(len(self.header))
        if first and not self.header.startswith(first):
            raise ValueError(
                f"{self.target.path} does not start with the expected header "
                f"{self.header.decode().strip()!r}; refusing to append to a foreign file"
            )

    def _recover_tail(self) -> int:
        """Truncate an unterminated last line; the seq of the last complete data line, or 0."""
        assert self._file is not None
        file = self._file
        end = file.seek(0, os.SEEK_END)
        keep = _last_newline_end(file, end)
        if keep < end:
            file.truncate(keep)
            os.fsync(file.fileno())
        if keep < len(self.header):  # empty, or a header torn on creation
            file.truncate(0)
            file.write(self.header)
            os.fsync(file.fileno())
            keep = len(self.header)
        self.size = keep
        if keep == len(self.header):
            return 0
        start = _last_newline_end(file, keep - 1)
        file.seek(start)
        line = file.read(keep - start)
        return self.sink.seq_of_line(line, self.target.path)

    def _rotate(self, cursor: int) -> None:
        """Shift PATH → PATH.1 → … → PATH.keep (dropped), then start an empty PATH."""
        write_cursor_file(self.cursor_path, cursor)  # the new file will have no last line yet
        self.close()
        path = self.target.path
        for n in range(self.target.keep, 0, -1):
            older = path.with_name(f"{path.name}.{n}")
            newer = path if n == 1 else path.with_name(f"{path.name}.{n - 1}")
            if newer.exists():
                os.replace(newer, older)
        self._file = open(path, "a+b", buffering=0)
        self._file.write(self.header)
        os.fsync(self._file.fileno())
        fsync_directory(path.parent)
        self.size = len(self.header)


def _last_newline_end(file: io.FileIO, end: int) -> int:
    """The offset just past the last b"\\n" before ``end`` (0 when there is none)."""
    position = end
    while position > 0:
        start = max(0, position - _TAIL_BLOCK)
        file.seek(start)
        block = file.read(position - start)
        index = block.rfind(b"\n")
        if index >= 0:
            return start + index + 1
        position = start
    return 0


class LineFileSink(abc.ABC):
    """A SampleSink writing one line per payload to a file (see the module docstring)."""

    header: bytes = b""
    scheme: str = "jsonl"  # the spec prefix, for messages

    def __init__(self, target: str, options: SinkOptions) -> None:
        self.target = FileTarget.parse(target, self.scheme)
        self.options = options
        self._file = LineFile(self.target, self.header, self)
        self._limiter = trio.CapacityLimiter(1)
        self._cursor = 0
        self._opened = False

    @abc.abstractmethod
    def encode(self, payload: Payload) -> bytes:
        """One line (ending in b"\\n") holding the payload."""

    @abc.abstractmethod
    def seq_of_line(self, line: bytes, path: Path) -> int:
        """The seq a complete line holds; ValueError naming ``path`` when it holds none."""

    async def open(self) -> int:
        self._cursor = await self._run(self._file.open)
        self._opened = True
        return self._cursor

    async def write(self, payloads: Sequence[Payload], cursor: int) -> None:
        if not self._opened:
            raise RuntimeError(f"sink {self.target.path} is not open")
        fresh = new_payloads(payloads, self._cursor, cursor)
        lines = [self.encode(p) for p in fresh]  # an unencodable payload fails before any write
        cursor = max(cursor, self._cursor)
        last_seq = fresh[-1].seq if fresh else self._cursor
        await self._run(self._file.append, lines, self._cursor, cursor, last_seq)
        self._cursor = cursor

    async def aclose(self) -> None:
        self._opened = False
        with trio.CancelScope(shield=True):
            await self._run(self._file.close)

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        """Blocking file work in a thread, one call at a time; a cancel waits for it to finish."""
        return await trio.to_thread.run_sync(call, *args, limiter=self._limiter)
