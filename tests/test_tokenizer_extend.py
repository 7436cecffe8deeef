"""Extending a tokenizer's vocabulary (`dataprep tokenizer extend`): every base id keeps its piece,
text round-trips, Chinese takes fewer tokens and English as many, and the tokenize stage writes
the ids the extended tokenizer's own library gives.

Real Chinese: tests/data/zh_encyclopedic.jsonl, two thirds learnt from (records whose index is
not a multiple of 3) and one third held out, plus, where the shared reference data is present,
the four Chinese seed articles (learnt from). English: sample_data/raw/web-en.jsonl, the same
split, plus the English seed article (held out)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import ROOT, SHARED_DATA, write_jsonl
from dataprep.config import parse
from dataprep.corpus import Corpus
from dataprep.executor import LocalExecutor
from dataprep.runner import run_stage
from dataprep.stages.ingest import IngestConfig, IngestStage
from dataprep.stages.tokenize import TokenizeConfig, TokenizeStage
from dataprep.stages.tokenize import extend as X
from dataprep.stages.tokenize import loader as L

NEOX = SHARED_DATA / "tokenizers" / "allenai_gpt-neox-olmo-dolma-v1_5.json"
SEEDS = SHARED_DATA / "seeds_text"
ENGLISH_SEED = "003_3ccb39697e088480.txt"
TEXTS = {
    "zh": "数据清洗是大模型预训练中最重要的环节之一。我们在2023年处理了12345篇文档，去重后保留约70%。",
    "en": "The quick brown fox jumps over the lazy dog. It's 3.14 miles away -- isn't it?",
    "code": "def add(a, b):\n    \"\"\"Sum.\"\"\"\n    return a + b\n\n\tif x == 1:\n        print('ok')\n",
    "emoji": "Great job 🎉🎉 太棒了👍🏽 — café naïve façade ½ ① ＡＢＣ 👨‍👩‍👧",
    "mixed": "中文 and English mixed 混合在一起, with numbers 007 and symbols @#$%^&*(). "
             "日本語のテキスト",
    "rare": "龘靐齉 𠀀𪚥 〇 ㈱ 繁體中文與簡體中文",
}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    return [r for i, r in enumerate(rows) if i % 3], [r for i, r in enumerate(rows) if i % 3 == 0]


ZH_LEARN, ZH_HELD = _split(_jsonl(ROOT / "tests" / "data" / "zh_encyclopedic.jsonl"))
EN_LEARN, EN_HELD = _split(_jsonl(ROOT / "sample_data" / "raw" / "web-en.jsonl"))


def seeds() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))} if SEEDS.exists() else {}


def held_out() -> dict[str, list[str]]:
    en = [r["text"] for r in EN_HELD] + [t for name, t in seeds().items() if name == ENGLISH_SEED]
    return {"zh": [r["text"] for r in ZH_HELD], "en": en}


def ingest(rows: list[dict], folder: Path) -> Path:
    write_jsonl(folder / "in.jsonl", rows)
    promote = ["lang"] if any("lang" in r for r in rows) else []
    with LocalExecutor(1) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": [str(folder / "in.jsonl")], "promote": promote,
                                                   "shard_rows": 200})), None, folder / "corpus", ex)
    return folder / "corpus"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Chinese (learnt from) and English documents with a lang column, as langid leaves them."""
    rows = [{"id": r["id"], "text": r["text"], "lang": "zh"} for r in ZH_LEARN]
    rows += [{"id": f"seed-{name}", "text": t, "lang": "zh"} for name, t in seeds().items() if name != ENGLISH_SEED]
    rows += [{"id": r["id"], "text": r["text"], "lang": "en"} for r in EN_LEARN]
    return ingest(rows, tmp_path_factory.mktemp("extend_corpus"))


@pytest.fixture(scope="module")
def sp_base(tmp_path_factory) -> Path:
    """An English-centric SentencePiece BPE (the baichuan2 preset) trained on English web text and code."""
    texts = [r["text"] for r in _jsonl(ROOT / "sample_data" / "raw" / "web-en.jsonl")[:200]]
    texts += [r["text"] for r in _jsonl(ROOT / "sample_data" / "raw" / "code-math.jsonl")]
    return L.train(texts, tmp_path_factory.mktemp("sp_base"), "baichuan2", 2000)


