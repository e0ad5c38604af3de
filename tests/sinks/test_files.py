"""What only the file sinks promise: the exact line and row formats, rotation, target syntax,
and refusing to append to a file that is not theirs."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest

from wearstream.adapters.sinks.csv import CsvSink
from wearstream.adapters.sinks.jsonl import JsonlSink
from wearstream.adapters.sinks.linefile import FileTarget
from wearstream.domain.errors import SpecError
from wearstream.domain.stream import Payload
from wearstream.ports.sinks import SinkOptions
from wearstream.testing.contracts.sinks import reading, readings


async def test_a_jsonl_line_is_seq_uid_t_d(tmp_path: Path) -> None:
    sink = JsonlSink(str(tmp_path / "deep" / "dir" / "hr.jsonl"), SinkOptions())
    await sink.open()
    try:
        await sink.write([reading(1), Payload("dev_1", 2, "u2", "POWER", {"val": 250}, True)], 2)
    finally:
        await sink.aclose()
    assert (tmp_path / "deep" / "dir" / "hr.jsonl").read_bytes().splitlines() == [
        b'{"seq":1,"uid":"user-1","t":"HEART_RATE","d":{"ts":"2025-01-01T10:00:01.250000+00:00","val":61}}',
        b'{"seq":2,"uid":"u2","t":"POWER","d":{"val":250},"synthetic":true}',
    ]


async def test_jsonl_rotates_by_size_keeping_k_files(tmp_path: Path) -> None:
    path = tmp_path / "hr.jsonl"
    line = len(orjson.dumps({"seq": 10, "uid": "user-1", "t": "HEART_RATE", "d": reading(10).d})) + 1
    sink = JsonlSink(f"{path}?max_bytes={3 * line}&keep=2", SinkOptions())
    await sink.open()
    try:
        for seq in range(10, 20):
            await sink.write(readings([seq]), seq)
    finally:
        await sink.aclose()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hr.jsonl",
        "hr.jsonl.1",
        "hr.jsonl.2",
        "hr.jsonl.cursor",
    ]
    seqs = [
        [orjson.loads(x)["seq"] for x in (tmp_path / name).read_bytes().splitlines()]
        for name in ("hr.jsonl.2", "hr.jsonl.1", "hr.jsonl")
    ]
    assert seqs == [[13, 14, 15], [16, 17, 18], [19]]  # 10…12 rotated out of keep=2
    reopened = JsonlSink(str(path), SinkOptions())
    assert await reopened.open() == 19
    await reopened.aclose()


async def test_a_batch_bigger_than_max_bytes_is_not_split(tmp_path: Path) -> None:
    sink = JsonlSink(f"{tmp_path / 'hr.jsonl'}?max_bytes=10", SinkOptions())
    await sink.open()
    try:
        await sink.write(readings([1, 2, 3]), 3)
        await sink.write(readings([4, 5]), 5)
    finally:
        await sink.aclose()
    assert len((tmp_path / "hr.jsonl.1").read_bytes().splitlines()) == 3
    assert len((tmp_path / "hr.jsonl").read_bytes().splitlines()) == 2


async def test_the_cursor_survives_a_crash_right_after_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "hr.jsonl"
    sink = JsonlSink(f"{path}?max_bytes=10", SinkOptions())
    await sink.open()
    try:
        await sink.write(readings([1, 2]), 2)
        await sink.write(readings([3]), 3)
    finally:
        await sink.aclose()
    path.write_bytes(b"")  # as if the process died between the rotation and the append
    reopened = JsonlSink(str(path), SinkOptions())
    assert await reopened.open() == 2
    await reopened.aclose()


@pytest.mark.parametrize(
    "target, message",
    [
        ("", "needs a path"),
        ("x.jsonl?max_bytes=ten", "integer"),
        ("x.jsonl?max_bytes=0", "at least 1"),
        ("x.jsonl?keep=0", "at least 1"),
        ("x.jsonl?rotate=daily", "unknown file sink option 'rotate'"),
        ("x.jsonl?max_bytes", "integer"),
    ],
)
def test_bad_file_targets_are_refused_clearly(target: str, message: str) -> None:
    with pytest.raises((ValueError, SpecError), match=message):  # SpecError: no path at all
        FileTarget.parse(target)


def test_file_targets_parse() -> None:
    assert FileTarget.parse("/d/x.jsonl?max_bytes=1000&keep=3") == FileTarget(Path("/d/x.jsonl"), 1000, 3)
    assert FileTarget.parse("rel/x.csv") == FileTarget(Path("rel/x.csv"), None, 5)


async def test_a_jsonl_file_whose_last_line_is_foreign_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.jsonl").write_bytes(b'{"hello": "world"}\n')
    sink = JsonlSink(str(tmp_path / "notes.jsonl"), SinkOptions())
    with pytest.raises(ValueError, match="notes.jsonl.*not a wearstream record"):
        await sink.open()
    await sink.aclose()
    assert (tmp_path / "notes.jsonl").read_bytes() == b'{"hello": "world"}\n'


# CSV ----------------------------------------------------------------------------------------


async def test_csv_has_a_header_and_one_row_per_payload(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    sink = CsvSink(str(path), SinkOptions())
    await sink.open()
    try:
        await sink.write(
            [
                reading(1),
                reading(2, t="ACCELERATION", d=[0.1, 9.81, -0.3]),
                Payload("dev_1", 3, "u,2", "X", {"ts": "t", "val": 1.5, "note": "hi"}, True),
            ],
            3,
        )
    finally:
        await sink.aclose()
    assert path.read_text().splitlines() == [
        "seq,uid,t,ts,value,synthetic,extra",
        "1,user-1,HEART_RATE,2025-01-01T10:00:01.250000+00:00,61,0,",
        "2,user-1,ACCELERATION,2025-01-01T10:00:02.250000+00:00,\"[0.1,9.81,-0.3]\",0,",
        '3,"u,2",X,t,1.5,1,"{""note"":""hi""}"',
    ]
    with open(path, newline="") as file:
        assert [row["uid"] for row in csv.DictReader(file)] == ["user-1", "user-1", "u,2"]


async def test_csv_refuses_a_line_break_in_a_cell(tmp_path: Path) -> None:
    sink = CsvSink(str(tmp_path / "s.csv"), SinkOptions())
    await sink.open()
    try:
        with pytest.raises(ValueError, match="seq 1.*line break"):
            await sink.write([Payload("dev_1", 1, "a\nb", "X", {"val": 1})], 1)
    finally:
        await sink.aclose()


async def test_csv_refuses_a_file_with_another_header(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("name,age\nbob,3\n")
    sink = CsvSink(str(tmp_path / "s.csv"), SinkOptions())
    with pytest.raises(ValueError, match="expected header"):
        await sink.open()
    await sink.aclose()


async def test_a_csv_header_torn_on_creation_is_rewritten(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("seq,uid,t")
    sink = CsvSink(str(tmp_path / "s.csv"), SinkOptions())
    assert await sink.open() == 0
    await sink.aclose()
    assert (tmp_path / "s.csv").read_text() == "seq,uid,t,ts,value,synthetic,extra\n"
