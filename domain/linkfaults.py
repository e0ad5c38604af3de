"""Every way a client link can fail, sorted into retry / re-mint / stop, in one place.

The producer's and the consumer's links meet the same failures: a host name that does not
resolve, a refused or timed-out connection, a TLS error, an HTTP answer instead of a WebSocket
upgrade, a token API that refuses, a close code. The adapters only say *what* happened (a
``Fault``); ``LinkHistory.decide`` says what to do and words the one line a user reads: what
happened, at which URL, and what to do about it.

A permanent misconfiguration (a wrong path, a wrong port, refused credentials, a client bug)
stops the link at once instead of being retried forever. Faults that say the URL is wrong (no
such host, HTTP 404, a TLS mismatch) are permanent only while the URL has never worked in this
run: once it has, the same answer is more likely a proxy or DNS having a bad minute, and
retrying is what a producer streaming at night should do.
"""

from __future__ import annotations

import enum

import attrs

from .closecodes import Advice, close_rule

DEFAULT_MAX_REFUSED_TOKENS = 3


class FaultKind(enum.Enum):
    NO_SUCH_HOST = "no such host"  # DNS: the name does not exist
    DNS_UNAVAILABLE = "name resolution failed for now"  # DNS: temporary failure
    REFUSED = "connection refused"
    UNREACHABLE = "network error"  # unreachable network or host, reset, broken pipe
    TIMEOUT = "timeout"
    TLS_CERTIFICATE = "TLS certificate not accepted"
    TLS_FAILED = "TLS handshake failed"  # e.g. wss:// or https:// to a port without TLS
    BAD_SETTING = "bad setting"  # a URL or credentials that cannot even be sent; detail says which
    UPGRADE_REFUSED = "HTTP answer instead of a WebSocket"  # status: the HTTP status
    TOKEN_API = "token API answered an error"  # status: the HTTP status
    NO_TOKEN = "token API answered without a token"
    CLOSED = "connection closed"  # status: the close code (None: dropped without one)


@attrs.frozen
class Fault:
    """What happened to one attempt, as an adapter saw it. ``detail``: the library's words or
    the server's reason, for the user; ``status``: the HTTP status or the close code."""

    kind: FaultKind
    url: str
    detail: str = ""
    status: int | None = None


@attrs.frozen
class Decision:
    advice: Advice
    message: str  # one line: what happened, where, and what to do

    @property
    def stop(self) -> bool:
        return self.advice is Advice.STOP


_SERVER_BUSY = frozenset({408, 425, 429})


def _said(detail: str) -> str:
    return f": {detail}" if detail else ""


def _network(fault: Fault, worked_before: bool) -> Decision | None:
    url, said = fault.url, _said(fault.detail)
    kind = fault.kind
    if kind is FaultKind.NO_SUCH_HOST:
        return _url_fault(worked_before, f"{url}: no such host{said}; check the host name")
    if kind is FaultKind.TLS_CERTIFICATE:
        return _url_fault(
            worked_before,
            f"{url}: the server's TLS certificate is not accepted{said}; use the host name on the "
            "certificate, or make its CA trusted (SSL_CERT_FILE=/path/to/ca.pem)",
        )
    if kind is FaultKind.TLS_FAILED:
        return _url_fault(
            worked_before,
            f"{url}: TLS handshake failed{said}; does this port speak TLS? "
            "(ws:// and http:// for a plain port, wss:// and https:// for TLS)",
        )
    if kind is FaultKind.BAD_SETTING:
        return Decision(Advice.STOP, fault.detail or f"{url}: bad URL")
    if kind is FaultKind.REFUSED:
        return Decision(Advice.RETRY, f"{url}: connection refused; is the broker running there?")
    if kind in (FaultKind.DNS_UNAVAILABLE, FaultKind.UNREACHABLE, FaultKind.TIMEOUT):
        return Decision(Advice.RETRY, f"{url}: {kind.value}{said}")
    return None


def _url_fault(worked_before: bool, message: str) -> Decision:
    if worked_before:
        return Decision(Advice.RETRY, f"{message} (it worked earlier: retrying)")
    return Decision(Advice.STOP, message)


