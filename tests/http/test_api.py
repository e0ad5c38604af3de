"""The token API over real HTTP: every status path, both credential styles, what lands in the
TokenStore, and /healthz."""

from __future__ import annotations

import base64

import httpx
import pytest
import trio
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from wearstream.adapters.http import api as token_api
from wearstream.adapters.http.api import build_app
from wearstream.adapters.http.server import serve_http
from wearstream.domain.identity import Developer, Role, hash_api_key
from wearstream.ports.storage import StorageUnavailable

from wearstream.adapters.storage.memory import MemoryDeveloperStore, MemoryTokenStore

from .conftest import NOW, TTL, Api


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def test_user_token_binds_the_user_and_expires_after_the_ttl(api: Api, http: httpx.AsyncClient) -> None:
    response = await http.post("/auth/user", params={"id": "alice"}, headers=api.dev.headers())
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    value = response.json()["token"]
    assert isinstance(value, str) and len(value) >= 40
    token = await api.tokens.take(value)
    assert token is not None and token.role is Role.PRODUCER
    assert token.developer_id == api.dev.dev_id
    assert token.user_id == "alice"
    assert token.expires_at == NOW + TTL


async def test_developer_token_binds_the_developer(api: Api, http: httpx.AsyncClient) -> None:
    response = await http.post("/auth/developer", headers=api.dev.headers())
    assert response.status_code == 200, response.text
    token = await api.tokens.take(response.json()["token"])
    assert token is not None and token.role is Role.CONSUMER
    assert token.developer_id == api.dev.dev_id
    assert token.user_id is None
    assert token.expires_at == NOW + TTL


async def test_every_mint_is_a_fresh_token(api: Api, http: httpx.AsyncClient) -> None:
    values = set()
    for _ in range(3):
        response = await http.post("/auth/developer", headers=api.dev.headers())
        values.add(response.json()["token"])
    assert len(values) == 3
    assert set(api.tokens.tokens) == values
    for value in values:
        assert await api.tokens.take(value) is not None


async def test_http_basic_credentials_work(api: Api, http: httpx.AsyncClient) -> None:
    response = await http.post("/auth/developer", headers=basic(api.dev.dev_id, api.dev.api_key))
    assert response.status_code == 200, response.text
    response = await http.post(
        "/auth/user", params={"id": "bob"}, auth=(api.dev.dev_id, api.dev.api_key)
    )
    assert response.status_code == 200, response.text
    assert api.tokens.tokens[response.json()["token"]].user_id == "bob"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing credentials"),
        ({"dev-id": "dev_test"}, "missing x-api-key"),
        ({"x-api-key": "the-right-key"}, "missing dev-id"),
        ({"dev-id": "", "x-api-key": "the-right-key"}, "empty dev-id"),
        ({"Authorization": "Basic !!!not-base64"}, "not base64"),
        ({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, "no ':'"),
        ({"Authorization": "Basic " + base64.b64encode(b"dev_test:").decode()}, "empty Basic password"),
        ({"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()}, "UTF-8"),
        ({"Authorization": "Bearer abc"}, "unsupported Authorization scheme"),
    ],
)
async def test_missing_or_malformed_credentials_are_400(
    api: Api, http: httpx.AsyncClient, headers: dict[str, str], reason: str
) -> None:
    for path, params in (("/auth/developer", None), ("/auth/user", {"id": "alice"})):
        response = await http.post(path, params=params, headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"].startswith("text/plain")
        assert reason in response.text
    assert api.tokens.tokens == {}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("?id=", "user id must be"),
        ("?id=" + "x" * 129, "user id must be"),
        ("?id=a%0Ab", "user id must be"),
        ("?id=a&id=b", "exactly one user id"),
    ],
)
async def test_missing_or_invalid_user_id_is_400(
    api: Api, http: httpx.AsyncClient, query: str, reason: str
) -> None:
    response = await http.post("/auth/user" + query, headers=api.dev.headers())
    assert response.status_code == 400
    assert reason in response.text
    assert api.tokens.tokens == {}


