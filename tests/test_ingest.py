import bz2
import gzip
import json
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from conftest import read_corpus, read_rejected, write_jsonl
from dataprep.config import ConfigError, parse
from dataprep.executor import LocalExecutor
from dataprep.runner import load_pipeline, run_stage
from dataprep.stage import StageError, TaskOutput
from dataprep.stages import ingest as ingest_module
from dataprep.stages.ingest import IngestConfig, IngestStage, ShardBuilder

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


def _input_file(plain: Path, data: bytes, kind: str) -> Path:
    """The only input file of a test: ``data`` as ``plain``, or compressed as ``plain`` + ``kind``."""
    plain.parent.mkdir(parents=True, exist_ok=True)
    plain.write_bytes(data)
    if not kind:
        return plain
    path = _compress(plain, data, kind)
    plain.unlink()
    return path


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
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(ConfigError, match="^paths: cannot tell the format of .*data.csv"):
        parse(IngestConfig, {"paths": [str(tmp_path / "data.csv")]})
    with pytest.raises(ConfigError, match=r"^paths: no file matches '.*nope-\*\.jsonl'$"):
        parse(IngestConfig, {"paths": [str(tmp_path / "nope-*.jsonl")]})
    with pytest.raises(ConfigError, match=r"^paths: '.*missing\.jsonl' does not exist$"):
        parse(IngestConfig, {"paths": [str(tmp_path / "missing.jsonl")]})
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"^paths: no JSONL, Parquet or text files in"):
        parse(IngestConfig, {"paths": [str(tmp_path / "empty")]})


def test_relative_patterns_resolve_from_the_current_folder(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "data" / "a.jsonl", [{"id": "a", "text": "one"}])
    monkeypatch.chdir(tmp_path)
    assert [r["id"] for r in read_corpus(ingest(tmp_path, ["data/*.jsonl"]))] == ["a"]
    with pytest.raises(ConfigError, match=rf"^paths: no file matches 'data/\*\.txt' \(relative to {tmp_path}\)$"):
        parse(IngestConfig, {"paths": ["data/*.txt"]})


def test_pipeline_glob_without_match_is_reported_with_file_and_key_before_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    cfg = tmp_path / "configs" / "x.yaml"
    cfg.write_text("workdir: work\nstages:\n  - ingest: {paths: ['data/*.jsonl']}\n  - clean: {}\n")
    with pytest.raises(ConfigError) as e:
        load_pipeline("configs/x.yaml")
    assert str(e.value) == (f"configs/x.yaml: stages[0].ingest.paths: no file matches 'data/*.jsonl' "
                            f"(relative to {tmp_path})")
    assert not (tmp_path / "work").exists()


def test_format_hf_paths_are_not_checked_as_files():
    assert parse(IngestConfig, {"paths": ["some-org/some-dataset"], "format": "hf"}).paths == ["some-org/some-dataset"]


def _delete_after_listing(monkeypatch, *victims: Path) -> None:
    """Delete ``victims`` right after the stage lists its inputs, as a file removed mid-run would be."""
    listed = IngestStage.source_fingerprint

    def fingerprint_then_delete(self):
        fp = listed(self)
        for v in victims:
            v.unlink()
        return fp
    monkeypatch.setattr(IngestStage, "source_fingerprint", fingerprint_then_delete)


@pytest.mark.parametrize("name,options", [("gone.jsonl", {}), ("gone.jsonl.gz", {}), ("gone.txt", {}),
                                          ("gone.txt", {"text_mode": "line"}), ("gone.parquet", {})])
