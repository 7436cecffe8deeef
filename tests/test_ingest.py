import bz2
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from conftest import read_corpus, write_jsonl
from dataprep.config import parse
from dataprep.executor import LocalExecutor
from dataprep.runner import run_stage
from dataprep.stages.ingest import IngestConfig, IngestStage

RECORDS = [
    {"id": "doc-1", "text": "Hello world.\nSecond line with émoji 🎉.", "url": "https://a.example/1",
     "source": "crawl", "score": 0.5, "tags": ["a", "b"], "nested": {"k": [1, 2, {"x": None}]}},
    {"id": "doc-2", "text": "数据清洗是预训练的第一步。\r\n第二段。", "url": "https://b.example/2", "lang_hint": "zh"},
    {"id": "doc-3", "text": "  leading and trailing spaces  ", "source": "books", "n": 12345678901234},
    {"id": "doc-4", "text": "مرحبا بالعالم", "url": "https://c.example/4", "flag": True, "empty": {}},
]


def ingest(tmp_path: Path, paths: list, workers: int = 1, **options) -> Path:
    out = tmp_path / "out"
    stage = IngestStage(parse(IngestConfig, {"paths": [str(p) for p in paths], **options}))
    with LocalExecutor(workers) as ex:
        run_stage(stage, None, out, ex)
    return out


def rebuild(row: dict, promote=("url", "source")) -> dict:
    """The original record from a corpus row: id, text, promoted fields and meta."""
    rec = json.loads(row["meta"]) if row["meta"] else {}
    rec.update({k: row[k] for k in promote if row[k] is not None})
    rec["id"], rec["text"] = row["id"], row["text"]
    return rec


def _compress(path: Path, data: bytes, kind: str) -> Path:
    target = path.with_name(path.name + kind)
    if kind == ".gz":
        target.write_bytes(gzip.compress(data))
    elif kind == ".zst":
        target.write_bytes(zstandard.ZstdCompressor().compress(data))
    elif kind == ".bz2":
        target.write_bytes(bz2.compress(data))
    return target


@pytest.mark.parametrize("kind", ["", ".gz", ".zst", ".bz2"])
def test_jsonl_round_trip(tmp_path, kind):
    plain = write_jsonl(tmp_path / "in" / "data.jsonl", RECORDS)
    path = plain if not kind else _compress(plain, plain.read_bytes(), kind)
    if kind:
        plain.unlink()
    rows = read_corpus(ingest(tmp_path, [path]))
    assert [rebuild(r) for r in rows] == RECORDS
    assert [r["origin"] for r in rows] == [f"data.jsonl{kind}:{i}" for i in range(1, 5)]


def test_parquet_round_trip(tmp_path):
    table = pa.Table.from_pylist([{"id": r["id"], "text": r["text"], "url": r.get("url"), "n": i, "tags": ["x"] * i}
                                  for i, r in enumerate(RECORDS)])
    pq.write_table(table, tmp_path / "in.parquet")
    rows = read_corpus(ingest(tmp_path, [tmp_path / "in.parquet"]))
    assert [r["id"] for r in rows] == [r["id"] for r in RECORDS]
    assert [r["text"] for r in rows] == [r["text"] for r in RECORDS]
    assert [r["url"] for r in rows] == [r.get("url") for r in RECORDS]
    assert [json.loads(r["meta"]) for r in rows] == [{"n": i, "tags": ["x"] * i} for i in range(4)]
    assert rows[2]["origin"] == "in.parquet:3"


def test_text_files_one_document_per_file(tmp_path):
    folder = tmp_path / "books"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("第一本书。\n\n第二段。", encoding="utf-8")
    (folder / "sub" / "b.txt").write_text("Book two.\nMore text.", encoding="utf-8")
    rows = read_corpus(ingest(tmp_path, [folder]))
    assert [(r["id"], r["text"]) for r in rows] == [("a.txt", "第一本书。\n\n第二段。"),
                                                      ("sub/b.txt", "Book two.\nMore text.")]


def test_text_files_one_document_per_line(tmp_path):
    (tmp_path / "lines.txt").write_text("first doc\n\nsecond doc\r\nthird doc\n", encoding="utf-8")
    out = ingest(tmp_path, [tmp_path / "lines.txt"], text_mode="line")
    rows = read_corpus(out)
    assert [(r["id"], r["text"]) for r in rows] == [("lines.txt:1", "first doc"), ("lines.txt:3", "second doc"),
                                                      ("lines.txt:4", "third doc")]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counters"]["blank_lines"] == 1


