"""Known failures a user caused or can fix, told in one line instead of a traceback.

This is the one place that knows them, whatever listener or store raised them: the console script
(cli.main) hands every exception that ends a command here. A port already taken, an address that is
not this machine's, a data dir that is a file or read-only, a database that cannot be opened: each
becomes ``wearstream COMMAND: <what> — <what to do>`` and exit status 1. Anything not recognised is
a bug and keeps its traceback.

Errors from trio nurseries arrive wrapped in exception groups; the group is judged by its leaves:
a Ctrl-C (KeyboardInterrupt) anywhere in it is an interruption, exit status 130.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sqlite3
from typing import Iterator

INTERRUPTED = 130

_DIR_HINTS = {
    errno.EEXIST: "it is a file, not a directory: give a directory (created if missing)",
    errno.ENOTDIR: "a part of it is a file, not a directory: give a directory path",
    errno.EROFS: "the file system is read-only: give a writable directory",
    errno.EACCES: "permission denied: give a directory this user can write, or fix its permissions",
    errno.EPERM: "permission denied: give a directory this user can write, or fix its permissions",
    errno.ENOENT: "a folder on the way does not exist: create it, or give another path",
    errno.ENOSPC: "the disk is full: free some space or give a directory on another disk",
}
_LISTEN_HINTS = {
    errno.EADDRINUSE: "is already in use (another broker?): stop what listens there, or choose "
    "another port (0 = any free one)",
    errno.EACCES: "needs privileges (ports below 1024 need root or CAP_NET_BIND_SERVICE): "
    "choose a port of 1024 or more",
    errno.EADDRNOTAVAIL: "is not an address of this machine: use 127.0.0.1, 0.0.0.0 (every "
    "interface) or one of its own addresses",
}


def leaves(error: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (nested) exception groups; the error itself if it is none."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaves(inner)
    else:
        yield error


def interrupted(error: BaseException) -> bool:
    return any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves(error))


def explain(error: BaseException, args: argparse.Namespace) -> str | None:
    """One line for a known, user-fixable failure of the command run with ``args``; else None."""
    for leaf in leaves(error):
        message = _explain_one(leaf, args)
        if message is not None:
            return message
    return None


def _explain_one(error: BaseException, args: argparse.Namespace) -> str | None:
    data_dir = getattr(args, "data_dir", None)
    if isinstance(error, socket.gaierror) and hasattr(args, "host"):
        return f"cannot listen on --host {args.host!r}: {error.strerror}; give an IP address or a known name"
    if isinstance(error, sqlite3.OperationalError) and data_dir:  # sqlite names no file: we do
        return (
            f"cannot use the database in --data-dir {data_dir}: {error}; check that the folder and "
            "its files exist and are writable by this user"
        )
    if isinstance(error, sqlite3.Error) and data_dir:  # not a database, a newer schema, …
        return f"cannot use the database in --data-dir {data_dir}: {error}"
    if not isinstance(error, OSError):
        return None
    if isinstance(error, ConnectionError) and getattr(args, "backend", None):
        return f"{error}; check that Redis runs there and that --backend names it"
    if error.filename is not None and error.errno in _DIR_HINTS:
        where = f"--data-dir {data_dir} ({error.filename})" if data_dir else str(error.filename)
        if data_dir and str(error.filename) == str(data_dir):
            where = f"--data-dir {data_dir}"
        return f"cannot use {where}: {_DIR_HINTS[error.errno]}"
    if error.errno in _LISTEN_HINTS and hasattr(args, "port"):
        return f"{_listen_address(error, args)} {_LISTEN_HINTS[error.errno]}"
    return None


def _listen_address(error: OSError, args: argparse.Namespace) -> str:
    """Which of the command's ports failed: the one the error names, else the one that is busy."""
    ports = [(f"--{dest.replace('_', '-')}", getattr(args, dest)) for dest in ("port", "http_port")
             if getattr(args, dest, None) is not None]
    for option, port in ports:
        if port and f":{port}" in str(error):
            return f"{args.host}:{port} ({option})"
    if error.errno == errno.EADDRINUSE:
        for option, port in ports:
            if port and _busy(args.host, port):
                return f"{args.host}:{port} ({option})"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"--host {args.host}"
    return " or ".join(f"{args.host}:{port} ({option})" for option, port in ports if port) or args.host


def _busy(host: str, port: int) -> bool:
    """Whether (host, port) cannot be listened on right now because something else does."""
    try:
        socket.create_server((host, port)).close()
    except OSError as error:
        return error.errno == errno.EADDRINUSE
    return False
