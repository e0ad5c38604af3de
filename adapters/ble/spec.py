"""The ``ble:`` device spec: ``ble:AA:BB:CC:DD:EE:FF`` or ``ble:name=PATTERN`` (a glob)."""

from __future__ import annotations

import fnmatch
import re

import attrs

from ...domain.errors import SpecError

_ADDRESS = re.compile(r"[0-9A-F]{2}(:[0-9A-F]{2}){5}")


@attrs.frozen
class Target:
    """What to connect to: an address, or the first device whose name matches a glob."""

    address: str | None = None
    name_pattern: str | None = None

    def matches_name(self, name: str | None) -> bool:
        """Case-insensitive glob match, as people type ``polar*`` for ``Polar H10 1234``."""
        return self.name_pattern is not None and fnmatch.fnmatchcase(
            (name or "").casefold(), self.name_pattern.casefold()
        )

    def __str__(self) -> str:
        return self.address or f"name={self.name_pattern}"


def parse_spec(spec: str) -> Target:
    text = spec.strip()
    if text.lower().startswith("name="):
        pattern = text[len("name=") :]
        if not pattern:
            raise SpecError("ble:name= needs a name or glob pattern, e.g. ble:name=Polar*")
        return Target(name_pattern=pattern)
    if _ADDRESS.fullmatch(text.upper()):
        return Target(address=text.upper())
    raise SpecError(
        f"ble:{spec} is neither an address (ble:AA:BB:CC:DD:EE:FF) nor a name (ble:name=Polar*)"
    )