@pytest.fixture(scope="module")
def sp_ext(corpus, sp_base, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sp_ext")
    X.extend(str(sp_base), str(corpus), out, 1500, ["zh"], heldout_share=0.1)
    return out


@pytest.fixture(scope="module")
def neox_ext(corpus, tmp_path_factory) -> Path:
    if not NEOX.exists():
        pytest.skip(f"{NEOX} is absent (shared reference data)")
    out = tmp_path_factory.mktemp("neox_ext")
    X.extend(str(NEOX), str(corpus), out, 3000, ["zh"], heldout_share=0.1)
    return out


def sp(path: Path):
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(path))


def hf(path: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


def sp_proto(path: Path):
    from sentencepiece import sentencepiece_model_pb2 as pb

    m = pb.ModelProto()
    m.ParseFromString(path.read_bytes())
    return m


# --- ids kept, text exact ----------------------------------------------------------------------

def test_sentencepiece_base_ids_keep_their_pieces_and_text_round_trips(sp_base, sp_ext):
    base, new = sp_proto(sp_base), sp_proto(sp_ext / "tokenizer.model")
    n = len(base.pieces)
    assert [(p.piece, p.score, p.type) for p in new.pieces[:n]] == [(p.piece, p.score, p.type) for p in base.pieces]
    report = json.loads((sp_ext / "extend.json").read_text())
    added, padding = report["vocab"]["added"], report["vocab"]["padding"]
    assert added == 1500 and len(new.pieces) == n + added + padding and len(new.pieces) % 64 == 0
    lowest = min(p.score for p in base.pieces if p.type == p.NORMAL)
    scores = [p.score for p in new.pieces[n:n + added]]
    assert all(p.type == p.NORMAL for p in new.pieces[n:n + added]) and max(scores) < lowest
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == added
    assert [p.type for p in new.pieces[n + added:]] == [new.pieces[0].CONTROL] * padding
    assert new.pieces[-1].piece == f"<|reserved_{padding - 1}|>"
    a, b = sp(sp_base), sp(sp_ext / "tokenizer.model")
    assert (a.bos_id(), a.eos_id(), a.unk_id()) == (b.bos_id(), b.eos_id(), b.unk_id())
    for kind, text in {**TEXTS, "held-out zh": held_out()["zh"][0]}.items():
        assert b.decode(b.encode(text)) == text, kind
    assert "中" in {b.id_to_piece(i) for i in range(n, n + added)}


def test_gpt_neox_base_ids_keep_their_tokens_and_text_round_trips(neox_ext):
    a, b = hf(NEOX), hf(neox_ext / "tokenizer.json")
    base_size = a.get_vocab_size(with_added_tokens=True)
    assert all(a.id_to_token(i) == b.id_to_token(i) for i in range(base_size))
    assert {i: (t.content, t.special) for i, t in a.get_added_tokens_decoder().items()} == \
        {i: (t.content, t.special) for i, t in b.get_added_tokens_decoder().items() if i < base_size}
    base_json, new_json = json.loads(NEOX.read_text()), json.loads((neox_ext / "tokenizer.json").read_text())
    n = len(base_json["model"]["merges"])
    assert new_json["model"]["merges"][:n] == base_json["model"]["merges"]
    assert b.get_vocab_size(with_added_tokens=True) % 64 == 0
    for kind, text in {**TEXTS, "special": "end<|endoftext|>start", "held-out zh": held_out()["zh"][0]}.items():
        assert b.decode(b.encode(text, add_special_tokens=False).ids, skip_special_tokens=False) == text, kind
    pad = [t for i, t in b.get_added_tokens_decoder().items() if i >= base_size]
    assert pad and all(t.special and t.content.startswith("<|reserved_") for t in pad)
    ids = b.encode(TEXTS["zh"], add_special_tokens=False).ids
    assert max(ids) >= base_size  # the new tokens are used
    assert a.encode(TEXTS["en"]).ids == b.encode(TEXTS["en"]).ids  # English as before


@pytest.mark.parametrize("kind", ["bpe-byte-fallback", "bpe-unk", "sentencepiece-unigram", "sentencepiece-unk"])
def test_character_vocabularies_gain_the_characters_they_lack(corpus, tmp_path, kind):
    """Tokenizers trained on English whose vocabularies are characters, not bytes: a tokenizer.json
    BPE (Metaspace) with byte fallback or <unk>, and SentencePiece unigram with byte fallback or
    BPE with <unk>. Chinese characters become pieces; where the base has byte fallback, text
    round-trips exactly."""
    texts = [r["text"] for r in EN_LEARN[:150]]
    fallback = not kind.endswith("unk")
    if kind.startswith("bpe"):
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=fallback))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace()])
        alphabet = [f"<0x{b:02X}>" for b in range(256)] if fallback else []
        tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=1200, show_progress=False,
                                                          special_tokens=["<unk>", "<s>", "</s>", *alphabet]))
        base = tmp_path / "base" / "tokenizer.json"
        base.parent.mkdir()
        tok.save(str(base))
    else:
        import sentencepiece as spm

        base = tmp_path / "base.model"
        with open(base, "wb") as f:
            spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=f, vocab_size=800,
                                           model_type="unigram" if fallback else "bpe", byte_fallback=fallback,
                                           minloglevel=2, normalization_rule_name="identity",
                                           remove_extra_whitespaces=False)
    out = tmp_path / "ext"
    report = X.extend(str(base), str(corpus), out, 600, ["zh"], pad_to=128, heldout_share=0.0)
    assert report["vocab"]["vocab_size"] % 128 == 0 and report["tokens_per_char"] is None
    assert report["added_by_script"]["Han"] > 500
    a, b = L.resolve(str(base)), L.resolve(str(out))
    if a.kind == "hf":
        ta, tb = hf(Path(a.path)), hf(Path(b.path))
        assert all(ta.id_to_token(i) == tb.id_to_token(i) for i in range(a.vocab_size))
    else:
        pa_, pb_ = sp(Path(a.path)), sp(Path(b.path))
        assert all(pa_.id_to_piece(i) == pb_.id_to_piece(i) for i in range(a.vocab_size))
    zh = held_out()["zh"]
    if fallback:
        for name, text in TEXTS.items():
            assert L.decoder(b)(L.encoder(b)([text])[0]) == text, name
        assert sum(map(len, L.encoder(a)(zh))) / sum(map(len, L.encoder(b)(zh))) >= 1.5
    else:  # most characters that were <unk> are pieces now
        han = [c for text in zh for c in text if "\u4e00" <= c <= "\u9fff"]
        if a.kind == "hf":
            def known(tok): return lambda c: tok.token_to_id(c) is not None  # noqa: E704
            before, after = known(ta), known(tb)
        else:
            def known(proc): return lambda c: proc.piece_to_id(c) != proc.unk_id()  # noqa: E704
            before, after = known(pa_), known(pb_)
        assert sum(map(before, han)) < 0.05 * len(han) and sum(map(after, han)) > 0.8 * len(han)


