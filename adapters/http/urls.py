"""How a listening address is written in a URL a user (or a client) can open."""

from __future__ import annotations


def url_host(host: str) -> str:
    """``host`` for a URL: a wildcard bind (``0.0.0.0``, ``::``, empty) becomes the loopback
    address, which one can connect to on this machine; IPv6 literals go in brackets."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