def test_file_deleted_after_listing_is_rejected_not_dropped(tmp_path, monkeypatch, capfd, name, options):
    folder = tmp_path / "in"
    write_jsonl(folder / "a.jsonl", [{"id": "a1", "text": "kept one"}, {"id": "a2", "text": "kept two"}])
    victim = folder / name
    if name.endswith(".txt"):
        victim.write_text("a text document", encoding="utf-8")
    elif name.endswith(".parquet"):
        pq.write_table(pa.table({"id": ["p"], "text": ["a parquet row"]}), victim)
    else:
        data = b'{"id": "g", "text": "gone"}\n'
        victim.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    _delete_after_listing(monkeypatch, victim)
    out = ingest(tmp_path, [folder], **options)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["id"] for r in read_corpus(out)] == ["a1", "a2"]
    rejected = read_rejected(out)
    assert [(r["origin"], r["reason"]) for r in rejected] == [(f"{name}:1", "ingest:file_vanished")]
    assert "vanished after it was listed" in rejected[0]["detail"]
    assert "FileNotFoundError: No such file or directory" in rejected[0]["detail"]
    assert manifest["rows_in"] == manifest["rows_kept"] + manifest["rows_rejected"] == 3
    assert f"warning: {victim}: file vanished" in capfd.readouterr().err


