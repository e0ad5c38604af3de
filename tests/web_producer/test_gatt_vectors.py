"""The /produce page decodes GATT values with gatt.js, the Python producer with adapters/ble: both
run the same vectors (gatt_vectors.json, generated from the Python decoders), so they cannot
drift apart. The file must be what the generator makes now; the vectors hold in Python; and node
runs them through gatt.js."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from wearstream.adapters.ble.mapping import SampleMapper

from .gatt_vectors import DECODERS, PATH, build, outcome, render

NODE_TEST = Path(__file__).with_name("gatt.test.js")


def test_the_committed_vectors_are_what_the_python_decoders_make_now() -> None:
    assert PATH.read_text() == render(), (
        "gatt_vectors.json is stale: run `python tests/web_producer/gatt_vectors.py`, "
        "then make adapters/http/static/gatt.js pass tests/web_producer/gatt.test.js"
    )


def test_the_vectors_cover_every_characteristic_with_readings_and_errors() -> None:
    cases = build()["cases"]
    for characteristic in DECODERS:
        steps = [s for c in cases if c["characteristic"] == characteristic for s in c["steps"]]
        assert any("error" in s for s in steps), characteristic
        assert any(s.get("submits") for s in steps), characteristic


def test_the_vectors_hold_in_python() -> None:
    for case in json.loads(PATH.read_text())["cases"]:
        mapper = SampleMapper("user", "device")
        for step in case["steps"]:
            got = outcome(case["characteristic"], bytes.fromhex(step["hex"]), mapper)
            expected = {k: v for k, v in step.items() if k != "hex"}
            assert json.loads(json.dumps(got)) == expected, (case["name"], step["hex"])


@pytest.mark.skipif(shutil.which("node") is None, reason="no node (apt-get install nodejs)")
def test_the_vectors_hold_in_the_pages_javascript() -> None:
    result = subprocess.run(
        ["node", "--test", str(NODE_TEST)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
