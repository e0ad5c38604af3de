"""A third-party plug-in package, installed for real: a ``*.dist-info`` with entry points and a
module, in a directory put on ``sys.path`` (or on PYTHONPATH for a subprocess)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

FAKE_MODULE = '''
"""Plug-ins of the fake package ``acme-wearables``."""

import trio

from wearstream.domain.devices import Device
from wearstream.domain.errors import DeviceUnavailable, SpecError


class Scanner:
    async def scan(self, timeout):
        await trio.lowlevel.checkpoint()
        return [Device("acme-1", "Acme band", "acme", ("HEART_RATE",), 42)]


class AcmeTransport:
    name = "acme"
    data_types = ("HEART_RATE", "SKIN_TEMPERATURE")

    def scanner(self):
        return Scanner()

    def open(self, spec):
        if spec != "band":
            raise SpecError(f"acme: no device {spec!r}")
        return spec


class NoRadioScanner:
    async def scan(self, timeout):
        await trio.lowlevel.checkpoint()
        raise DeviceUnavailable("no radio adapter found")


class NoRadioTransport:
    name = "noradio"

    def scanner(self):
        return NoRadioScanner()


class HangingScanner:
    async def scan(self, timeout):
        await trio.sleep_forever()


class HangingTransport:
    name = "hanging"

    def scanner(self):
        return HangingScanner()


class ExplodingTransport:
    def __init__(self):
        raise RuntimeError("needs a licence key")


class MemoSink:
    def __init__(self, target, options):
        self.target = target
        self.options = options
'''

ENTRY_POINTS = """
[wearstream.transports]
acme = acme_plugins:AcmeTransport
noradio = acme_plugins:NoRadioTransport
hanging = acme_plugins:HangingTransport
exploding = acme_plugins:ExplodingTransport
broken = acme_missing_module:Transport

[wearstream.sinks]
memo = acme_plugins:MemoSink
brokensink = acme_plugins:NoSuchSink
"""


def install_fake_package(root: Path) -> Path:
    """Write the package into ``root``; returns the directory to put on the path."""
    info = root / "acme_wearables-2.5.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-wearables\nVersion: 2.5.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    (root / "acme_plugins.py").write_text(FAKE_MODULE)
    return root


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake package, importable and discoverable in this process for the test's duration."""
    root = install_fake_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    yield root
    import sys

    sys.modules.pop("acme_plugins", None)