# --- fewer tokens for Chinese, as many for English -------------------------------------------

def tokens(info: L.TokInfo, texts: list[str]) -> int:
    return sum(map(len, L.encoder(info)(texts)))


@pytest.mark.parametrize("which", ["sp", "neox"])
def test_held_out_chinese_takes_fewer_tokens_and_english_as_many(request, sp_base, which):
    out = request.getfixturevalue(f"{which}_ext")
    base = L.resolve(str(sp_base) if which == "sp" else str(NEOX))
    new = L.resolve(str(out))
    held = held_out()
    zh_chars = sum(map(len, held["zh"]))
    zh_before, zh_after = tokens(base, held["zh"]) / zh_chars, tokens(new, held["zh"]) / zh_chars
    en_before, en_after = tokens(base, held["en"]), tokens(new, held["en"])
    assert zh_before / zh_after >= 1.5, (zh_before, zh_after)
    assert abs(en_after / en_before - 1) < 0.02, (en_before, en_after)
    report = json.loads((out / "extend.json").read_text())
    figures = report["tokens_per_char"]
    assert figures["zh"]["tokens_per_char_after"] < figures["zh"]["tokens_per_char_before"]
    assert abs(figures["en"]["change"]) < 0.02
    assert sum(report["added_by_script"].values()) == report["vocab"]["added"]
    assert report["added_by_script"]["Han"] > 0.8 * report["vocab"]["added"]


# --- the tokenize stage ----------------------------------------------------------------------

