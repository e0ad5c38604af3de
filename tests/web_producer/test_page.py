"""The /produce page and its files, served from the package on the broker's one origin."""

from __future__ import annotations

from importlib.resources import files

import httpx
import trio

from wearstream.adapters.http.produce import ASSETS
from wearstream.testing.fixtures import start_broker


async def test_the_page_is_served_with_its_own_files_only(nursery: trio.Nursery) -> None:
    broker = await start_broker(nursery, "produce-page")
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        page = await client.get("/produce")
        assets = {name: await client.get(f"/produce-static/{name}") for name in sorted(ASSETS)}
        other = await client.get("/produce-static/index.html")
        outside = await client.get("/produce-static/..%2Fapi.py")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    head = page.text.split("<body>")[0]
    assert 'src="/produce-static/gatt.js"' in head and "http" not in head
    assert all(a.status_code == 200 for a in assets.values())
    assert "javascript" in assets["produce.js"].headers["content-type"]
    assert other.status_code == 404 and outside.status_code == 404


def test_the_page_ships_inside_the_package() -> None:
    static = files("wearstream.adapters.http") / "static"
    assert all((static / name).is_file() for name in ("produce.html", *ASSETS))


def test_the_page_keeps_no_secret_outside_indexeddb() -> None:
    script = (files("wearstream.adapters.http") / "static" / "produce.js").read_text()
    assert not any(use in script for use in ("localStorage", "sessionStorage", "document.cookie"))
    assert "history.replaceState" in script  # the link's code leaves the address bar
