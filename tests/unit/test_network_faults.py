"""Reading the telling network error out of the wrappers of trio, httpx and trio-websocket."""

from __future__ import annotations

import socket
import ssl

from trio_websocket import HandshakeError

from wearstream.adapters.network_faults import network_fault
from wearstream.domain.linkfaults import FaultKind

URL = "ws://h:1/connect"


def wrapped(cause: BaseException) -> BaseException:
    """As trio-websocket raises it: HandshakeError from OSError from a group of attempts."""
    try:
        try:
            raise OSError("all attempts to connect to h:1 failed") from ExceptionGroup("x", [cause])
        except OSError as error:
            raise HandshakeError from error
    except HandshakeError as outer:
        return outer


def test_a_name_that_does_not_exist_and_a_resolver_that_failed_for_now() -> None:
    gone = network_fault(wrapped(socket.gaierror(socket.EAI_NONAME, "Name or service not known")), URL)
    assert gone is not None and gone.kind is FaultKind.NO_SUCH_HOST and "not known" in gone.detail
    later = network_fault(wrapped(socket.gaierror(socket.EAI_AGAIN, "Temporary failure")), URL)
    assert later is not None and later.kind is FaultKind.DNS_UNAVAILABLE


def test_refused_tls_and_other_errors() -> None:
    refused = network_fault(wrapped(ConnectionRefusedError(111, "refused")), URL)
    assert refused is not None and refused.kind is FaultKind.REFUSED
    cert = ssl.SSLCertVerificationError(1, "verify failed")
    cert.verify_message = "self-signed certificate"
    tls = network_fault(wrapped(cert), URL)
    assert tls is not None and (tls.kind, tls.detail) == (FaultKind.TLS_CERTIFICATE, "self-signed certificate")
    unreachable = network_fault(wrapped(OSError(101, "Network is unreachable")), URL)
    assert unreachable is not None and unreachable.kind is FaultKind.UNREACHABLE
    assert network_fault(ValueError("nothing network about it"), URL) is None
