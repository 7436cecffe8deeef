"""The fastText quality classifier: text preparation, ROC AUC, training on the sample corpus (good
pages against spam, boilerplate and repetitive ones), byte-reproducible models, scoring, and the
`dataprep quality-train` command."""

import json
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner

from conftest import ROOT, write_jsonl
from dataprep.stage import StageError
from dataprep import classifier as M
from dataprep.stages.quality.cli import quality_train

SAMPLE = ROOT / "sample_data"
BAD = ("spam", "boilerplate", "repetitive")
# A corpus of a few thousand documents needs more passes and a higher rate than DCLM's defaults
# (lr 0.5 is ChineseWebText's); a small model keeps the test fast.
SMALL = {"lr": 0.5, "epochs": 20, "dim": 16, "bucket": 1 << 17}
TINY = ["--epochs", "5", "--dim", "8", "--bucket", "4096"]  # for the command's mechanics only


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    """Every sample document with its planted quality (good, spam, boilerplate, ...)."""
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))["docs"]
    docs = []
    for path in sorted((SAMPLE / "raw").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            docs.append({**record, "quality": truth[record["id"]]["quality"]})
    return docs


def classes(docs: list[dict]) -> tuple[list[str], list[str]]:
    return [d["text"] for d in docs if d["quality"] == "good"], [d["text"] for d in docs if d["quality"] in BAD]


@pytest.fixture(scope="module")
def trained(sample, tmp_path_factory) -> tuple[Path, dict]:
    good, bad = classes(sample)
    path = tmp_path_factory.mktemp("model") / "quality.bin"
    return path, M.train(good, bad, path, valid_share=0.5, seed=0, **SMALL)


# --- ROC AUC ------------------------------------------------------------------------------------


def pairwise_auc(labels, scores) -> float:
    pos = [s for y, s in zip(labels, scores) if y]
    neg = [s for y, s in zip(labels, scores) if not y]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg) / (len(pos) * len(neg))


def test_roc_auc_known_cases():
    assert M.roc_auc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 1.0
    assert M.roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert M.roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5
    # pairs (positive, negative): (.8,.8) tie = 1/2, (.8,.1) = 1, (.3,.8) = 0, (.3,.1) = 1
    assert M.roc_auc([1, 0, 1, 0], [0.8, 0.8, 0.3, 0.1]) == 0.625
    assert np.isnan(M.roc_auc([1, 1], [0.2, 0.4]))
    assert np.isnan(M.roc_auc([], []))
    with pytest.raises(ValueError):
        M.roc_auc([1, 0], [0.5, float("nan")])
    with pytest.raises(ValueError):
        M.roc_auc([1, 0, 1], [0.5, 0.4])


def test_roc_auc_matches_pairwise_count_with_many_ties():
    rng = np.random.default_rng(7)
    for n in (2, 10, 301):
        labels = rng.integers(0, 2, n)
        labels[:2] = [0, 1]
        scores = rng.integers(0, 5, n) / 4  # five distinct values: ties everywhere
        assert M.roc_auc(labels, scores) == pytest.approx(pairwise_auc(labels, scores), abs=1e-12)


# --- text preparation ---------------------------------------------------------------------------


def test_prepare_text_tokens():
    assert M.prepare_text("Hello, World!\nSecond  line\tin 2024.") == "hello , world ! second line in 0000 ."
    # NFKC folds full-width forms; Han and kana characters are tokens; hangul runs stay words
    assert M.prepare_text("ＡＢＣ１２３今天天气很好。") == "abc000 今 天 天 气 很 好 。"
    assert M.prepare_text("東京タワーへ行く") == "東 京 タ ワ ー へ 行 く"
    assert M.prepare_text("서울 시내 버스") == "서울 시내 버스"
    assert M.prepare_text("x\x00y\u200bz\ufeff\ud800w") == "x y z w"
    assert M.prepare_text("   \n\t ") == ""


def test_prepare_text_never_makes_a_label_or_a_line_break():
    for text in ("__label__hq great", "see __label__lq", "a\nb\rc\x0bd\x1ce\u2028f", "Ｘ__LABEL__ｙ 中__label__文"):
        line = M.prepare_text(text)
        assert "\n" not in line and "\r" not in line
        assert not any(token.startswith("__label__") for token in line.split(" "))


