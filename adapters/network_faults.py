"""What went wrong on the network, read off an exception from trio, httpx or trio-websocket.

Libraries wrap the telling error (a ``gaierror``, a refused connection, a certificate the system
does not trust) in their own exceptions, groups and causes; ``network_fault`` digs it out and
names it as a ``linkfaults.Fault``, so that ``linkfaults`` decides about it in one place.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Iterator

import trio

from ..domain.linkfaults import Fault, FaultKind

_REFUSED = (ConnectionRefusedError,)
_MAX_CAUSES = 50  # a bound on the walk, whatever the chain looks like


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, its causes and contexts, and the members of exception groups among them."""
    seen: set[int] = set()
    todo = [error]
    while todo and len(seen) < _MAX_CAUSES:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)


def network_fault(error: BaseException, url: str) -> Fault | None:
    """The most telling network fault behind ``error``, or None when it holds none."""
    found = list(causes(error))
    for cause in found:
        if isinstance(cause, socket.gaierror):
            temporary = cause.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None))
            kind = FaultKind.DNS_UNAVAILABLE if temporary else FaultKind.NO_SUCH_HOST
            return Fault(kind, url, cause.strerror or str(cause))
    for cause in found:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Fault(FaultKind.TLS_CERTIFICATE, url, cause.verify_message or str(cause))
    for cause in found:
        if isinstance(cause, ssl.SSLError):
            return Fault(FaultKind.TLS_FAILED, url, cause.reason or str(cause))
    for cause in found:
        if isinstance(cause, _REFUSED):
            return Fault(FaultKind.REFUSED, url)
    for cause in found:
        if isinstance(cause, (TimeoutError, trio.TooSlowError)):
            return Fault(FaultKind.TIMEOUT, url)
    for cause in found:
        if isinstance(cause, OSError) and cause.errno is not None:
            return Fault(FaultKind.UNREACHABLE, url, cause.strerror or errno.errorcode.get(cause.errno, ""))
    return None
