"""LSL tests resolve streams on this machine only: liblsl reads LSLAPICFG when it first loads,
so it is set here, before any test imports pylsl (child processes inherit it)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["LSLAPICFG"] = str(Path(__file__).with_name("lsl_api.cfg"))
