"""What went wrong with a client's WebSocket connection, as a ``linkfaults.Fault``.

Both client links (producer and consumer) turn trio-websocket's exceptions into faults here and
let ``LinkHistory.decide`` say what to do. One trio-websocket behaviour needs help: a TLS
handshake that fails (a certificate the system does not trust, a port without TLS) surfaces as a
plain ``ConnectionTimeout`` after the whole connect timeout, its cause lost. So a TLS handshake
alone is tried first, to name the real cause at once: before each attempt on a ``wss://`` URL
until it has worked once (``tls_preflight``), and after any timeout on one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, ConnectionTimeout

from ...domain.linkfaults import Fault, FaultKind, LinkHistory
from ..network_faults import network_fault

MAX_DETAIL = 200


async def connect_fault(error: BaseException, url: str, timeout: float) -> Fault:
    """The fault behind an exception from opening the WebSocket (``open_websocket_url``)."""
    if isinstance(error, ConnectionRejected):
        return Fault(FaultKind.UPGRADE_REFUSED, url, _text(error.body), error.status_code)
    if isinstance(error, ConnectionTimeout):
        if url.startswith("wss://"):
            fault = await tls_fault(url, timeout)
            if fault is not None:
                return fault
        return Fault(FaultKind.TIMEOUT, url, f"no WebSocket handshake within {timeout:g} s")
    fault = network_fault(error, url)
    if fault is not None:
        return fault
    return Fault(FaultKind.UNREACHABLE, url, str(error) or type(error).__name__)


def close_fault(error: ConnectionClosed, url: str) -> Fault:
    reason = error.reason
    code = None if reason is None or reason.code == 1006 else reason.code
    said = (reason.reason or "") if reason is not None else ""
    return Fault(FaultKind.CLOSED, url, said[:MAX_DETAIL], code)


async def tls_preflight(url: str, history: LinkHistory, timeout: float) -> Fault | None:
    """A TLS fault of a ``wss://`` URL that has not worked yet in this run, else None."""
    if url.startswith("wss://") and not history.worked:
        return await tls_fault(url, timeout)
    return None


async def tls_fault(url: str, timeout: float) -> Fault | None:
    """What keeps a TLS handshake with the URL's host from working, or None when it works."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    with trio.move_on_after(timeout):
        try:
            stream = await trio.open_ssl_over_tcp_stream(
                parts.hostname, parts.port or 443, https_compatible=True
            )
            await stream.do_handshake()
            await stream.aclose()
        except (OSError, trio.BrokenResourceError) as error:
            return network_fault(error, url)
    return None


def _text(body: bytes | None) -> str:
    return " ".join((body or b"").decode(errors="replace").split())[:MAX_DETAIL]