async def test_a_user_token_without_an_id_binds_a_new_user_id(api: Api, http: httpx.AsyncClient) -> None:
    """Terra's reference marks ``id`` optional: the token binds a fresh id, given in the answer."""
    answers = [await http.post("/auth/user", headers=api.dev.headers()) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    bodies = [a.json() for a in answers]
    assert bodies[0]["user_id"] != bodies[1]["user_id"]
    for body in bodies:
        assert body["user_id"].startswith("user_") and len(body["user_id"]) == 21
        token = api.tokens.tokens[body["token"]]
        assert token.role is Role.PRODUCER and token.user_id == body["user_id"]
    given = await http.post("/auth/user", params={"id": "alice"}, headers=api.dev.headers())
    assert set(given.json()) == {"token"}  # an id that was given is not repeated


async def test_wrong_unknown_or_revoked_credentials_are_403(api: Api, http: httpx.AsyncClient) -> None:
    revoked = await api.add_developer("dev_gone", "old-key", revoked=True)
    cases = [
        {"dev-id": api.dev.dev_id, "x-api-key": "wrong"},
        basic(api.dev.dev_id, "wrong"),
        {"dev-id": "dev_nobody", "x-api-key": api.dev.api_key},
        revoked.headers(),
    ]
    for headers in cases:  # one answer for all: none tells whether the id exists or was revoked
        for path, params in (("/auth/developer", None), ("/auth/user", {"id": "alice"})):
            response = await http.post(path, params=params, headers=headers)
            assert response.status_code == 403, (headers, path, response.text)
            assert response.headers["content-type"].startswith("text/plain")
            assert response.text == "wrong developer id or API key"
    assert api.tokens.tokens == {}


async def test_revoking_stops_minting(api: Api, http: httpx.AsyncClient) -> None:
    assert (await http.post("/auth/developer", headers=api.dev.headers())).status_code == 200
    await api.developers.revoke(api.dev.dev_id)
    assert (await http.post("/auth/developer", headers=api.dev.headers())).status_code == 403


async def test_only_post_mints(http: httpx.AsyncClient, api: Api) -> None:
    response = await http.get("/auth/developer", headers=api.dev.headers())
    assert response.status_code == 405


async def test_healthz_reports_ok_and_the_health_fields(api: Api, http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "connections": 3, "consumers": 1}
    api.health["connections"] = 5
    assert (await http.get("/healthz")).json()["connections"] == 5


async def serve(nursery: trio.Nursery, app) -> str:
    port = await nursery.start(serve_http, app, "127.0.0.1", 0)
    return f"http://127.0.0.1:{port}"


async def test_healthz_with_an_async_probe_without_one_and_with_a_failing_one(nursery: trio.Nursery) -> None:
    async def async_probe() -> dict[str, int]:
        await trio.lowlevel.checkpoint()
        return {"payloads_in": 7}

    def broken_probe() -> dict[str, int]:
        raise RuntimeError("hub gone")

    stores = (MemoryDeveloperStore(), MemoryTokenStore())
    urls = [
        await serve(nursery, build_app(*stores, token_ttl=TTL, health=probe))
        for probe in (async_probe, None, broken_probe)
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        answers = [await client.get(url + "/healthz") for url in urls]
    assert [a.status_code for a in answers] == [200, 200, 503]
    assert answers[0].json() == {"status": "ok", "payloads_in": 7}
    assert answers[1].json() == {"status": "ok"}
    assert answers[2].json() == {"status": "error", "reason": "hub gone"}


async def test_extra_routes_are_served_beside_the_api(nursery: trio.Nursery) -> None:
    async def metrics(request) -> PlainTextResponse:
        return PlainTextResponse("wearstream_up 1\n")

    app = build_app(
        MemoryDeveloperStore(), MemoryTokenStore(), token_ttl=TTL, routes=[Route("/metrics", metrics)]
    )
    url = await serve(nursery, app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        assert (await client.get("/metrics")).text == "wearstream_up 1\n"
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.post("/auth/developer")).status_code == 400


async def test_healthz_is_503_degraded_while_storage_is_unavailable(nursery: trio.Nursery) -> None:
    storage: dict[str, object] = {"ok": False, "error": "database or disk is full"}
    app = build_app(
        MemoryDeveloperStore(), MemoryTokenStore(), token_ttl=TTL, health=lambda: {"storage": storage}
    )
    url = await serve(nursery, app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        degraded = await client.get("/healthz")
        storage.update(ok=True, error=None)
        healthy = await client.get("/healthz")
    assert degraded.status_code == 503 and degraded.headers["retry-after"] == "5"
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["storage"]["error"] == "database or disk is full"
    assert healthy.status_code == 200 and healthy.json()["status"] == "ok"


class UnavailableTokenStore(MemoryTokenStore):
    async def put(self, token) -> None:
        raise StorageUnavailable("database or disk is full")


async def test_a_mint_while_storage_is_unavailable_is_503_with_retry_after(nursery: trio.Nursery) -> None:
    developers = MemoryDeveloperStore()
    await developers.add(Developer("dev_x", "x", hash_api_key("k"), NOW))
    url = await serve(nursery, build_app(developers, UnavailableTokenStore(), token_ttl=TTL))
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.post("/auth/developer", headers={"dev-id": "dev_x", "x-api-key": "k"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "storage unavailable" in response.text


async def test_cors_answers_preflight_for_allowed_origins_only(nursery: trio.Nursery) -> None:
    developers = MemoryDeveloperStore()
    await developers.add(Developer("dev_x", "x", hash_api_key("k"), NOW))
    app = build_app(
        developers, MemoryTokenStore(), token_ttl=TTL, cors_origins=["https://app.example"]
    )
    url = await serve(nursery, app)
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "dev-id, x-api-key",
    }
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        allowed = await client.options(
            "/auth/developer", headers={"Origin": "https://app.example", **preflight}
        )
        other = await client.options(
            "/auth/developer", headers={"Origin": "https://evil.example", **preflight}
        )
        minted = await client.post(
            "/auth/developer",
            headers={"Origin": "https://app.example", "dev-id": "dev_x", "x-api-key": "k"},
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    assert minted.status_code == 200
    assert minted.headers["access-control-allow-origin"] == "https://app.example"


async def test_no_cors_headers_without_an_allowed_origin(api: Api, http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/auth/developer", headers={"Origin": "https://app.example", **api.dev.headers()}
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_a_ttl_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="token_ttl"):
        build_app(MemoryDeveloperStore(), MemoryTokenStore(), token_ttl=TTL * 0)


def test_a_token_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """`wearstream producer --token -xyz` would be read as an option: such a draw is drawn again."""
    drawn = iter(["-first", "second"])
    monkeypatch.setattr(token_api.secrets, "token_urlsafe", lambda nbytes: next(drawn))
    assert token_api.new_token_value() == "second"
