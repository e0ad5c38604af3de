"""Giving freed memory back to the operating system.

CPython frees a large object (a 200 KB frame) with the C allocator's ``free``, but glibc keeps
freed chunks in its arenas for reuse, so after a consumer that held hundreds of megabytes is gone
the broker's RSS may stay high. ``malloc_trim(0)`` (glibc) returns what is free at the top of each
arena and the whole free pages inside them. On other C libraries it does not exist and this is a
no-op: their allocators (musl, macOS) return large blocks by themselves.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Callable

log = logging.getLogger("wearstream.memory")


def _find_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


_MALLOC_TRIM = _find_malloc_trim()


def release_freed_memory() -> bool:
    """Ask the C allocator to return freed memory to the system; True if it could try."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    log.debug("released freed memory to the system (malloc_trim)")
    return True
