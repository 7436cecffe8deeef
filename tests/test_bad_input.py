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


def deep_json(depth: int) -> bytes:
    """A JSON value nested ``depth`` objects deep (built as text: json.dumps would hit Python's recursion limit)."""
    return b'{"a":' * depth + b"1" + b"}" * depth


DEPTHS = {253: None, 300: "ingest:too_deep", 1000: "ingest:too_deep", 10_000: "ingest:invalid_json"}


@pytest.mark.parametrize("ext", ["", ".gz", ".zst"])
def test_deeply_nested_records_are_rejected_with_line_and_the_rest_kept(tmp_path, ext):
    deep = [b'{"id": "deep-%d", "text": "x", "extra": %s}\n' % (d, deep_json(d)) for d in DEPTHS]
    lines = [good(1), *deep, good(2)]
    data = b"".join(lines)
    compress = {"": lambda d: d, ".gz": gzip.compress, ".zst": zstandard.ZstdCompressor().compress}[ext]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / f"deep.jsonl{ext}").write_bytes(compress(data))
    _add_stage_commands()
    result = CliRunner().invoke(cli, ["ingest", "-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert [r["id"] for r in read_corpus(tmp_path / "out")] == ["good-1", "deep-253", "good-2"]
    rejected = {r["origin"]: r["reason"] for r in read_rejected(tmp_path / "out")}
    assert rejected == {f"deep.jsonl{ext}:{i}": reason for i, reason in enumerate(DEPTHS.values(), start=2) if reason}
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["rows_in"] == m["rows_kept"] + m["rows_rejected"] == 6


def test_parquet_nested_deeper_than_the_reader_takes_is_one_line(tmp_path):
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{"id": "a", "text": "x", "extra": orjson.loads(deep_json(300))}]),
                   tmp_path / "deep.parquet")
    _add_stage_commands()
    result = CliRunner().invoke(cli, ["ingest", "-i", str(tmp_path / "deep.parquet"), "-o", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"Error: StageError: {tmp_path / 'deep.parquet'}: not a readable Parquet file")


@pytest.mark.parametrize("depth", [300, 1000])
def test_hf_dataset_nested_deeper_than_arrow_holds_is_one_line(tmp_path, monkeypatch, depth):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    (tmp_path / "hf").mkdir()
    deep = b'{"id": "d", "text": "x", "extra": %s}\n' % deep_json(depth)
    (tmp_path / "hf" / "train.jsonl").write_bytes(good(1) + deep)
    _add_stage_commands()
    result = CliRunner().invoke(cli, ["ingest", "-i", str(tmp_path / "hf"), "--format", "hf", "-o", str(tmp_path / "o"),
                                      "-q"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert "cannot load HuggingFace dataset" in line and "ingest its JSONL files with format `jsonl`" in line


def test_glob_without_match_is_one_line_before_any_folder_is_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.yaml").write_text("workdir: work\nstages:\n  - ingest: {paths: ['data/*.jsonl']}\n")
    _add_stage_commands()
    run = CliRunner().invoke(cli, ["run", "x.yaml"])
    assert run.exit_code == 1
    assert run.output.strip() == (f"Error: ConfigError: x.yaml: stages[0].ingest.paths: no file matches "
                                  f"'data/*.jsonl' (relative to {tmp_path})")
    one = CliRunner().invoke(cli, ["ingest", "-i", "nomatch*", "-o", "out"])
    assert one.exit_code == 1
    assert one.output.strip() == (f"Error: ConfigError: ingest.paths: no file matches 'nomatch*' "
                                  f"(relative to {tmp_path})")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.yaml"]