def test_file_deleted_after_listing_stops_a_strict_run(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": "one"}])
    write_jsonl(tmp_path / "b.jsonl", [{"id": "b", "text": "two"}])
    _delete_after_listing(monkeypatch, tmp_path / "b.jsonl")
    with pytest.raises(StageError, match=r"^b.jsonl:1: ingest:file_vanished: file vanished after it was listed"):
        ingest(tmp_path, [tmp_path / "a.jsonl", tmp_path / "b.jsonl"], strict=True)


def test_one_listing_fingerprints_and_plans(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": "one"}])
    calls = []
    expand = ingest_module.expand_paths
    monkeypatch.setattr(ingest_module, "expand_paths", lambda *a: calls.append(a) or expand(*a))
    stage = IngestStage(IngestConfig(paths=[str(tmp_path / "*.jsonl")]))
    stage.source_fingerprint()
    write_jsonl(tmp_path / "b.jsonl", [{"id": "b", "text": "two"}])  # appears after the listing
    assert [t.inputs for t in stage.tasks(None)] == [(str(tmp_path / "a.jsonl"),)]
    assert len(calls) == 1


def deep_json(depth: int) -> str:
    """A JSON value nested ``depth`` objects deep (built as text: json.dumps would hit Python's recursion limit)."""
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth,reason", [(253, None), (300, "ingest:too_deep"), (1000, "ingest:too_deep")])
def test_deeply_nested_columns_are_rejected_per_row(tmp_path, depth, reason):
    """Parquet and HF rows reach the same check as JSON lines: a row whose fields JSON cannot hold
    is rejected with FILE:ROW; the rows around it are kept."""
    nested = orjson.loads(deep_json(depth))
    out = TaskOutput(tmp_path, "part-00000")
    b = ShardBuilder(IngestConfig(paths=["x"]), out)
    batch = {"id": ["r1", "r2", "r3"], "text": ["one", "two", "three"], "extra": [None, nested, {"k": 1}]}
    ingest_module._records(iter([batch]), "nested.parquet", b)
    b.close()
    assert out.rows_in == 3 and out.rows_in == out.rows_kept + out.rows_rejected
    if reason is None:
        assert out.rows_kept == 3
        return
    assert out.rows_kept == 2 and out.reasons == {reason: 1}
    (row,) = pq.read_table(tmp_path / out.rejected_shards[0]["file"]).to_pylist()
    assert row["origin"] == "nested.parquet:2"
    assert row["detail"].startswith(f"the record nests {depth + 1} levels deep")
    assert row["raw"].startswith('{"id":"r2","text":"two","extra":"<dict that JSON cannot hold')


def test_deep_promoted_field_is_rejected_and_dropped_metadata_is_kept(tmp_path):
    recs = f'{{"id": "u", "text": "t", "url": {deep_json(400)}}}\n{{"id": "m", "text": "t", "x": {deep_json(400)}}}\n'
    (tmp_path / "p.jsonl").write_text(recs)
    out = ingest(tmp_path, [tmp_path / "p.jsonl"])
    assert [(r["origin"], r["reason"]) for r in read_rejected(out)] == [("p.jsonl:1", "ingest:too_deep"),
                                                                         ("p.jsonl:2", "ingest:too_deep")]
    rows = read_corpus(ingest(tmp_path / "drop", [tmp_path / "p.jsonl"], metadata="drop", promote=[]))
    assert [r["id"] for r in rows] == ["u", "m"]


@pytest.mark.parametrize("field,record,detail", [
    ("body", {"id": "a", "text": "t", "url": "u"},
     "no field 'body' (text_field); the record has fields: id, text, url"),
    ("doc.body", {"doc": {"title": "x"}}, "no field 'doc.body' (text_field); 'doc' has fields: title"),
    ("doc.body", {"doc": "flat"}, "no field 'doc.body' (text_field): 'doc' is str, not an object"),
    ("text", {"text": None}, "'text' (text_field) is null"),
])
def test_missing_text_names_the_field_and_what_is_there(tmp_path, field, record, detail):
    write_jsonl(tmp_path / "w.jsonl", [record, record])
    out = ingest(tmp_path, [tmp_path / "w.jsonl"], text_field=field)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows_kept"] == 0 and manifest["reasons"] == {"ingest:missing_text": 2}
    assert [r["detail"] for r in read_rejected(out)] == [detail, detail]


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


# --- clean-block path vs per-line path ------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _messy_jsonl() -> bytes:
    """Good records with bad ones sprinkled in: every kind of line the clean-block path hands to
    the per-line path, between runs of clean records."""
    def good(i: int, **extra) -> bytes:
        rec = {"id": f"g{i}", "text": f"document {i} " + "ü" * (i % 5) + "字" * (i % 3), **extra}
        if i % 3:
            rec["doc"] = {"body": f"inner {i}", "id": i, "t": [i]} if i % 5 else {"body": f"inner {i}"}
        return orjson.dumps(rec) + b"\n"
    bad = [
        b'{"id": "bad-json", "text": "unterminated}\n',
        b'{"id": "bad-utf8", "text": "caf\xe9 latin-1"}\n',
        b'{"id": "no-text", "body": "text under another key"}\n',
        b'{"id": "num-text", "text": 42}\n',
        b'{"id": "null-text", "text": null}\n',
        b'{"id": "empty-text", "text": ""}\n',
        b'{"id": "blank-text", "text": "  \\n\\t \\u3000"}\n',
        f'{{"id": "deep", "text": "t", "x": {deep_json(300)}}}\n'.encode(),
        f'{{"id": "deep-url", "text": "t", "url": {deep_json(300)}}}\n'.encode(),
        orjson.dumps({"id": "huge", "text": "x" * 3000}) + b"\n",
        orjson.dumps({"id": "huge-zh", "text": "字" * 700}) + b"\n",
        b'{"id": 1.5, "text": "float id"}\n',
        b'{"id": true, "text": "bool id"}\n',
        b'{"id": ["a"], "text": "list id"}\n',
        b'["not", "an", "object"]\n',
        b'"a string"\n',
        b"\n",
        b"   \r\n",
        b'{"id": "raw-nul", "text": "a\x00b"}\n',
    ]
    odd_good = [
        good(900).replace(b"\n", b"\r\n"),                        # CRLF
        b'{"id": 12345678901234, "text": "integer id"}\n',
        b'{"text": "no id: generated"}\n',
        b'{"id": null, "text": "null id: generated"}\n',
        b'{"id": "g1", "text": "duplicate id"}\n',
        b'{"id": "p", "text": "promoted", "url": ["x", 1], "source": {"b": 1, "a": null}, "z": 1, "a": [1.5]}\n',
        b'{"id": "n", "text": "nested", "doc": {"body": "inner", "id": "inner-id"}, "url": null}\n',
        b'{"id": "dup-key", "text": "first", "text": "second"}\n',
        b'{"id": "esc", "text": "a\\u0000b \\ud83c\\udf89 \\"q\\""}\n',
    ]
    lines = [b"\xef\xbb\xbf" + good(0)]
    i = 1
    for extra in bad + odd_good:
        for _ in range(i % 4):
            lines.append(good(i, url=f"https://e.example/{i}", source="s" if i % 2 else None, k=i))
            i += 1
        lines.append(extra)
        i += 1
    lines += [good(j) for j in range(i, i + 60)]
    return b"".join(lines) + b'{"id": "last", "text": "no newline at the end"}'


# The three JSONL paths: every line on its own, runs of lines parsed by orjson, whole blocks by Arrow.
PATHS = {"per-line": {"BLOCK_PARSE": False, "ARROW_PARSE": False},
         "block": {"BLOCK_PARSE": True, "ARROW_PARSE": False},
         "arrow": {"BLOCK_PARSE": True, "ARROW_PARSE": True}}


def _ingest_paths(tmp_path: Path, monkeypatch, paths: list, modes=tuple(PATHS), **options) -> dict[str, Path]:
    """Ingest once per path in ``modes`` (in this process: one worker), each into its own folder."""
    outs = {}
    for mode in modes:
        for name, value in PATHS[mode].items():
            monkeypatch.setattr(ingest_module, name, value)
        outs[mode] = ingest(tmp_path / mode, paths, duplicate_ids="warn", **options)
    return outs


def _ingest_both(tmp_path: Path, monkeypatch, paths: list, **options) -> tuple[Path, Path]:
    """Ingest on the per-line path and on the block paths (orjson, then Arrow); the block outputs
    are checked against the per-line one, which is returned with the Arrow one."""
    outs = _ingest_paths(tmp_path, monkeypatch, paths, **options)
    _assert_same_output(outs["per-line"], outs["block"])
    return outs["per-line"], outs["arrow"]


def _count_arrow_rows(monkeypatch) -> list[int]:
    """A list that collects the number of rows of each block kept on the Arrow path."""
    rows: list[int] = []
    keep_table = ShardBuilder.keep_table

    def counting(self, table, nbytes):
        rows.append(table.num_rows)
        return keep_table(self, table, nbytes)
    monkeypatch.setattr(ShardBuilder, "keep_table", counting)
    return rows


def _assert_same_output(a: Path, b: Path) -> None:
    ma, mb = (json.loads((o / "manifest.json").read_text()) for o in (a, b))
    for key in ("rows_in", "rows_kept", "rows_rejected", "reasons", "counters", "chars_in", "chars_out",
                "shards", "rejected_shards", "schema"):
        assert ma[key] == mb[key], key
    for shard in ma["shards"] + ma["rejected_shards"]:
        assert (a / shard["file"]).read_bytes() == (b / shard["file"]).read_bytes(), shard["file"]


@pytest.mark.parametrize("kind", ["", ".gz", ".zst"])
@pytest.mark.parametrize("options", [
    {},
    {"shard_rows": 7, "shard_bytes": 300, "chunk_bytes": 700},
    {"text_field": "doc.body", "id_field": "doc.id"},
    {"id_field": None, "metadata": "drop", "promote": ["source"]},
])
def test_block_path_output_is_byte_identical_to_per_line(tmp_path, monkeypatch, kind, options):
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 500)  # many blocks, runs cut at block ends
    data = _messy_jsonl()
    path = _input_file(tmp_path / "in" / "messy.jsonl", data, kind)
    per_line, block = _ingest_both(tmp_path, monkeypatch, [path], max_doc_bytes=2000, **options)
    _assert_same_output(per_line, block)
    manifest = json.loads((block / "manifest.json").read_text())
    assert manifest["rows_rejected"] >= 10 and manifest["rows_kept"] > 90
    assert manifest["counters"]["bom_stripped"] == 1 and manifest["counters"]["blank_lines"] == 2
    if "chunk_bytes" in options and not kind:
        assert manifest["tasks"] > 3


@pytest.mark.parametrize("kind", [".gz", ".zst"])
def test_block_path_on_truncated_archive_matches_per_line(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 5000)
    data = b"".join(orjson.dumps({"id": f"d{i}", "text": f"doc {i} {i * 7919 % 10007}"}) + b"\n" for i in range(5000))
    whole = _compress(tmp_path / "cut.jsonl", data, kind).read_bytes()
    (tmp_path / f"cut.jsonl{kind}").write_bytes(whole[: len(whole) // 2])
    per_line, block = _ingest_both(tmp_path, monkeypatch, [tmp_path / f"cut.jsonl{kind}"])
    _assert_same_output(per_line, block)
    assert json.loads((block / "manifest.json").read_text())["reasons"] == {"ingest:truncated_file": 1}


@pytest.mark.parametrize("block_bytes,options", [(3000, {"chunk_bytes": 300_000, "shard_rows": 333}),
                                                  (4 << 20, {"chunk_bytes": 300_000, "shard_rows": 333}),
                                                  (100_000, {})])  # shards of MBs, pages cut by size
def test_block_path_on_sample_data_is_byte_identical_to_per_line(tmp_path, monkeypatch, block_bytes, options):
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(ingest_module, "ARROW_SKIP_MAX", 0)
    arrow_rows = _count_arrow_rows(monkeypatch)
    per_line, block = _ingest_both(tmp_path, monkeypatch, [ROOT / "sample_data" / "raw"], **options)
    _assert_same_output(per_line, block)
    manifest = json.loads((block / "manifest.json").read_text())
    assert manifest["rows_kept"] > 1000 and len(manifest["shards"]) > 5
    assert sum(arrow_rows) > manifest["rows_kept"] // 2  # most blocks are plain records
    if not options:  # a text column chunk of several data pages (of 1 MB before compression)
        sizes = [pq.ParquetFile(block / s["file"]).metadata.row_group(0).column(1).total_uncompressed_size
                 for s in manifest["shards"]]
        assert max(sizes) > 1 << 20


def test_arrow_path_ends_shards_where_the_text_bytes_reach_the_limit(tmp_path, monkeypatch):
    """Texts of 10 bytes and shard_bytes=50: a shard ends exactly at its 5th row on every path."""
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 230)
    monkeypatch.setattr(ingest_module, "ARROW_SKIP_MAX", 0)
    arrow_rows = _count_arrow_rows(monkeypatch)
    write_jsonl(tmp_path / "t.jsonl", [{"id": f"t{i}", "text": f"text {i:05d}"} for i in range(203)])
    outs = _ingest_paths(tmp_path, monkeypatch, [tmp_path / "t.jsonl"], shard_bytes=50)
    for mode in ("block", "arrow"):
        _assert_same_output(outs["per-line"], outs[mode])
    manifest = json.loads((outs["arrow"] / "manifest.json").read_text())
    assert [s["rows"] for s in manifest["shards"]] == [5] * 40 + [3] and sum(arrow_rows) > 150


def test_strict_block_path_stops_at_the_same_line(tmp_path, monkeypatch):
    (tmp_path / "s.jsonl").write_bytes(_messy_jsonl())
    (tmp_path / "p.jsonl").write_bytes(_plain_jsonl())
    for mode, switches in PATHS.items():
        for name, value in switches.items():
            monkeypatch.setattr(ingest_module, name, value)
        with pytest.raises(StageError, match=r"^s.jsonl:3: ingest:invalid_json: "):
            ingest(tmp_path / mode, [tmp_path / "s.jsonl"], strict=True)
        with pytest.raises(StageError, match=r"^p.jsonl:4: ingest:invalid_json: "):
            ingest(tmp_path / f"{mode}-p", [tmp_path / "p.jsonl"], strict=True)


# --- the Arrow path -----------------------------------------------------------------------------


def _plain_jsonl(ids: bool = True) -> bytes:
    """Mostly records the Arrow path takes (id, text and promoted fields only; ``ids``: with an
    id), in runs between lines it must leave to the other paths: bad records, and good ones it
    cannot take as they are (other fields, non-string promoted values, repeated keys, surrogate
    escapes, ...), then a long run of plain records."""
    def plain(i: int) -> bytes:
        text = [f"plain {i}", f"ü字🎉 {i}", rf'tab\t{i}\nline \"quoted\" \\ \u00e9\u2028 {i}', f"  padded {i}  ",
                "\u200b", "\u180e", f"{'long ' * (i % 40)}{i}"][i % 7]
        if i % 97 == 5:  # text that the Arrow path's byte checks take for a `null` after an object, a surrogate
            text = f"{{braces}} n{i} }} null" if i % 2 else rf"\\ud800 is text {i}"
        fields = [f'"id": "p{i}"', f'"text": "{text}"'][0 if ids else 1:]
        if i % 4:
            fields.append(f'"url": "https://p.example/{i}"')
        if i % 5 == 1:
            fields.append('"source": null')
        elif i % 3:
            fields.append(f'"source": "s{i % 3}"')
        if i % 7 == 3:
            fields.reverse()
        return ("{" + ", ".join(fields) + "}\n").encode()

    specials = [
        # lines no block path takes: rejected, or skipped (blank)
        b'{"id": "bad-json", "text": "unterminated}\n',
        b"\n",
        b'  \t \r\n',
        b'["not", "an", "object"]\n',
        b"null\n",
        b"12\n",
        b'"a string"\n',
        b'{"id": "empty", "text": ""}\n',
        b'{"id": "blank", "text": " \\n\\t\\r "}\n',
        b'{"id": "ideographic-space", "text": "\\u3000\\u3000"}\n',
        b'{"id": "separators", "text": "\x1c\x1d\x1e\x1f"}\n',
        b'{"id": "separators-escaped", "text": "\\u001c\\u001f"}\n',
        '{"id": "unicode-spaces", "text": "\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f"}\n'.encode(),
        b'{"id": "num-text", "text": 42}\n',
        b'{"id": "null-text", "text": null}\n',
        b'{"id": "no-text", "url": "u"}\n',
        orjson.dumps({"id": "huge", "text": "x" * 2001}) + b"\n",
        orjson.dumps({"id": "huge-zh", "text": "字" * 667 + "x"}) + b"\n",
        b'{"id": 1.5, "text": "float id"}\n',
        b'{"id": 1e3, "text": "exponent id"}\n',
        b'{"id": true, "text": "bool id"}\n',
        b'{"id": NaN, "text": "NaN id"}\n',
        b'{"id": -Infinity, "text": "infinite id"}\n',
        b'{"id": "bad-utf8", "text": "caf\xe9 latin-1"}\n',
        b'{"id": "bad-utf8-url", "text": "t", "url": "\xff"}\n',
        b'{"id": "lone-surrogate", "text": "a\\ud800b"}\n',
        b'{"id": "lone-low-surrogate", "text": "a\\uDC00b"}\n',
        b'{"id": "raw-tab", "text": "a\tb"}\n',
        b'{"id": "raw-nul", "text": "a\x00b"}\n',
        b'\xef\xbb\xbf{"id": "bom-not-first", "text": "t"}\n',
        b'{"id": "null-after", "text": "t"} null\n',
        b'{"id": "two-a", "text": "t"} {"id": "two-b", "text": "t"}\n',
        b'{"id": "two-c", "text": "t"}{"id": "two-d", "text": "t"}\n',
        b'{"id": "trailing", "text": "t"} x\n',
        b'{"id": "lone-cr", "text": "t"}\r{"id": "lone-cr-2", "text": "t"}\n',
        b'{"id": "open", "text": "t",\n',
        b'"text": "the rest of a record"}\n',
        # good records the Arrow path leaves to the other paths
        b'{"id": "extra", "text": "meta field", "score": 0.5, "tags": ["a"]}\n',
        b'{"id": "nested-extra", "text": "meta field", "doc": {"id": 1}}\n',
        b'{"id": "url-int", "text": "t", "url": 7}\n',
        b'{"id": "source-list", "text": "t", "source": ["a", 1]}\n',
        b'{"id": "url-object", "text": "t", "url": {"b": 1, "a": null}}\n',
        b'{"id": "url-bool", "text": "t", "url": false}\n',
        b'{"id": "dup-text", "text": "first", "text": "second"}\n',
        b'{"id": "dup-url", "text": "t", "url": "first", "url": null}\n',
        b'{"id": "dup-id", "id": "dup-id-2", "text": "t"}\n',
        b'{"id": "dup-escaped", "text": "first", "te\\u0078t": "second"}\n',
        b'{"id": "pair", "text": "\\ud83c\\udf89 and \\uD83D\\uDE00"}\n',
        b'{"id": 99999999999999999999, "text": "id over int64"}\n',
        b'{"id": "spaced", "text": "t"}   \n',
        b'   {"id": "indented", "text": "t"}\n',
        b'{"id": "cr-inside",\r "text": "t"}\n',
        b'{"id": "ws-inside" , "text" :\t"t" }\n',
        b'{"id": "empty-key", "text": "t", "": 1}\n',
        # good records it takes in blocks of their own
        b'{"id": null, "text": "null id: generated"}\n',
        b'{"text": "no id: generated", "url": "u"}\n',
        b'{"id": "", "text": "empty id"}\n',
        b'{"id": "2021-03-04", "text": "an id that looks like a date"}\n',
        b'{"id": "p-crlf", "text": "CRLF line"}\r\n',
        '{"id": "zero-width", "text": "\u200b\ufeff"}\n'.encode(),
    ]
    int_ids = b"".join(b'{"id": %s, "text": "integer id %d", "source": "n"}\n' % (v, k) for k, v in enumerate(
        [b"0", b"-0", b"7", b"-12", b"9223372036854775807", b"-9223372036854775808", b"12345678901234", b"1", b"2"]))
    lines = [b"\xef\xbb\xbf" + plain(0)]
    i = 1
    for n, extra in enumerate(specials):
        for _ in range((n * 7) % 17 + 2):
            lines.append(plain(i))
            i += 1
        lines.append(extra)
        if n % 9 == 4:
            lines.append(int_ids)
        if n % 13 == 7:
            lines += [plain(j).replace(b"\n", b"\r\n") for j in range(i, i + 8)]
            i += 8
    lines += [plain(j) for j in range(i, i + 250)]
    return b"".join(lines) + b'{"id": "last", "text": "no newline at the end", "url": "u"}'


ARROW_OPTIONS = {
    "defaults": (True, {}),
    "small-shards": (True, {"shard_rows": 13, "shard_bytes": 700, "metadata": "drop"}),
    "tasks": (True, {"shard_rows": 50, "chunk_bytes": 900}),
    "no-ids": (False, {"id_field": None, "promote": ["source", "url"], "shard_bytes": 1000, "chunk_bytes": 2000}),
    "other-fields": (True, {"promote": [], "metadata": "drop", "id_field": "url", "chunk_bytes": 3000}),
}


@pytest.mark.parametrize("kind,block_bytes,name", [
    *(("", block_bytes, name) for block_bytes in (200, 2500, 1 << 20) for name in ARROW_OPTIONS),
    (".gz", 700, "defaults"), (".gz", 200, "small-shards"), (".zst", 1 << 20, "tasks"), (".gz", 2500, "no-ids"),
])
def test_arrow_path_output_is_byte_identical_to_per_line(tmp_path, monkeypatch, kind, block_bytes, name):
    """Blocks cut at many places; shards cut by rows and bytes; files split into tasks: the Arrow
    path gives the shards and rejections of the per-line path, byte for byte."""
    ids, options = ARROW_OPTIONS[name]
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(ingest_module, "ARROW_SKIP_MAX", 0)  # try every block
    arrow_rows = _count_arrow_rows(monkeypatch)
    data = _plain_jsonl(ids)
    path = _input_file(tmp_path / "in" / "plain.jsonl", data, kind)
    per_line, arrow = _ingest_both(tmp_path, monkeypatch, [path], max_doc_bytes=2000, **options)
    _assert_same_output(per_line, arrow)
    manifest = json.loads((arrow / "manifest.json").read_text())
    assert manifest["rows_rejected"] >= 25 and manifest["rows_kept"] > 800
    assert manifest["counters"]["bom_stripped"] == 1 and manifest["counters"]["blank_lines"] == 2
    if "chunk_bytes" in options and not kind:
        assert manifest["tasks"] > 5
    if options.get("id_field", "id") == "url":  # other fields in every record: no block is plain
        assert not arrow_rows
    elif block_bytes < 1 << 20:
        assert sum(arrow_rows) > manifest["rows_kept"] // 8
    else:  # one block for the file, or for each task
        assert sum(arrow_rows) == 0 if manifest["tasks"] == 1 else sum(arrow_rows) > 0


def test_arrow_path_skips_blocks_after_failures_with_the_same_output(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 300)
    arrow_rows = _count_arrow_rows(monkeypatch)
    (tmp_path / "p.jsonl").write_bytes(_plain_jsonl())
    per_line, arrow = _ingest_both(tmp_path, monkeypatch, [tmp_path / "p.jsonl"], max_doc_bytes=2000, shard_rows=40)
    _assert_same_output(per_line, arrow)
    assert 0 < sum(arrow_rows)


@pytest.mark.parametrize("workers", [1, 2])
def test_arrow_path_in_worker_processes_matches_per_line(tmp_path, monkeypatch, workers):
    """The worker processes run the stage as configured (Arrow path on): their shards, from a file
    split into several tasks, are those of the per-line path."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "p.jsonl").write_bytes(_plain_jsonl())
    write_jsonl(tmp_path / "in" / "q.jsonl", [{"id": f"q{i}", "text": f"doc {i} ü", "url": f"u{i}"}
                                              for i in range(300)])
    options = {"max_doc_bytes": 2000, "chunk_bytes": 2500, "shard_rows": 30, "duplicate_ids": "warn"}
    monkeypatch.setattr(ingest_module, "BLOCK_PARSE", False)
    per_line = ingest(tmp_path / "per-line", [tmp_path / "in"], **options)
    monkeypatch.undo()
    assert ingest_module.BLOCK_PARSE and ingest_module.ARROW_PARSE
    out = ingest(tmp_path / "arrow", [tmp_path / "in"], workers=workers, **options)
    _assert_same_output(per_line, out)
    assert json.loads((out / "manifest.json").read_text())["tasks"] > 10


def test_python_whitespace_list_is_complete():
    import sys

    assert ingest_module.PY_WHITESPACE == "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


def test_blank_text_pattern_matches_python_strip():
    import pyarrow.compute as pc

    texts = ["", "a", " a ", "\u200b", "\ufeff", "\u180e", "\x00", "\u3000x", "x\u3000", *ingest_module.PY_WHITESPACE,
             ingest_module.PY_WHITESPACE, "\n\n", " \x1c\u2029 "]
    blank = pc.match_substring_regex(pa.array(texts, pa.large_string()), ingest_module._BLANK_TEXT).to_pylist()
    assert blank == [not t.strip() for t in texts]