def _upgrade_refused(fault: Fault, worked_before: bool) -> Decision:
    """An HTTP status where a WebSocket upgrade (101) was expected."""
    status, url, said = fault.status or 0, fault.url, _said(fault.detail)
    if status in _SERVER_BUSY or status >= 500:
        return Decision(Advice.RETRY, f"{url}: HTTP {status}{said}")
    if status == 404:
        hint = "no WebSocket endpoint at this path: the broker's is ws://HOST:PORT/connect"
    elif 300 <= status < 400:
        hint = "the server redirects; use the URL it redirects to"
    else:
        hint = "is this the broker's WebSocket URL (ws://HOST:PORT/connect)?"
    return _url_fault(worked_before, f"{url}: HTTP {status}{said}; {hint}")


def _token_api(fault: Fault, worked_before: bool) -> Decision:
    status, url, said = fault.status or 0, fault.url, _said(fault.detail)
    if status in _SERVER_BUSY or status >= 500:
        return Decision(Advice.RETRY, f"token API {url}: HTTP {status}{said}")
    if status in (401, 403):
        return Decision(
            Advice.STOP,
            f"token API {url} refused the request (HTTP {status}{said}); check the developer id "
            "and API key (--dev-id, --api-key): the developer may have been revoked",
        )
    if status == 400 and fault.detail:  # the broker's reason names what to fix (a user id, a header)
        return Decision(Advice.STOP, f"token API {url} refused the request (HTTP 400{said})")
    not_the_api = (
        "this is not the broker's token API: give the API URL (--api-url) as its base, "
        "http://HOST:PORT, without /auth/…"
    )
    if status == 400:  # the broker's API always says why; an empty 400 is another server
        return _url_fault(worked_before, f"{url}: HTTP 400 without a reason; {not_the_api}")
    return _url_fault(worked_before, f"{url}: HTTP {status}{said}; {not_the_api}")


class LinkHistory:
    """One link's memory of its attempts, which some decisions depend on: whether its URLs
    ever worked, and how many tokens in a row were refused (4001) without one READY.

    A fresh token refused again and again means the token API and the broker do not share
    their tokens (the API URL of one broker, the WebSocket URL of another, or a token command
    printing stale tokens): after ``max_refused_tokens`` refusals in a row the link stops.
    """

    def __init__(self, max_refused_tokens: int = DEFAULT_MAX_REFUSED_TOKENS) -> None:
        if max_refused_tokens < 1:
            raise ValueError("max_refused_tokens must be at least 1")
        self.max_refused_tokens = max_refused_tokens
        self.worked = False
        self.refused_tokens = 0

    def ready(self) -> None:
        """A connection reached READY."""
        self.worked = True
        self.refused_tokens = 0

    def decide(self, fault: Fault) -> Decision:
        if fault.kind is FaultKind.CLOSED:
            return self._closed(fault)
        if fault.kind is FaultKind.UPGRADE_REFUSED:
            return _upgrade_refused(fault, self.worked)
        if fault.kind is FaultKind.TOKEN_API:
            return _token_api(fault, self.worked)
        if fault.kind is FaultKind.NO_TOKEN:
            return _url_fault(
                self.worked, f"{fault.url} answered without a token; is this a wearstream broker?"
            )
        decision = _network(fault, self.worked)
        assert decision is not None, fault.kind
        return decision

    def _closed(self, fault: Fault) -> Decision:
        rule = close_rule(fault.status)
        said = f" ({fault.detail})" if fault.detail else ""
        what = "connection lost" if rule.code is None else f"closed {rule.code}{said}: {rule.meaning}"
        text = f"{fault.url}: {what}"
        if rule.advice is Advice.REMINT:
            self.refused_tokens += 1
            if self.refused_tokens >= self.max_refused_tokens:
                return Decision(
                    Advice.STOP,
                    f"{text}; {self.refused_tokens} fresh tokens in a row were refused: do the API "
                    "URL and the WebSocket URL point to the same broker?",
                )
        return Decision(rule.advice, f"{text}; {rule.todo}")
