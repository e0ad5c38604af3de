"""The page and its config, served from the package by the broker's HTTP port."""

from __future__ import annotations

from importlib.resources import files

import httpx

from wearstream.testing.fixtures import LiveBroker


async def test_the_page_is_served_at_the_root_and_loads_only_its_own_files(broker: LiveBroker) -> None:
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        page = await client.get("/")
        script = await client.get("/dashboard/static/dashboard.js")
        style = await client.get("/dashboard/static/dashboard.css")
        config = await client.get("/dashboard/config")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'src="/dashboard/static/dashboard.js"' in page.text and "http" not in page.text.split("<body>")[0]
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert not any(use in script.text for use in ("localStorage.", "sessionStorage.", "document.cookie"))
    assert style.status_code == 200
    assert config.json() == {"ws_url": broker.ws_url}


def test_the_page_ships_inside_the_package() -> None:
    static = files("wearstream.adapters.http") / "static"
    names = ("index.html", "dashboard.js", "dashboard.css", "favicon.ico")
    assert all((static / name).is_file() for name in names)


async def test_the_favicon_is_served_from_the_package(broker: LiveBroker) -> None:
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        icon = await client.get("/favicon.ico")
        page = await client.get("/")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory, one image
    assert '<link rel="icon" href="/favicon.ico">' in page.text


async def test_the_stored_figure_says_what_it_counts(broker: LiveBroker) -> None:
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        page = await client.get("/")
    assert "<dt>stored since start</dt>" in page.text
