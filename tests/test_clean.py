import pyarrow as pa
import pytest

from conftest import read_corpus, read_rejected, write_jsonl
from dataprep.config import parse
from dataprep.executor import LocalExecutor
from dataprep.runner import run_stage
from dataprep.corpus import Corpus
from dataprep.stages.clean import CleanConfig, CleanStage, clean_text
from dataprep.stages.ingest import IngestConfig, IngestStage

DEFAULT = CleanConfig()


@pytest.mark.parametrize("raw,expected,rules", [
    ("a\r\nb\rc", "a\nb\nc", ["newlines"]),
    ("nul\x00 and bell\x07", "nul and bell", ["control"]),
    ("zero\u200bwidth\ufeff", "zerowidth", ["zero_width"]),
    ("e\u0301", "\u00e9", ["nfc"]),
    ("too   many \t spaces  \nline   ", "too many spaces\nline", ["whitespace"]),
    ("p1\n\n\n\n\np2", "p1\n\np2", ["whitespace"]),
    ("  padded  ", "padded", ["whitespace", "strip"]),
    ("\n lead", "lead", ["strip"]),
    ("def f():\n    return  1\n", "def f():\n    return 1", ["whitespace", "strip"]),
    ("already clean", "already clean", []),
    ("中文\u3000\u3000全角空格", "中文 全角空格", ["whitespace"]),
    ("ZWJ family 👨\u200d👩\u200d👧 kept", "ZWJ family 👨\u200d👩\u200d👧 kept", []),
])
def test_clean_rules(raw, expected, rules):
    assert clean_text(raw, DEFAULT) == (expected, rules)


def test_nfkc_folds_full_width():
    assert clean_text("ＡＢＣ１２３", CleanConfig(normalization="NFKC")) == ("ABC123", ["nfkc"])
    assert clean_text("ＡＢＣ１２３", DEFAULT) == ("ＡＢＣ１２３", [])


def test_stage_records_edits_and_rejects_empty(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "fine"}, {"id": "b", "text": "x\r\ny"},
                                         {"id": "c", "text": "\u200b\x00"}])
    with LocalExecutor(1) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": [str(tmp_path / "in.jsonl")]})), None, tmp_path / "raw", ex)
        run = run_stage(CleanStage(DEFAULT), Corpus.open(tmp_path / "raw"), tmp_path / "clean", ex)
    assert [(r["id"], r["text"]) for r in read_corpus(tmp_path / "clean")] == [("a", "fine"), ("b", "x\ny")]
    rejected = read_rejected(tmp_path / "clean")
    assert [(r["id"], r["reason"], r["text"]) for r in rejected] == [("c", "clean:empty", "\u200b\x00")]
    edits = pa.concat_tables([__import__("pyarrow.parquet").parquet.read_table(tmp_path / "clean" / f["file"])
                              for f in run.manifest["files"]]).to_pylist()
    assert edits == [{"id": "b", "rules": ["newlines"], "chars_before": 4, "chars_after": 3},
                     {"id": "c", "rules": ["control", "zero_width"], "chars_before": 2, "chars_after": 0}]
    assert run.manifest["counters"] == {"changed:control": 1, "changed:newlines": 1, "changed:zero_width": 1,
                                        "changed_docs": 2}
