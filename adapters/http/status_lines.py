"""Reason phrases on the status lines of the broker's HTTP answers (``HTTP/1.1 403 Forbidden``).

hypercorn writes ``HTTP/1.1 403 `` with an empty reason phrase, which HTTP allows but some
clients written for Terra print or match on. The relay (``forward.py``) passes each answer through
a ``StatusLines`` on its way out: a sans-I/O machine, in the manner of h11 on which it is built,
that follows the connection's requests and answers and writes each answer again with the standard
phrase of its status (``http.HTTPStatus``), its headers and body unchanged.

Two h11 connections follow one HTTP connection: ``requests`` (our side's role, SERVER) reads what
the client sent, so that its answers can be written; ``answers`` (CLIENT) is shown those same
requests and reads hypercorn's answers. Anything h11 refuses (a client that does not speak HTTP/1.1
well enough) stops the rewriting for that connection: what remains goes out as hypercorn wrote it.
"""

from __future__ import annotations

from http import HTTPStatus

import h11

_PHRASES = {status.value: status.phrase.encode() for status in HTTPStatus}
_MAX_BUFFER = 64 * 1024  # request-head bytes h11 holds while it waits (the listener read the head)


class StatusLines:
    """Feed it both directions of one connection; it returns the answer bytes to send."""

    def __init__(self) -> None:
        self.requests = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_BUFFER)
        self.answers = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_BUFFER)
        self.passthrough = False
        self._request_open = False

    def from_client(self, data: bytes) -> None:
        """Bytes the client sent (also relayed unchanged to the app): follow its requests."""
        if self.passthrough:
            return
        try:
            self.requests.receive_data(data)
            self._follow_requests()
        except h11.ProtocolError:
            self.passthrough = True

    def from_app(self, data: bytes) -> bytes:
        """Bytes the app answered: the same answers, with reason phrases."""
        if self.passthrough:
            return data
        try:
            self.answers.receive_data(data)
            return self._rewrite()
        except h11.ProtocolError:
            self.passthrough = True
            return data  # what h11 already took of it is lost with the broken connection

    def _follow_requests(self) -> None:
        """Show the client's requests to ``answers``, one request cycle at a time."""
        while True:
            event = self.requests.next_event()
            if event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
                return
            if isinstance(event, h11.Request):
                self.answers.send(event)
                self._request_open = True
            elif isinstance(event, h11.Data):
                self.answers.send(event)
            elif isinstance(event, h11.EndOfMessage):
                self.answers.send(h11.EndOfMessage())
                self._request_open = False

    def _rewrite(self) -> bytes:
        out = bytearray()
        while True:
            event = self.answers.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                break
            if isinstance(event, h11.ConnectionClosed):
                break
            if isinstance(event, (h11.Response, h11.InformationalResponse)):
                kind = type(event)
                reason = event.reason or _PHRASES.get(event.status_code, b"")
                out += self.requests.send(kind(status_code=event.status_code, headers=event.headers, reason=reason)) or b""
            elif isinstance(event, h11.Data):
                out += self.requests.send(event) or b""
            elif isinstance(event, h11.EndOfMessage):
                out += self.requests.send(h11.EndOfMessage()) or b""
                if not self._next_cycle():
                    break
        return bytes(out)

    def _next_cycle(self) -> bool:
        """Both sides are done with this request: start on the next one, if it is kept alive."""
        if self.requests.our_state is not h11.DONE or self.answers.our_state is not h11.DONE:
            return False
        if self.requests.their_state is not h11.DONE or self.answers.their_state is not h11.DONE:
            return False
        self.requests.start_next_cycle()
        self.answers.start_next_cycle()
        self._follow_requests()
        return True
