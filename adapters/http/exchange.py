"""One HTTP connection on the broker's port, between the client and hypercorn, written again by h11.

What the client sends is read with h11 and written again for hypercorn (``to_app``); what
hypercorn answers is read with h11 and written again for the client (``from_app``), with the
standard reason phrase of its status (``HTTP/1.1 403 Forbidden``: hypercorn leaves the phrase out,
which HTTP allows but some clients written for Terra print or match on).

Why the requests too: hypercorn then only ever reads HTTP/1.1 that h11 wrote. Some requests end
hypercorn's whole server, listeners included (a WebSocket upgrade followed by more bytes: hypercorn
issue #225), and with it the token API until it is started again. The HTTP API has no upgrade
(WebSocket is ``/connect``, on the broker's own server), so an ``Upgrade`` header is dropped, as
RFC 9110 lets a server ignore it, and the request is answered as a plain one. A request h11
refuses is answered here (400, or the status h11 names: 431 for a head too large; 505 for
HTTP/2, 501 for CONNECT), after any answer still owed or under way, and the connection ends: it
never reaches hypercorn. Pipelined requests go to hypercorn one at a time, each after the
answer before it; about ``max_held`` bytes of them wait here (``--max-head-bytes``, as for a
request head; checked after each read).

Two h11 connections follow one HTTP connection: ``requests`` (our side's role, SERVER) reads the
client's requests and writes the answers; ``answers`` (CLIENT) writes the requests for hypercorn
and reads its answers. A sans-I/O machine, in the manner of h11 on which it is built.
"""

from __future__ import annotations

from http import HTTPStatus

import h11

_PHRASES = {status.value: status.phrase.encode() for status in HTTPStatus}