@pytest.mark.parametrize("which", ["sp", "neox"])
def test_megatron_core_reads_the_extended_ids(request, corpus, tmp_path, which):
    pytest.importorskip("torch", reason="torch (CPU) is installed by `make test`; megatron-core needs it")
    idx = pytest.importorskip("megatron.core.datasets.indexed_dataset", reason="megatron-core not installed")
    ext = request.getfixturevalue(f"{which}_ext")
    spec = ext / ("tokenizer.model" if which == "sp" else "tokenizer.json")
    out = tmp_path / "tok"
    with LocalExecutor(1) as ex:
        run_stage(TokenizeStage(parse(TokenizeConfig, {"tokenizer": str(spec), "formats": ["megatron", "hf"],
                                                      "add_bos": which == "sp"})), Corpus.open(corpus), out, ex)
    if which == "sp":
        lib = sp(spec)
        def own(text): return [lib.bos_id()] + lib.encode(text) + [lib.eos_id()]  # noqa: E704
    else:
        lib = hf(spec)
        eos = lib.token_to_id("<|endoftext|>")
        def own(text): return lib.encode(text, add_special_tokens=False).ids + [eos]  # noqa: E704
    texts = {}
    for p in Corpus.open(corpus).shard_paths:
        t = pq.read_table(p, columns=["id", "text"])
        texts.update(zip(t["id"].to_pylist(), t["text"].to_pylist()))
    base_size = json.loads((ext / "extend.json").read_text())["vocab"]["base_vocab_size"]
    new_ids = 0
    for key in sorted(p.stem for p in (out / "megatron").glob("*.bin")):
        ds = idx.IndexedDataset(str(out / "megatron" / key))
        ids = pq.read_table(out / "hf" / f"{key}.parquet", columns=["id"])["id"].to_pylist()
        assert len(ds) == len(ids)
        for i, doc_id in enumerate(ids):
            got = ds[i].tolist()
            assert got == own(texts[doc_id])
            new_ids += sum(x >= base_size for x in got)
    assert new_ids > 0


# --- determinism, report, info -----------------------------------------------------------------

