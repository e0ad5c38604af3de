"""The WebSocket opening handshake, through websockets' public sans-I/O ``ServerProtocol``.

The listener has already read the request head (adapters/websocket/listener.py); this turns
it into the bytes to answer with: ``101 Switching Protocols`` for a valid upgrade to
``/connect``, else the HTTP error RFC 6455 asks for (400 for a malformed request, 426 with
``Sec-WebSocket-Version: 13`` for another version or a plain GET, 404 for another path).
Nothing is negotiated: no extension, no subprotocol, so frames after it are plain RFC 6455
frames for adapters/websocket/framing.py.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import attrs
from websockets.http11 import Request
from websockets.server import ServerProtocol

PATH = "/connect"

# websockets logs every handshake at INFO ("connection open"); the broker logs its own line.
_quiet = logging.getLogger("wearstream.broker.handshake")
_quiet.setLevel(logging.WARNING)


def plain_response(status: int, reason: str, text: str, *headers: str) -> bytes:
    """A whole ``Connection: close`` HTTP/1.1 answer with a plain-text body, its length counted
    (hand-counted lengths were off by one: a client waited for a byte that never came)."""
    body = text.encode()
    lines = [
        f"HTTP/1.1 {status} {reason}", "Connection: close", "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}", *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


_BAD_REQUEST = plain_response(400, "Bad Request", "not a valid WebSocket opening request\n")


@attrs.frozen
class Answer:
    """What to write back, and whether the connection is now a WebSocket."""

    response: bytes
    accepted: bool
    status: int


def answer(head: bytes) -> Answer:
    """The answer to one complete request head (ending with an empty line)."""
    protocol = ServerProtocol(max_size=None, logger=_quiet)
    protocol.receive_data(head)
    requests = [event for event in protocol.events_received() if isinstance(event, Request)]
    if not requests:
        return Answer(_BAD_REQUEST, False, 400)
    request = requests[0]
    path = _path_of(request.path)
    if path is None:
        return Answer(_BAD_REQUEST, False, 400)
    if path != PATH:
        response = protocol.reject(404, f"the WebSocket endpoint is {PATH}\n")
    elif request.headers.get("Sec-WebSocket-Version", "13") != "13":
        # RFC 6455 4.4: 426 naming the version we speak (websockets answers 400 here).
        response = protocol.reject(426, "this server speaks WebSocket version 13\n")
        response.headers["Sec-WebSocket-Version"] = "13"
    else:
        response = protocol.accept(request)
    protocol.send_response(response)
    data = b"".join(protocol.data_to_send())
    return Answer(data, response.status_code == 101, response.status_code)


def _path_of(target: str) -> str | None:
    """The path of a request target; None when it does not parse (``//[``: urlsplit raises)."""
    try:
        return urlsplit(target).path
    except ValueError:
        return None