class Exchange:
    """Feed it both directions of one connection (``from_client``, ``from_app``); take what is to
    be sent each way (``to_client``, ``to_app``); ``ended``: the connection is over."""

    def __init__(self, max_held: int) -> None:
        """``max_held``: bytes of an unfinished head (request or answer), and of requests
        pipelined ahead of their answers (the broker's ``--max-head-bytes``)."""
        self.requests = h11.Connection(h11.SERVER, max_incomplete_event_size=max_held)
        self.answers = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_held)
        self.max_held = max_held
        self.ended = False  # nothing more goes either way: close the connection
        self._to_app = bytearray()
        self._to_client = bytearray()
        self._refusal: bytes | None = None  # the answer to a refused request, due after the current one

    @property
    def reading(self) -> bool:
        """Whether the client's bytes are still taken (not once a request was refused)."""
        return not self.ended and self._refusal is None

    def from_client(self, data: bytes) -> None:
        """Bytes the client sent (``b""``: its end of file)."""
        if not self.reading:
            return
        try:
            self.requests.receive_data(data)
            self._follow_requests()
        except h11.ProtocolError as error:  # a request h11 cannot read, or cannot write again
            self._refuse(error.error_status_hint)
            return
        if self._cycle_done():  # hypercorn answered before the request's end came
            self._next_cycle()
        elif len(self.requests.trailing_data[0]) > self.max_held:  # pipelined far ahead
            self._refuse(HTTPStatus.TOO_MANY_REQUESTS)
        elif self.requests.their_state is h11.CLOSED and self._idle():
            self.ended = True  # the client left with nothing waiting for an answer

    def from_app(self, data: bytes) -> None:
        """Bytes hypercorn answered (``b""``: its end of file)."""
        if self.ended:
            return
        try:
            self.answers.receive_data(data)
            self._rewrite()
        except h11.ProtocolError:  # hypercorn wrote what h11 cannot read: nothing sane follows
            self.ended = True

    def to_app(self) -> bytes:
        """What hypercorn is to read now (requests as h11 wrote them)."""
        data = bytes(self._to_app)
        self._to_app.clear()
        return data

    def to_client(self) -> bytes:
        """What the client is to read now (answers as h11 wrote them, a refusal)."""
        data = bytes(self._to_client)
        self._to_client.clear()
        return data

    def _idle(self) -> bool:
        """No request is with hypercorn and no answer is under way."""
        return self.answers.our_state is h11.IDLE and self.answers.their_state is h11.IDLE

    def _cycle_done(self) -> bool:
        requests, answers = self.requests, self.answers
        states = (requests.our_state, requests.their_state, answers.our_state, answers.their_state)
        return all(state is h11.DONE for state in states)

    def _refuse(self, status: int) -> None:
        """Answer ``status`` and end: after the answer hypercorn owes or is writing, else now."""
        self._refusal = _refusal(status)
        answers = self.answers
        sent = answers.our_state in (h11.DONE, h11.MUST_CLOSE)  # the whole request went to hypercorn
        owed = sent and answers.their_state is h11.SEND_RESPONSE
        if not owed and answers.their_state is not h11.SEND_BODY:
            self._end_with_refusal()

    def _end_with_refusal(self) -> None:
        """The refusal goes out, unless the answer before it already ends the connection."""
        assert self._refusal is not None
        if self.requests.our_state is not h11.MUST_CLOSE:
            self._to_client += self._refusal
        self._to_app.clear()  # the start of the refused request, if any, goes nowhere
        self.ended = True

    def _follow_requests(self) -> None:
        """Write the client's requests for hypercorn, one request cycle at a time."""
        while True:
            event = self.requests.next_event()
            if event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
                return
            if isinstance(event, h11.Request):
                if event.http_version not in (b"1.0", b"1.1"):  # "PRI * HTTP/2.0", HTTP/2's preface
                    raise h11.RemoteProtocolError("HTTP/1.x only", error_status_hint=505)
                if event.method == b"CONNECT":  # a tunnel: not this server's business
                    raise h11.RemoteProtocolError("no CONNECT", error_status_hint=501)
                event = _for_app(event)
            elif isinstance(event, h11.EndOfMessage):
                event = h11.EndOfMessage()  # trailers are not passed on
            self._to_app += self.answers.send(event) or b""

    def _rewrite(self) -> None:
        while True:
            event = self.answers.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                return
            if isinstance(event, (h11.Response, h11.InformationalResponse)):
                kind = type(event)
                reason = event.reason or _PHRASES.get(event.status_code, b"")
                self._to_client += self.requests.send(kind(status_code=event.status_code, headers=event.headers, reason=reason)) or b""
            elif isinstance(event, h11.Data):
                self._to_client += self.requests.send(event) or b""
            elif isinstance(event, h11.EndOfMessage):
                self._to_client += self.requests.send(h11.EndOfMessage()) or b""
                if self._refusal is not None:  # refused while this answer was owed or under way
                    self._end_with_refusal()
                    return
                if not self._next_cycle():
                    return

    def _next_cycle(self) -> bool:
        """Both sides are done with this request: start on the next one, if it is kept alive
        (False: the connection is over once this answer is out, or waits for the client)."""
        if not self._cycle_done():
            closing = (self.requests.our_state, self.requests.their_state)
            self.ended = h11.MUST_CLOSE in closing or h11.CLOSED in closing
            return False
        self.requests.start_next_cycle()
        self.answers.start_next_cycle()
        try:
            self._follow_requests()
        except h11.ProtocolError as error:  # the next pipelined request: nothing is under way
            self._refuse(error.error_status_hint)
            return False
        return True


def _refusal(status: int) -> bytes:
    """An answer of ``status`` that ends the connection."""
    phrase = _PHRASES.get(status, b"")
    return b"HTTP/1.1 %d %s\r\nconnection: close\r\ncontent-length: 0\r\n\r\n" % (status, phrase)


def _for_app(request: h11.Request) -> h11.Request:
    """``request`` as hypercorn is to read it: HTTP/1.1 (an HTTP/1.0 one gets a Host header if it
    had none; the client's side still ends after its answer, as 1.0 does), without ``Upgrade``
    (nor the ``upgrade`` option of ``Connection``): the HTTP API answers it as a plain request."""
    headers = [(name, value) for name, value in request.headers if name != b"upgrade"]
    if len(headers) == len(request.headers) and request.http_version == b"1.1":
        return request
    kept = []
    for name, value in headers:
        if name == b"connection":
            value = b", ".join(o.strip() for o in value.split(b",") if o.strip().lower() != b"upgrade")
            if not value:
                continue
        kept.append((name, value))
    if not any(name == b"host" for name, _ in kept):
        kept.append((b"host", b"localhost"))
    return h11.Request(method=request.method, target=request.target, headers=kept)
