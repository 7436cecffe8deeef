import pyarrow as pa
import pytest

from conftest import read_corpus, read_rejected, write_jsonl
from dataprep.config import parse
from dataprep.executor import LocalExecutor
from dataprep.runner import run_stage
from dataprep.corpus import Corpus
from dataprep.stages.clean import CleanConfig, CleanStage, clean_text, has_visible
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


INVISIBLE_ONLY = [
    "\u200e\u200f",                               # LRM, RLM
    "\u202a\u202b\u202c\u202d\u202e",             # embeddings and overrides
    "\u2066\u2067\u2068\u2069",                   # isolates
    "\ufeff\u00ad \u200b",                         # BOM, soft hyphen, zero-width space: removed by clean
    " \u200e \n\t\u2067\u3000",                    # bidi marks among whitespace
    "\u200d\u200c",                                # joiners alone
    "\u061c\u180e\u2060\u2061\U000e0001\U000e0041",  # other format characters (Cf)
    "\u034f\ufe0f\u3164\u115f",                    # other default-ignorables: CGJ, variation selector, fillers
]


@pytest.mark.parametrize("text", INVISIBLE_ONLY)
def test_text_without_visible_characters_is_empty(text):
    assert not has_visible(text)
    assert not has_visible(clean_text(text, DEFAULT)[0])


@pytest.mark.parametrize("text", ["a", "\u200eשלום\u200f", "👨\u200d👩\u200d👧", "\u2800", "e\u0301", "\u0301",
                                  "\u00a0x"])
def test_text_with_a_visible_character_is_not_empty(text):
    assert has_visible(text)


def test_bidi_marks_and_joiners_inside_text_are_kept():
    text = "السعر \u200e100\u200e دولار \u2067abc\u2069 👨\u200d👩"
    assert clean_text(text, DEFAULT) == (text, [])


def test_stage_rejects_documents_with_no_visible_character(tmp_path):
    docs = [{"id": f"inv-{i}", "text": t} for i, t in enumerate(INVISIBLE_ONLY)]
    docs += [{"id": "rtl", "text": "\u200fשלום\u200f"}, {"id": "emoji", "text": "\u200e👍\ufe0f"}]
    write_jsonl(tmp_path / "in.jsonl", docs)
    with LocalExecutor(1) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": [str(tmp_path / "in.jsonl")]})), None, tmp_path / "raw", ex)
        run = run_stage(CleanStage(DEFAULT), Corpus.open(tmp_path / "raw"), tmp_path / "clean", ex)
    m = run.manifest
    assert [(r["id"], r["text"]) for r in read_corpus(tmp_path / "clean")] == [("rtl", "\u200fשלום\u200f"),
                                                                              ("emoji", "\u200e👍\ufe0f")]
    rejected = read_rejected(tmp_path / "clean")
    assert [(r["id"], r["reason"]) for r in rejected] == [(d["id"], "clean:empty") for d in docs[:len(INVISIBLE_ONLY)]]
    assert [r["text"] for r in rejected] == INVISIBLE_ONLY  # rejected rows keep their original text
    assert m["rows_in"] == m["rows_kept"] + m["rows_rejected"] == len(docs)