def test_hf_save_to_disk_round_trip(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"id": r["id"], "text": r["text"], "url": r.get("url") or "", "n": i}
                                     for i, r in enumerate(RECORDS)])
    ds.save_to_disk(str(tmp_path / "hfds"))
    rows = read_corpus(ingest(tmp_path, [tmp_path / "hfds"]))
    assert [(r["id"], r["text"], r["url"]) for r in rows] == [(r["id"], r["text"], r.get("url") or "") for r in RECORDS]
    assert [json.loads(r["meta"]) for r in rows] == [{"n": i} for i in range(4)]


def test_hf_load_dataset_local_folder(tmp_path, monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    write_jsonl(tmp_path / "hfdata" / "train.jsonl", [{"id": r["id"], "text": r["text"]} for r in RECORDS])
    rows = read_corpus(ingest(tmp_path, [tmp_path / "hfdata"], format="hf"))
    assert [(r["id"], r["text"]) for r in rows] == [(r["id"], r["text"]) for r in RECORDS]


def test_nested_text_field_and_generated_ids(tmp_path):
    recs = [{"doc": {"body": "nested one", "title": "t1"}}, {"doc": {"body": "nested two"}, "id": 7}]
    write_jsonl(tmp_path / "n.jsonl", recs)
    rows = read_corpus(ingest(tmp_path, [tmp_path / "n.jsonl"], text_field="doc.body"))
    assert [r["id"] for r in rows] == ["n.jsonl:1", "7"]
    assert [r["text"] for r in rows] == ["nested one", "nested two"]
    assert json.loads(rows[0]["meta"]) == {"doc": {"title": "t1"}}


def test_shards_split_by_rows_and_bytes(tmp_path):
    recs = [{"id": f"d{i}", "text": "x" * 100} for i in range(10)]
    write_jsonl(tmp_path / "s.jsonl", recs)
    out = ingest(tmp_path, [tmp_path / "s.jsonl"], shard_rows=4)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["rows"] for s in manifest["shards"]] == [4, 4, 2]
    out2 = ingest(tmp_path / "b", [tmp_path / "s.jsonl"], shard_bytes=250)
    manifest2 = json.loads((out2 / "manifest.json").read_text())
    assert [s["rows"] for s in manifest2["shards"]] == [3, 3, 3, 1]
    assert [r["id"] for r in read_corpus(out2)] == [r["id"] for r in recs]


def test_large_plain_file_is_split_into_tasks_with_exact_line_numbers(tmp_path):
    recs = [{"text": f"document {i} " + "y" * (i % 7)} for i in range(200)]
    write_jsonl(tmp_path / "big.jsonl", recs)
    whole = read_corpus(ingest(tmp_path / "a", [tmp_path / "big.jsonl"]))
    out = ingest(tmp_path / "b", [tmp_path / "big.jsonl"], workers=2, chunk_bytes=1000)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tasks"] > 3
    assert read_corpus(out) == whole
    assert [r["id"] for r in whole] == [f"big.jsonl:{i}" for i in range(1, 201)]


def test_unknown_extension_and_missing_files_are_config_errors(tmp_path):
    from dataprep.config import ConfigError

    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(ConfigError, match="cannot tell the format of .*data.csv"):
        ingest(tmp_path, [tmp_path / "data.csv"])
    with pytest.raises(ConfigError, match="nothing matches"):
        ingest(tmp_path, [tmp_path / "nope-*.jsonl"])


def test_repeated_ids_stop_the_stage_naming_them(tmp_path):
    from dataprep.stage import StageError

    write_jsonl(tmp_path / "a.jsonl", [{"id": "x", "text": "one"}, {"id": "y", "text": "two"}])
    write_jsonl(tmp_path / "b.jsonl", [{"id": "x", "text": "three"}])
    with pytest.raises(StageError, match=r"'x' at a.jsonl:1, b.jsonl:1"):
        ingest(tmp_path, [tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    out = ingest(tmp_path / "w", [tmp_path / "a.jsonl", tmp_path / "b.jsonl"], duplicate_ids="warn")
    assert json.loads((out / "manifest.json").read_text())["counters"]["duplicate_ids"] == 1


def test_many_small_text_files_are_grouped_into_few_tasks(tmp_path):
    for i in range(30):
        (tmp_path / "docs" / f"{i:02d}.txt").parent.mkdir(exist_ok=True)
        (tmp_path / "docs" / f"{i:02d}.txt").write_text(f"document {i}", encoding="utf-8")
    (tmp_path / "docs" / "bad.txt").write_bytes(b"caf\xe9")
    out = ingest(tmp_path, [tmp_path / "docs"], shard_rows=10)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tasks"] == 4 and manifest["rows_kept"] == 30
    assert manifest["reasons"] == {"ingest:invalid_utf8": 1}
    assert [r["id"] for r in read_corpus(out)] == [f"{i:02d}.txt" for i in range(30)]