def test_prepare_text_is_bounded():
    assert len(M.prepare_text("字" * 100_000)) == 2 * M.MAX_CHARS - 1
    assert M.prepare_text("abc " * 10_000) == " ".join(["abc"] * (M.MAX_CHARS // 4))


def test_prepare_text_ascii_shortcut_agrees_with_the_general_path():
    # ASCII text takes a one-pass translation; a trailing non-ASCII word forces the general path
    for text in ("Don't stop: 3.14 (approx.) -- see_also [1]!", "tab\there\x0bvt\x1cfs\x7fdel\x00nul",
                 "UPPER lower 0123456789 ~`!@#$%^&*()_+-={}|[]\\:\";'<>?,./", ""):
        assert M.prepare_text(text + " é") == (M.prepare_text(text) + " é").strip()


# --- training on the sample corpus --------------------------------------------------------------


def test_held_out_auc_on_the_sample(trained, sample):
    path, info = trained
    metrics, valid = info["metrics"], info["counts"]["valid"]
    assert valid["negative"] >= 20 and valid["positive"] >= 300
    assert metrics["roc_auc"] >= 0.9
    assert metrics["accuracy"] >= 0.9

    # the same numbers through the public API: documents held out by their prepared text
    held = {}
    for d in sample:
        line = M.prepare_text(d["text"])
        if d["quality"] in ("good", *BAD) and M.held_out(line, 0.5):
            held[line] = d
    docs = list(held.values())
    probs = M.score(M.load(path), [d["text"] for d in docs])
    labels = np.array([d["quality"] == "good" for d in docs])
    assert len(docs) == valid["positive"] + valid["negative"]
    assert M.roc_auc(labels, probs) == pytest.approx(metrics["roc_auc"], abs=1e-12)
    assert ((probs >= 0.5) == labels).mean() == pytest.approx(metrics["accuracy"], abs=1e-12)
    # spam and boilerplate pages are told apart almost perfectly; a page repeating one sentence
    # averages to that sentence's features, which is what pulls the overall AUC down
    spam_like = np.array([d["quality"] in ("good", "spam", "boilerplate") for d in docs])
    assert M.roc_auc(labels[spam_like], probs[spam_like]) >= 0.98


def test_model_json_records_settings_counts_and_metrics(trained, sample):
    path, info = trained
    assert json.loads(path.with_suffix(".json").read_text()) == info
    assert info["model"] == "quality.bin" and info["quantized"] is False and info["reproducible"] is True
    assert info["settings"] == {"seed": 0, "valid_share": 0.5, "word_ngrams": 2, "min_count": 1, "max_docs": None,
                                "loss": "softmax", "threads": 1, **SMALL}
    assert info["prepare"] == {"version": M.PREPARE_VERSION, "max_chars": M.MAX_CHARS}
    good, bad = classes(sample)
    c = info["counts"]
    assert (c["positive"]["in"], c["negative"]["in"]) == (len(good), len(bad))
    assert c["positive"]["duplicates"] > 0  # the sample's exact duplicates are trained on once
    distinct = len({M.prepare_text(t) for t in good}) + len({M.prepare_text(t) for t in bad})
    assert sum(c["train"].values()) + sum(c["valid"].values()) == distinct
    assert not list(path.parent.glob(".tmp-*"))  # no training file or partial model left behind


def test_same_inputs_in_any_order_give_the_same_model(trained, sample, tmp_path):
    path, info = trained
    good, bad = classes(sample)
    again = M.train(good[::-1], bad[::-1], tmp_path / "again.bin", valid_share=0.5, seed=0, **SMALL)
    assert (tmp_path / "again.bin").read_bytes() == path.read_bytes()
    assert again["metrics"] == info["metrics"]
    texts = [d["text"] for d in sample[:200]]
    assert np.array_equal(M.score(M.load(tmp_path / "again.bin"), texts), M.score(M.load(path), texts))

    other = M.train(good, bad, tmp_path / "seed1.bin", valid_share=0.5, seed=1, **SMALL)
    assert (tmp_path / "seed1.bin").read_bytes() != path.read_bytes()
    assert other["counts"] == info["counts"]  # the split does not depend on the seed


def test_consecutive_trainings_in_one_process_are_identical(sample, tmp_path):
    # each training gets the memory its predecessor freed: weights that fastText leaves
    # uninitialised would carry the old model's values (or NaN) into the new one
    good, bad = classes(sample)
    models = []
    for i in range(3):
        M.train(good[:200], bad, tmp_path / f"m{i}.bin", valid_share=0.0, epochs=2, dim=8, bucket=4096)
        models.append((tmp_path / f"m{i}.bin").read_bytes())
    assert models[0] == models[1] == models[2]


def test_scores_are_probabilities_in_input_order(trained, sample):
    model = M.load(trained[0])
    texts = [d["text"] for d in sample[:50]]
    probs = M.score(model, texts)
    assert probs.dtype == np.float64 and probs.shape == (50,)
    assert ((probs >= 0) & (probs <= 1)).all()
    assert np.array_equal(M.score(model, texts[::-1]), probs[::-1])
    assert M.score(model, []).shape == (0,)
    assert M.score(model, ["", "   "]).shape == (2,)


def test_max_docs_and_no_validation(sample, tmp_path):
    good, bad = classes(sample)
    info = M.train(good, bad, tmp_path / "m.bin", valid_share=0.0, max_docs=40, epochs=2, dim=4, bucket=4096)
    assert info["counts"]["train"] == {"positive": 40, "negative": 40}
    assert info["metrics"] == {"accuracy": None, "roc_auc": None, "threshold": 0.5}
    # the documents kept are chosen by their text, not their order
    info2 = M.train(good[::-1], bad, tmp_path / "m2.bin", valid_share=0.0, max_docs=40, epochs=2, dim=4, bucket=4096)
    assert (tmp_path / "m.bin").read_bytes() == (tmp_path / "m2.bin").read_bytes()
    assert info2["counts"] == info["counts"]


def test_quantized_model(sample, tmp_path):
    good, bad = classes(sample)
    info = M.train(good[:300], bad, tmp_path / "q.ftz", valid_share=0.3, epochs=10, lr=0.5, dim=4, bucket=2048)
    assert info["quantized"] is True
    model = M.load(tmp_path / "q.ftz")
    assert model.is_quantized()
    assert np.isfinite(M.score(model, good[:20] + bad[:20])).all()
    assert info["metrics"]["roc_auc"] > 0.5


def test_without_glibc_training_initialises_every_weight(sample, tmp_path, monkeypatch):
    # elsewhere the weights cannot be zero-filled: fastText's own initialisation, run with enough
    # threads to cover the whole matrix, keeps the model free of stale memory (not reproducible)
    monkeypatch.setattr(M, "_mallopt", lambda: None)
    good, bad = classes(sample)
    info = M.train(good[:300], bad, tmp_path / "m.bin", valid_share=0.3, epochs=10, lr=0.5, dim=8, bucket=4096)
    assert info["reproducible"] is False and info["settings"]["threads"] == M._FULL_INIT_THREADS
    assert np.isfinite(M._fasttext().load_model(str(tmp_path / "m.bin")).get_input_matrix()).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs: an integer >= 1"),
    ({"lr": 0.0}, "lr: a positive learning rate"),
    ({"valid_share": 1.0}, "valid_share: a share in [0, 1)"),
    ({"word_ngrams": 2, "bucket": 0}, "bucket: word_ngrams > 1 needs bucket >= 1"),
    ({"max_docs": 0}, "max_docs: an integer >= 1"),
])
def test_train_rejects_bad_settings(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        M.train(["good text"], ["bad text"], tmp_path / "m.bin", **kwargs)
    assert not (tmp_path / "m.bin").exists()


def test_train_needs_both_classes(tmp_path):
    with pytest.raises(ValueError, match="no negative documents"):
        M.train(["good text"], ["", "  \n"], tmp_path / "m.bin")
    with pytest.raises(ValueError, match="no positive documents"):
        M.train(["same text"], ["Same  text"], tmp_path / "m.bin")  # identical once prepared: dropped from both
    with pytest.raises(ValueError, match="left for training after holding out"):
        M.train(["good text"] * 3, ["bad text", "worse text"], tmp_path / "m.bin", valid_share=0.999)


def test_load_is_cached_and_refuses_other_models(trained, tmp_path):
    path = trained[0]
    assert M.load(path) is M.load(str(path))
    with pytest.raises(StageError, match="quality model not found"):
        M.load(tmp_path / "missing.bin")
    (tmp_path / "junk.bin").write_bytes(b"not a model")
    with pytest.raises(StageError, match="not a readable fastText model"):
        M.load(tmp_path / "junk.bin")
    lid = ROOT / "dataprep" / "models" / "lid.176.ftz"
    with pytest.raises(StageError, match="not a quality model: its labels are"):
        M.load(lid)


# --- the command --------------------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(quality_train, [str(a) for a in args], catch_exceptions=False)


def test_command_pos_neg_from_jsonl_text_and_corpus_folder(sample, tmp_path):
    good, bad = classes(sample)
    lines = "".join(json.dumps({"body": t}, ensure_ascii=False) + "\n" for t in good[:150])
    (tmp_path / "good.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines.encode()))
    folder = tmp_path / "corpus"
    folder.mkdir()
    pq.write_table(pa.table({"body": good[150:300]}), folder / "part-00000.parquet")
    (tmp_path / "bad.txt").write_text("".join(t.replace("\n", " ") + "\n" for t in bad), encoding="utf-8")
    out = tmp_path / "models" / "q.bin"
    r = run("--pos", tmp_path / "good.jsonl.zst", "--pos", folder, "--neg", tmp_path / "bad.txt", "--text-column", "body",
            "-o", out, "--valid-share", "0.3", *TINY)
    assert r.exit_code == 0, r.output
    assert "held-out accuracy" in r.output and "ROC AUC 0." in r.output
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["counts"]["positive"]["in"] == 300 and info["counts"]["negative"]["in"] == len(bad)
    assert info["settings"]["epochs"] == 5 and info["settings"]["dim"] == 8
    assert M.score(M.load(out), good[:3]).shape == (3,)


def test_command_with_a_label_column(sample, tmp_path):
    rows = [{"text": d["text"], "quality_label": d["quality"]} for d in sample if d["quality"] != "long"]
    write_jsonl(tmp_path / "labelled.jsonl", rows)
    base = ["-i", tmp_path / "labelled.jsonl", "--label-column", "quality_label", "--positive", "good", *TINY]
    r = run(*base, "--negative", "spam", "--negative", "boilerplate", "--negative", "repetitive", "-o", tmp_path / "a.bin")
    assert r.exit_code == 0, r.output
    a = json.loads((tmp_path / "a.json").read_text())["counts"]
    assert a["negative"]["in"] == sum(d["quality"] in BAD for d in sample)
    assert a["positive"]["in"] == sum(d["quality"] == "good" for d in sample)
    # without --negative every other label is bad (short, unsafe and benchmark-quoting documents too)
    r = run(*base, "-o", tmp_path / "b.bin")
    assert r.exit_code == 0, r.output
    b = json.loads((tmp_path / "b.json").read_text())["counts"]
    assert b["negative"]["in"] == sum(d["quality"] not in ("good", "long") for d in sample)


@pytest.mark.parametrize("args, message", [
    ([], "no training documents"),
    (["--pos", "{tmp}/nope.jsonl", "--neg", "{tmp}/bad.txt"], "--pos {tmp}/nope.jsonl: no such file or folder"),
    (["--pos", "{tmp}/*.parquet", "--neg", "{tmp}/bad.txt"], "the pattern matches no file"),
    (["--pos", "{tmp}/good.jsonl"], "no bad documents to train on (check --neg)"),
    (["--pos", "{tmp}/good.jsonl", "--neg", "{tmp}/empty.txt"], "no bad documents to train on"),
    (["--pos", "{tmp}/good.jsonl", "--neg", "{tmp}/bad.txt", "--text-column", "body"],
     "good.jsonl:1: no string field 'body' (set --text-column)"),
    (["--pos", "{tmp}/broken.jsonl", "--neg", "{tmp}/bad.txt"], "broken.jsonl:2: not valid JSON"),
    (["--pos", "{tmp}/good.csv", "--neg", "{tmp}/bad.txt"], "good.csv: unknown format"),
    (["--pos", "{tmp}", "--neg", "{tmp}/bad.txt"], "not a dataprep corpus"),
    (["-i", "{tmp}/good.jsonl"], "-i needs --label-column"),
    (["-i", "{tmp}/good.jsonl", "--label-column", "label"], "--positive: which values of 'label'"),
    (["--pos", "{tmp}/good.jsonl", "--neg", "{tmp}/bad.txt", "--label-column", "label"],
     "--label-column applies to -i inputs"),
    (["-i", "{tmp}/good.jsonl", "--label-column", "label", "--positive", "nothing"], "no good documents"),
    (["-i", "{tmp}/bad.txt", "--label-column", "label", "--positive", "x"], "a text file has no labels"),
    (["--pos", "{tmp}/good.jsonl", "--neg", "{tmp}/bad.txt", "--valid-share", "1"], "--valid-share"),
    (["--pos", "{tmp}/good.jsonl", "--neg", "{tmp}/good.jsonl"], "no positive documents with text to train on"),
])
def test_command_errors_are_one_line(args, message, tmp_path):
    write_jsonl(tmp_path / "good.jsonl", [{"text": "A fine paragraph about bridges.", "label": "good"},
                                          {"text": "Another calm report on libraries.", "label": "good"}])
    (tmp_path / "broken.jsonl").write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")
    (tmp_path / "bad.txt").write_text("BUY NOW cheap pills!!!\nwin $$$ casino\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    (tmp_path / "good.csv").write_text("text\nhello\n", encoding="utf-8")
    r = run(*[a.format(tmp=tmp_path) for a in args], "-o", tmp_path / "m.bin")
    assert r.exit_code == 2 if message == "--valid-share" else r.exit_code == 1, r.output
    assert message.format(tmp=tmp_path) in r.output
    assert "Traceback" not in r.output
    if r.exit_code == 1:
        assert r.output.count("\n") == 1 and r.output.startswith("Error: ")
    assert not (tmp_path / "m.bin").exists()


def test_registered_as_a_dataprep_command():
    # needs the entry point `quality-train = "dataprep.stages.quality.cli:quality_train"` in
    # pyproject.toml ([project.entry-points."dataprep.commands"]) and a reinstall
    eps = {ep.name: ep for ep in entry_points(group="dataprep.commands")}
    assert "quality-train" in eps
    assert eps["quality-train"].load() is quality_train


def test_the_quality_stage_mixes_in_the_classifier(trained, sample):
    from dataprep.config import parse
    from dataprep.stages.quality import QualityConfig, QualityStage

    path, _ = trained
    docs = sample[:200]
    table = pa.table({"id": [d["id"] for d in docs], "text": [d["text"] for d in docs]})
    plain = QualityStage(parse(QualityConfig, {"dry_run": True}, "quality")).score(table)[0]
    mixed = QualityStage(parse(QualityConfig, {"dry_run": True, "model": str(path), "model_weight": 0.5},
                               "quality")).score(table)[0]
    probs = M.score(M.load(path), [d["text"] for d in docs])  # the stage scores the text left after cuts
    whole = np.array([s["kept_share"] == 1.0 for s in mixed["quality_signals"].to_pylist()])
    assert whole.sum() > 150
    got = np.array([s["model_score"] for s in mixed["quality_signals"].to_pylist()])
    assert np.allclose(got[whole], probs[whole])
    want = 0.5 * np.array(plain["quality"].to_pylist()) + 0.5 * got
    assert np.allclose(mixed["quality"].to_pylist(), want, atol=1e-5)
    # as a filter: documents the classifier scores low are rejected as quality:model_score
    from dataprep.stages.quality.rules import PRESETS

    only_model = {"model": str(path), "min_model_score": 0.5, "skip_rules": PRESETS["default"]["rules"],
                  "line_rules": [], "sentence_rules": []}
    kept, rejected, _, _ = QualityStage(parse(QualityConfig, only_model, "quality")).score(table)
    low = {d["id"] for d, p in zip(docs, probs) if p < 0.5}
    assert low and low == set(rejected["id"].to_pylist())
    assert set(rejected["reason"].to_pylist()) == {"quality:model_score"}
