"""The bad-input set: every good record is kept, every bad one is rejected with its reason and
FILE:LINE, and nothing prints a traceback."""

import gzip
import hashlib
import json
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner

from conftest import read_corpus, read_rejected
from dataprep.cli import cli, _add_stage_commands

MB = 1 << 20


def good(i: int) -> bytes:
    # varied text, so that half of a compressed file holds whole compressed blocks
    noise = hashlib.sha256(str(i).encode()).hexdigest()
    return json.dumps({"id": f"good-{i}", "text": f"A good document number {i}: {noise}."}).encode() + b"\n"


def make_bad_input_set(folder: Path) -> dict:
    """Write the bad-input files; return {origin: expected reason} for the bad records."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        b"\xef\xbb\xbf" + good(1),                                   # 1 BOM before the first record: good
        good(2).replace(b"\n", b"\r\n"),                             # 2 CRLF line ending: good
        b'{"id": "bad-json", "text": "unterminated}\n',              # 3
        b'{"id": "bad-utf8", "text": "caf\xe9 latin-1 byte"}\n',     # 4
        b'{"id": "no-text", "body": "text under another key"}\n',    # 5
        b'{"id": "num-text", "text": 42}\n',                         # 6
        b'{"id": "null-text", "text": null}\n',                      # 7
        b'{"id": "empty-text", "text": ""}\n',                       # 8
        b'{"id": "blank-text", "text": "  \\n\\t "}\n',              # 9
        b'{"id": "raw-nul", "text": "a\x00b"}\n',                    # 10 raw NUL inside a JSON string: invalid JSON
        b'{"id": "escaped-nul", "text": "a\\u0000b"}\n',             # 11 escaped NUL: valid; clean removes it
        b'["not", "an", "object"]\n',                                # 12
        b"\n",                                                       # 13 blank line: not a record
        good(3),                                                     # 14
    ]
    (folder / "mixed.jsonl").write_bytes(b"".join(lines))
    huge = json.dumps({"id": "huge", "text": "x" * (50 * MB)}).encode() + b"\n"
    (folder / "huge.jsonl").write_bytes(good(4) + huge + good(5))
    gz = gzip.compress(b"".join(good(10_000 + i) for i in range(3000)))
    (folder / "cut.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    zs = zstandard.ZstdCompressor().compress(b"".join(good(20_000 + i) for i in range(3000)))
    (folder / "cut.jsonl.zst").write_bytes(zs[: len(zs) // 2])
    return {
        "mixed.jsonl:3": "ingest:invalid_json",
        "mixed.jsonl:4": "ingest:invalid_utf8",
        "mixed.jsonl:5": "ingest:missing_text",
        "mixed.jsonl:6": "ingest:text_not_string",
        "mixed.jsonl:7": "ingest:missing_text",
        "mixed.jsonl:8": "ingest:empty_text",
        "mixed.jsonl:9": "ingest:empty_text",
        "mixed.jsonl:10": "ingest:invalid_json",
        "mixed.jsonl:12": "ingest:not_an_object",
        "huge.jsonl:2": "ingest:too_large",
    }


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    expected = make_bad_input_set(tmp / "in")
    _add_stage_commands()
    result = CliRunner().invoke(cli, ["ingest", "-i", str(tmp / "in"), "-o", str(tmp / "out"), "-q", "--workers", "2"])
    return tmp, expected, result


def test_runs_without_traceback(bad_run):
    _, _, result = bad_run
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_every_good_record_is_kept(bad_run):
    tmp, _, _ = bad_run
    ids = [r["id"] for r in read_corpus(tmp / "out")]
    fixed = ["good-1", "good-2", "escaped-nul", "good-3", "good-4", "good-5"]
    assert set(fixed) <= set(ids)
    assert len(ids) == len(set(ids))


def test_every_bad_record_is_rejected_with_reason_and_line(bad_run):
    tmp, expected, _ = bad_run
    rejected = read_rejected(tmp / "out")
    got = {r["origin"]: r["reason"] for r in rejected if not r["origin"].startswith("cut.")}
    assert got == expected
    huge = next(r for r in rejected if r["reason"] == "ingest:too_large")
    assert huge["id"] == "huge" and huge["raw_bytes"] > 50 * MB and len(huge["raw"]) <= 2000


@pytest.mark.parametrize("name,first", [("cut.jsonl.gz", 10_000), ("cut.jsonl.zst", 20_000)])
def test_truncated_archive_reported_by_name_with_what_was_read(bad_run, name, first):
    tmp, _, result = bad_run
    rows = read_corpus(tmp / "out")
    kept = [r for r in rows if r["origin"].startswith(name + ":")]
    assert kept, "records before the damage are kept"
    assert [r["id"] for r in kept] == [f"good-{first + i}" for i in range(len(kept))]
    cut = [r for r in read_rejected(tmp / "out") if r["origin"].startswith(name + ":")]
    assert [r["reason"] for r in cut] == ["ingest:truncated_file"]
    assert f"{len(kept):,} lines were read" in cut[0]["detail"]
    assert cut[0]["origin"] == f"{name}:{len(kept) + 1}"


def test_accounting_holds(bad_run):
    tmp, _, _ = bad_run
    m = json.loads((tmp / "out" / "manifest.json").read_text())
    assert m["rows_in"] == m["rows_kept"] + m["rows_rejected"]
    assert m["rows_kept"] == len(read_corpus(tmp / "out"))
    assert m["rows_rejected"] == len(read_rejected(tmp / "out")) == sum(m["reasons"].values())
    assert m["counters"]["bom_stripped"] == 1 and m["counters"]["blank_lines"] == 1


def test_strict_mode_fails_fast_with_file_and_line(tmp_path):
    make_bad_input_set(tmp_path / "in")
    _add_stage_commands()
    result = CliRunner().invoke(cli, ["ingest", "-i", str(tmp_path / "in" / "mixed.jsonl"), "-o", str(tmp_path / "o"),
                                      "-q", "--strict"])
    assert result.exit_code != 0
    assert "mixed.jsonl:3: ingest:invalid_json" in result.output
    assert "Traceback" not in result.output