def test_same_input_and_options_give_byte_identical_files(corpus, sp_base, tmp_path):
    for name in ("a", "b"):
        X.extend(str(sp_base), str(corpus), tmp_path / name, 300, ["zh"], heldout_share=0.1)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["extend.json", "tokenizer.model"]
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_report_states_sizes_padding_and_what_was_learnt(sp_ext, sp_base):
    r = json.loads((sp_ext / "extend.json").read_text())
    v = r["vocab"]
    base_size = sp(sp_base).get_piece_size()
    assert v["base_vocab_size"] == base_size and v["vocab_size"] == -(-(base_size + 1500) // 64) * 64
    assert v["ranges"] == {"base": [0, base_size - 1], "added": [base_size, base_size + 1499],
                           "padding": [base_size + 1500, v["vocab_size"] - 1]}
    assert r["padding"] == {"multiple": 64, "tokens": v["padding"], "first": "<|reserved_0|>",
                            "last": f"<|reserved_{v['padding'] - 1}|>"}
    assert r["corpus"]["langs"] == ["zh"] and r["corpus"]["learnt_from"]["documents"] < r["corpus"]["documents"]["zh"]
    assert set(r["tokens_per_char"]) == {"en", "zh", "all"}
    assert r["files"]["tokenizer.model"] == L.sha256_file(sp_ext / "tokenizer.model")


def cli(*args: str):
    from click.testing import CliRunner

    from dataprep.cli import _add_stage_commands, cli as main

    _add_stage_commands()
    return CliRunner().invoke(main, list(args))


def test_info_shows_base_added_and_padding_ranges(sp_ext, corpus, tmp_path):
    result = cli("tokenizer", "info", str(sp_ext), "--text", "中文")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    report = json.loads((sp_ext / "extend.json").read_text())
    assert out["extension"]["ranges"] == report["vocab"]["ranges"]
    assert out["vocab_size"] == report["vocab"]["vocab_size"]


def test_info_after_the_tokenize_stage_copied_an_extended_tokenizer_json(neox_ext, corpus, tmp_path):
    out = tmp_path / "tok"
    with LocalExecutor(1) as ex:
        run_stage(TokenizeStage(parse(TokenizeConfig, {"tokenizer": str(neox_ext), "formats": ["hf"]})),
                  Corpus.open(corpus), out, ex)
    result = cli("tokenizer", "info", str(out / "tokenizer"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["extension"]["ranges"]["base"] == [0, 50279]
    plain = cli("tokenizer", "info", str(NEOX))
    assert "extension" not in json.loads(plain.output)


def test_the_command_prints_the_report_and_learns_only_the_languages_asked(corpus, sp_base, tmp_path):
    result = cli("tokenizer", "extend", str(sp_base), "-i", str(corpus), "-o", str(tmp_path / "en"), "--add", "200",
                 "--lang", "en", "-q")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report == json.loads((tmp_path / "en" / "extend.json").read_text())
    assert report["added_by_script"]["Han"] == 0  # nothing learnt from the Chinese documents


def test_bad_input_is_one_line(corpus, sp_base, tmp_path):
    def error(*args: str) -> str:
        result = cli("tokenizer", "extend", *args)
        assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output
        lines = result.output.strip().splitlines()
        assert "Traceback" not in result.output and len(lines) == 1, result.output
        return lines[0]

    ok = [str(sp_base), "-i", str(corpus), "-o", str(tmp_path / "out")]
    assert error(*ok, "--add", "0") == "Error: --add: must be >= 1, got 0"
    assert error(*ok, "--add", "10", "--pad-to", "0") == "Error: --pad-to: must be >= 1, got 0"
    assert error(*ok, "--add", "10", "--lang", "fr").startswith("Error: --lang: ")
    assert "has no documents in fr (it has: " in error(*ok, "--add", "10", "--lang", "fr")
    assert "not a dataprep corpus" in error(str(sp_base), "-i", str(tmp_path / "nothing"), "-o", "x", "--add", "5")
    (tmp_path / "vocab.txt").write_text("hello\n")
    assert error(str(tmp_path / "vocab.txt"), "-i", str(corpus), "-o", "x", "--add", "5").startswith("Error: ")
    (tmp_path / "missing.model").parent.mkdir(exist_ok=True)
    assert "does not exist" in error(str(tmp_path / "missing.model"), "-i", str(corpus), "-o", "x", "--add", "5")
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]")).save(str(tmp_path / "wp.json"))
    assert "only BPE" in error(str(tmp_path / "wp.json"), "-i", str(corpus), "-o", "x", "--add", "5")
    nolang = ingest([{"id": "a", "text": "中文文本"}], tmp_path / "nolang")
    assert "has no lang column" in error(str(sp_base), "-i", str(nolang), "-o", "x", "--add", "5", "--lang", "zh")


# --- full size -------------------------------------------------------------------------------

@pytest.mark.slow
def test_full_size_twenty_thousand_pieces_on_gpt_neox(tmp_path):
    """The figures in docs/tokenize.md: 20,000 pieces learnt from sample_data's Chinese web text
    and the learnt part of the real Chinese, measured on the held-out real Chinese and English."""
    if not NEOX.exists():
        pytest.skip(f"{NEOX} is absent (shared reference data)")
    rows = [{"id": r["id"], "text": r["text"], "lang": "zh"} for r in ZH_LEARN]
    rows += [{"id": f"seed-{name}", "text": t, "lang": "zh"} for name, t in seeds().items() if name != ENGLISH_SEED]
    rows += [{"id": r["id"], "text": r["text"], "lang": "zh"} for r in _jsonl(ROOT / "sample_data/raw/web-zh.jsonl")]
    rows += [{"id": r["id"], "text": r["text"], "lang": "en"} for r in EN_LEARN]
    corpus_dir = ingest(rows, tmp_path)
    out = tmp_path / "neox-zh"
    result = cli("tokenizer", "extend", str(NEOX), "-i", str(corpus_dir), "-o", str(out), "--add", "20000",
                 "--lang", "zh", "--min-count", "1", "--heldout-share", "0", "-q")
    assert result.exit_code == 0, result.output
    base, new = L.resolve(str(NEOX)), L.resolve(str(out))
    figures = {}
    for lang, texts in held_out().items():
        chars = sum(map(len, texts))
        figures[lang] = (chars, tokens(base, texts) / chars, tokens(new, texts) / chars)
    for lang, (chars, a, b) in figures.items():  # shown with pytest -s
        print(f"\n{lang}: {chars:,} chars, tokens/char {a:.4f} -> {b:.4f} ({a / b:.3f}x)")
    report = json.loads(result.output)
    assert report["vocab"]["added"] == 20000 and report["vocab"]["vocab_size"] == 70336
    assert figures["zh"][1] / figures["zh"][2] >= 1.5
    assert abs(figures["en"][2] / figures["en"][1] - 1) < 0.02
