"""Every failure a client link meets, sorted into retry / re-mint / stop in one place
(domain.linkfaults), with one line that names the URL and says what to do."""

from __future__ import annotations

import pytest

from wearstream.domain.closecodes import Advice, CloseCode
from wearstream.domain.linkfaults import Fault, FaultKind, LinkHistory

WS = "ws://broker.example:8765/connect"
API = "http://broker.example:8766/auth/user"


def decide(kind: FaultKind, url: str = WS, detail: str = "", status: int | None = None, *,
           worked: bool = False):
    history = LinkHistory()
    if worked:
        history.ready()
    return history.decide(Fault(kind, url, detail, status))


@pytest.mark.parametrize("kind", [
    FaultKind.REFUSED, FaultKind.TIMEOUT, FaultKind.UNREACHABLE, FaultKind.DNS_UNAVAILABLE,
])
def test_the_network_having_a_bad_minute_is_retried(kind) -> None:
    decision = decide(kind, detail="why")
    assert decision.advice is Advice.RETRY and WS in decision.message


@pytest.mark.parametrize("kind, words", [
    (FaultKind.NO_SUCH_HOST, "check the host name"),
    (FaultKind.TLS_CERTIFICATE, "certificate"),
    (FaultKind.TLS_FAILED, "does this port speak TLS"),
])
def test_a_wrong_url_stops_unless_it_worked_earlier_in_this_run(kind, words) -> None:
    first = decide(kind, detail="the library's words")
    assert first.stop and WS in first.message and words in first.message
    assert "the library's words" in first.message
    later = decide(kind, worked=True)
    assert later.advice is Advice.RETRY and "worked earlier" in later.message


@pytest.mark.parametrize("status, words", [
    (404, "the broker's is ws://HOST:PORT/connect"),
    (403, "is this the broker's WebSocket URL"),
    (400, "is this the broker's WebSocket URL"),
    (301, "redirects"),
])
def test_an_http_answer_instead_of_a_websocket_stops_with_a_hint(status, words) -> None:
    decision = decide(FaultKind.UPGRADE_REFUSED, detail="the WebSocket endpoint is /connect",
                      status=status)
    assert decision.stop
    assert decision.message.startswith(f"{WS}: HTTP {status}: the WebSocket endpoint is /connect")
    assert words in decision.message
    assert "b'" not in decision.message and "((" not in decision.message  # no raw tuples


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_a_busy_or_failing_server_is_retried(status) -> None:
    assert decide(FaultKind.UPGRADE_REFUSED, status=status).advice is Advice.RETRY
    assert decide(FaultKind.TOKEN_API, API, "database is locked", status).advice is Advice.RETRY


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_stop_even_after_they_worked(status) -> None:
    decision = decide(FaultKind.TOKEN_API, API, "wrong developer id or API key", status, worked=True)
    assert decision.stop and API in decision.message and "--api-key" in decision.message


def test_a_400_with_the_apis_reason_is_about_the_request() -> None:
    decision = decide(FaultKind.TOKEN_API, API, "missing dev-id header", 400)
    assert decision.stop and "missing dev-id header" in decision.message


def test_an_empty_400_means_the_api_url_is_another_server() -> None:
    # The broker's API always says why; the WebSocket port answers a POST with a bare 400.
    decision = decide(FaultKind.TOKEN_API, API, "", 400)
    assert decision.stop and "no reason given" not in decision.message
    assert "not the broker's token API" in decision.message and "--api-url" in decision.message


@pytest.mark.parametrize("status", [404, 405])
def test_no_token_api_at_that_url_stops(status) -> None:
    decision = decide(FaultKind.TOKEN_API, API, "Not Found", status)
    assert decision.stop and "not the broker's token API" in decision.message


def test_an_answer_without_a_token_and_a_bad_setting_stop() -> None:
    assert decide(FaultKind.NO_TOKEN, API).stop
    assert decide(FaultKind.BAD_SETTING, "", "the API URL must start with http://").stop


def test_every_close_code_follows_the_one_table() -> None:
    for code in CloseCode:
        decision = decide(FaultKind.CLOSED, status=int(code), detail="reason")
        expected = Advice.RETRY if code.advice is Advice.REMINT else code.advice
        assert decision.advice in (code.advice, expected)
        assert f"closed {int(code)}" in decision.message and code.todo in decision.message


def test_1009_is_read_alike_by_every_client() -> None:
    # The consumer once retried a 1009 forever while the producer stopped.
    assert decide(FaultKind.CLOSED, status=1009).stop


@pytest.mark.parametrize("code", [None, 1006, 1012, 4999])
def test_drops_and_codes_outside_the_table_are_retried(code) -> None:
    assert decide(FaultKind.CLOSED, status=code).advice is Advice.RETRY


def test_tokens_refused_again_and_again_stop_the_link() -> None:
    history = LinkHistory(max_refused_tokens=3)
    refused = Fault(FaultKind.CLOSED, WS, "unknown token", 4001)
    assert history.decide(refused).advice is Advice.REMINT
    assert history.decide(refused).advice is Advice.REMINT
    history.ready()  # a READY in between starts the count again
    assert history.decide(refused).advice is Advice.REMINT
    assert history.decide(refused).advice is Advice.REMINT
    last = history.decide(refused)
    assert last.stop and "same broker" in last.message


def test_the_bound_on_refused_tokens_is_at_least_one() -> None:
    with pytest.raises(ValueError):
        LinkHistory(max_refused_tokens=0)
