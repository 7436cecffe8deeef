"""Deduplication against the planted clusters of sample_data, plus the edge cases."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, SHARED_DATA, read_corpus, read_rejected, write_jsonl
from dataprep import text as T
from dataprep.config import ConfigError, parse
from dataprep.corpus import Corpus
from dataprep.executor import LocalExecutor
from dataprep.runner import parse_pipeline, run_pipeline, run_stage
from dataprep.stages.dedup import DedupConfig, DedupStage, cut_spans
from dataprep.stages.dedup.minhash import lsh_params, signatures
from dataprep.stages.dedup.simhash import fingerprint, near_pairs

TRUTH = json.loads((ROOT / "sample_data" / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("dedup")
    pipe, stages = parse_pipeline({"workdir": str(work), "stages": [
        {"ingest": {"paths": [str(ROOT / "sample_data" / "raw" / "*.jsonl")]}},
        {"clean": {}},
        {"dedup": {"method": "exact", "level": "document"}},
        {"dedup": {"method": "minhash", "level": "document"}},
        {"dedup": {"method": "exact", "level": "paragraph", "exempt": {"source": ["code"]}}},
    ]})
    run_pipeline(pipe, stages, workers=2)
    return work


def dropped(folder: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_rejected(folder)}


def test_every_planted_cluster_is_found_and_nothing_else_is_merged(sample_run):
    exact, near = dropped(sample_run / "03-dedup"), dropped(sample_run / "04-dedup")
    survivors = {r["id"] for r in read_corpus(sample_run / "04-dedup")}
    in_clusters = set()
    for c in TRUTH["duplicate_clusters"]:
        members = set(c["members"])
        in_clusters |= members
        assert len(members & survivors) == 1, (c["cluster"], c["lang"], members & survivors)
        for m in members - survivors:
            row = exact.get(m) or near[m]
            assert row["dup_of"] in members
            if c["kind"] == "exact":
                assert m in exact and row["reason"] == "dedup:exact:document"
    assert set(exact) | set(near) <= in_clusters, "documents outside planted clusters were merged"
    langs = {c["lang"] for c in TRUTH["duplicate_clusters"]}
    assert langs == {"zh", "en"}


def test_kept_documents_carry_cluster_columns_and_clusters_file(sample_run):
    rows = read_corpus(sample_run / "04-dedup")
    clustered = [r for r in rows if r["dup_cluster"] is not None]
    assert clustered and all(r["dup_count"] >= 2 for r in clustered)
    assert all(r["dup_count"] == 1 for r in rows if r["dup_cluster"] is None)
    clusters = pq.read_table(sample_run / "04-dedup" / "clusters.parquet").to_pylist()
    near = [c for c in TRUTH["duplicate_clusters"] if c["kind"] == "near"]
    assert len(clusters) == len(near)
    assert all(c["kept"] in c["members"] and c["similarity"] >= DedupConfig().threshold for c in clusters)
    manifest = json.loads((sample_run / "04-dedup" / "manifest.json").read_text())
    assert manifest["dedup"]["bands"] * manifest["dedup"]["rows"] <= 128 and manifest["dedup"]["index_bytes_per_item"] > 0


def test_paragraph_dedup_removes_exactly_the_boilerplate_lines(sample_run):
    boilerplate = {line for lines in TRUTH["boilerplate_lines"].values() for line in lines}
    clusters = pq.read_table(sample_run / "05-dedup" / "clusters.parquet").to_pylist()
    before = {r["id"]: r["text"] for r in read_corpus(sample_run / "04-dedup")}
    lines = set()
    for c in clusters:
        doc, unit = c["cluster"].rsplit("#", 1)
        a, b = T.paragraph_spans(before[doc])[int(unit)]
        lines.add(before[doc][a:b])
    site_lines = {line for site, ls in TRUTH["boilerplate_lines"].items() if "." in site for line in ls}
    spam_lines = {line for i, text in before.items() if TRUTH["docs"][i]["quality"] in ("spam", "unsafe")
                  for line in text.split("\n")}
    assert site_lines <= lines <= boilerplate | spam_lines  # spam (and unsafe) pages share short stuffed lines too
    after = [r["text"] for r in read_corpus(sample_run / "05-dedup")]
    for line in site_lines:
        assert sum(t.split("\n").count(line) for t in after) == 1, line


def test_same_output_for_one_and_two_workers(tmp_path, sample_run):
    pipe, stages = parse_pipeline({"workdir": str(tmp_path), "stages": [
        {"ingest": {"paths": [str(ROOT / "sample_data" / "raw" / "*.jsonl")]}}, {"clean": {}},
        {"dedup": {"method": "exact", "level": "document"}}, {"dedup": {"method": "minhash", "level": "document"}},
        {"dedup": {"method": "exact", "level": "paragraph", "exempt": {"source": ["code"]}}}]})
    run_pipeline(pipe, stages, workers=1)
    for stage in ("03-dedup", "04-dedup", "05-dedup"):
        for p in sorted((sample_run / stage).rglob("*.parquet")):
            if "_state" not in p.parts:
                assert p.read_bytes() == (tmp_path / stage / p.relative_to(sample_run / stage)).read_bytes(), p


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=300), min_size=1, max_size=6), st.integers(0, 2**32 - 1),
       st.sampled_from([16, 64, 128]))
def test_signatures_match_datasketch(texts, seed, num_perm):
    from datasketch import MinHash

    sigs = signatures(texts, num_perm, seed, 5)
    for text, sig in zip(texts, sigs):
        m = MinHash(num_perm=num_perm, seed=seed)
        m.update_batch([s.encode("utf-8") for s in T.shingles(text, 5)])
        assert np.array_equal(m.hashvalues, sig)


UNIT_ALPHABET = list("abcde 的一是不了 。，ー！Ab12 \n\tÉé‐ａｂ한국어カタ") + ["hello", "WORLD", "\u3000", "\ud800"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(UNIT_ALPHABET), max_size=80).map("".join), min_size=1, max_size=8),
       st.integers(1, 6))
def test_vector_shingle_hashes_are_the_shingles(texts, n):
    """One hash per n-gram that text.shingles makes (repeats included), equal strings <-> equal hashes,
    and a text hashes the same alone as inside any batch."""
    from dataprep.stages.dedup.vector import shingle_hashes

    h, counts = shingle_hashes(texts, n)
    assert counts.sum() == len(h)
    by_string, by_hash, pos = {}, {}, 0
    for text, k in zip(texts, counts.tolist()):
        u = T.units(T.normalize_for_dedup(text))
        grams = [" ".join(u)] if 0 < len(u) <= n else [" ".join(u[i:i + n]) for i in range(len(u) - n + 1)]
        assert len(grams) == k
        mine = h[pos:pos + k].tolist()
        for g, x in zip(grams, mine):
            assert by_string.setdefault(g, x) == x and by_hash.setdefault(x, g) == g
        assert len(set(mine)) == len(T.shingles(text, n))
        alone, _ = shingle_hashes([text], n)
        assert alone.tolist() == mine
        pos += k


def test_one_permutation_signatures_estimate_jaccard():
    rng = np.random.default_rng(5)
    vocab = ["".join("abcdefghij"[int(d)] for d in str(i)) for i in range(5000)]
    errors = []
    for _ in range(60):
        words = list(rng.choice(vocab, 300))
        other = list(words)
        for j in rng.choice(300, int(rng.integers(1, 20)), replace=False):
            other[j] = "xyz" + "".join("abcdefghij"[int(d)] for d in str(j))
        a, b = " ".join(words), " ".join(other)
        sa, sb = set(T.shingles(a)), set(T.shingles(b))
        sigs = signatures([a, b], 128, 1, 5, "vector", scheme="one-permutation")
        assert (sigs != 0xFFFFFFFF).all()  # densified: no empty bins
        errors.append(np.mean(sigs[0] == sigs[1]) - len(sa & sb) / len(sa | sb))
    assert abs(np.mean(errors)) < 0.02 and np.std(errors) < 0.06
    empty = signatures(["", "!!!"], 128, 1, 5, "vector", scheme="one-permutation")
    assert (empty == 0xFFFFFFFF).all()


def test_fast_settings_find_the_same_clusters(tmp_path):
    rng = np.random.default_rng(9)
    records = []
    for i in range(40):
        words = ["".join("abcdefghij"[int(d)] for d in str(x)) for x in rng.integers(0, 3000, 250)]
        records.append({"id": f"a{i:03d}", "text": " ".join(words)})
        if i % 4 == 0:
            words[10] = "changed"
            records.append({"id": f"b{i:03d}", "text": " ".join(words)})
    found = {}
    for name, opts in {"default": {}, "datasketch": {"hash": "sha1", "scheme": "permutations"}}.items():
        kept, rejected, _ = run_dedup(tmp_path / name, records, method="minhash", **opts)
        found[name] = {(r["id"], r["dup_of"]) for r in rejected}
    assert found["datasketch"] == found["default"] == {(f"b{i:03d}", f"a{i:03d}") for i in range(0, 40, 4)}


def test_lsh_parameters_favour_recall_at_the_threshold():
    bands, rows = lsh_params(0.8, 128)
    assert bands * rows <= 128 and 1 - (1 - 0.8 ** rows) ** bands >= 0.97
    assert lsh_params(0.5, 128)[1] < rows


def test_simhash_finds_pairs_within_k_bits():
    base = " ".join(f"word{i}" for i in range(300))
    edited = base.replace("word150", "other")
    other = " ".join(f"term{i}" for i in range(300))
    fps = np.array([fingerprint(t, 5) for t in (base, edited, other)], dtype=np.uint64)
    assert (int(fps[0]) ^ int(fps[1])).bit_count() <= 3
    left, right, sims = near_pairs(fps, 3)
    assert list(zip(left.tolist(), right.tolist())) == [(0, 1)] and sims[0] >= 1 - 3 / 64


def test_popcount_without_numpy_bitwise_count(monkeypatch):
    from dataprep.stages.dedup.simhash import _popcount

    x = np.array([0, 1, 2**63, 2**64 - 1, 0x0123456789ABCDEF, 0xF0F0F0F0F0F0F0F0], dtype=np.uint64)
    want = [bin(int(v)).count("1") for v in x]
    assert _popcount(x).tolist() == want
    monkeypatch.delattr(np, "bitwise_count", raising=False)  # numpy < 2.0
    assert _popcount(x).tolist() == want


def _components(n: int, left, right) -> list[int]:
    from dataprep.stages.dedup.cluster import UnionFind

    uf = UnionFind(n)
    for a, b in zip(left, right):
        uf.union(int(a), int(b))
    return [uf.find(i) for i in range(n)]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**64 - 1), st.booleans()), min_size=0, max_size=40),
       st.integers(0, 4))
def test_simhash_edges_give_the_clusters_of_all_close_pairs(items, k):
    """near_pairs joins items with equal fingerprints by a star, not by all their pairs, yet gives the
    same clusters, and the same lowest similarity per cluster, as every pair within k bits (less
    reference-reference pairs)."""
    bases = [0, 0xFFFF, 0xF0F0F0F0F0F0F0F0, 1 << 63, 0x0123456789ABCDEF, 0xFFFFFFFFFFFFFFFF]
    fps = np.array([bases[b] ^ (noise & (noise >> 3) & (noise >> 7) & (noise >> 11)) for b, noise, _ in items],
                   dtype=np.uint64)  # few bits flipped: many fingerprints equal or close
    ref = np.array([r for _, _, r in items], dtype=bool)
    n = len(items)
    pairs = [(i, j, 1 - (int(fps[i]) ^ int(fps[j])).bit_count() / 64) for i in range(n) for j in range(i + 1, n)
             if (int(fps[i]) ^ int(fps[j])).bit_count() <= k and not (ref[i] and ref[j])]
    left, right, sims = near_pairs(fps, k, ref)
    assert all(a < b for a, b in zip(left.tolist(), right.tolist()))
    assert len(left) <= len(pairs) and not any(ref[a] and ref[b] for a, b in zip(left.tolist(), right.tolist()))
    want = _components(n, [p[0] for p in pairs], [p[1] for p in pairs])
    assert _components(n, left, right) == want
    low_want, low_got = {}, {}
    for (a, _, s) in pairs:
        low_want[want[a]] = min(low_want.get(want[a], 1.0), s)
    for a, s in zip(left.tolist(), sims.tolist()):
        low_got[want[a]] = min(low_got.get(want[a], 1.0), s)
    assert low_got == low_want


def _python_calls(fn) -> int:
    """Python and builtin function calls made while fn() runs: a count of work that, unlike time,
    does not depend on the machine's load."""
    import sys

    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("method,level", [("exact", "paragraph"), ("exact", "sentence"), ("minhash", "paragraph"),
                                          ("simhash", "paragraph"), ("simhash", "document")])
def test_repeats_inside_one_document_cost_linear_work(tmp_path, method, level):
    """One document of N identical paragraphs (or sentences; for level document, N identical
    documents): four times N must cost about four times the work, not sixteen (it once grew with
    N squared: each repeat re-split the whole document, and SimHash paired every two copies)."""
    from dataprep.stages.ingest import IngestConfig, IngestStage

    unit = "The same paragraph about rivers and their deltas, repeated many times."

    def work(n: int, folder: Path) -> int:
        if level == "document":
            records = [{"id": f"d{i:05d}", "text": unit} for i in range(n)]
        else:
            records = [{"id": "one", "text": ("\n" if level == "paragraph" else " ").join([unit] * n) + "\nThe end."}]
        write_jsonl(folder / "in.jsonl", records)
        with LocalExecutor(1) as ex:  # one worker: every task runs in this process, where calls are counted
            run_stage(IngestStage(parse(IngestConfig, {"paths": [str(folder / "in.jsonl")]})), None, folder / "raw", ex)
            stage = DedupStage(parse(DedupConfig, {"method": method, "level": level, "max_removed_share": 1.0}))
            calls = _python_calls(lambda: run_stage(stage, Corpus.open(folder / "raw"), folder / "out", ex))
        kept, rejected = read_corpus(folder / "out"), read_rejected(folder / "out")
        if level == "document":
            assert len(kept) == 1 and len(rejected) == n - 1
        else:
            assert [r["text"] for r in kept] == [unit + ("\nThe end." if level == "paragraph" else " The end.")]
        return calls

    work(100, tmp_path / "warm-up")  # first-use costs (imports, the kernel's tables) are not counted below
    small, large = work(400, tmp_path / "n"), work(1600, tmp_path / "4n")
    assert large / small < 6, (small, large)  # linear: <= 4 (fixed costs make it less); quadratic: ~16


def run_dedup(tmp_path: Path, records: list[dict], **options) -> tuple[list, list, dict]:
    from dataprep.stages.ingest import IngestConfig, IngestStage

    write_jsonl(tmp_path / "in.jsonl", records)
    with LocalExecutor(1) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": [str(tmp_path / "in.jsonl")], "max_doc_bytes": 60 << 20})),
                  None, tmp_path / "raw", ex)
        run = run_stage(DedupStage(parse(DedupConfig, options)), Corpus.open(tmp_path / "raw"), tmp_path / "out", ex)
    return read_corpus(tmp_path / "out"), read_rejected(tmp_path / "out"), run.manifest


@pytest.mark.parametrize("method", ["exact", "minhash", "simhash"])
def test_bad_input_has_a_clear_outcome(tmp_path, method):
    big = "大模型数据清洗" * 2_400_000 + " tail words here"  # 50 MB of UTF-8 (ingest's limit raised to 60 MB)
    records = [{"id": "a-one-word", "text": "hello"}, {"id": "b-one-word", "text": "hello"},
               {"id": "c-empty-ish", "text": "!!!"}, {"id": "d-empty-ish", "text": "???"},
               {"id": "e-binary", "text": "\x01\x02ÿþ\x7f" * 200}, {"id": "f-binary", "text": "\x01\x02ÿþ\x7f" * 200},
               {"id": "g-big", "text": big}, {"id": "h-big", "text": big.replace("tail", "TAIL")}]
    kept, rejected, manifest = run_dedup(tmp_path, records, method=method)
    assert manifest["rows_in"] == 8 == len(kept) + len(rejected)
    outcome = {r["id"]: r.get("dup_of") for r in rejected}
    assert outcome["b-one-word"] == "a-one-word", "one-word documents are still deduplicated"
    assert outcome["h-big"] == "g-big" and outcome["f-binary"] == "e-binary"
    assert "c-empty-ish" in {r["id"] for r in kept}, "a text with no shingles is kept, never merged"
    assert all(r["reason"] == f"dedup:{method}:document" for r in rejected)


def test_keep_policies(tmp_path):
    base = " ".join(f"Council item {w} was approved after debate number {w} about cost and safety."
                    for w in ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
                              "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"])
    records = [{"id": "b", "text": base}, {"id": "a", "text": base + " Extra closing words for length."},
               {"id": "c", "text": base}]
    kept, rejected, _ = run_dedup(tmp_path / "first", records, method="minhash")
    assert [r["id"] for r in kept] == ["a"] and {r["dup_of"] for r in rejected} == {"a"}
    kept, _, _ = run_dedup(tmp_path / "longest", records, method="minhash", keep="longest")
    assert [r["id"] for r in kept] == ["a"]
    records = [dict(r, quality=q) for r, q in zip(records, [0.9, 0.1, 0.5])]
    with pytest.raises(Exception, match="no 'quality' column"):
        run_dedup(tmp_path / "best-missing", records, method="minhash", keep="best")


def test_sentence_level_exact_dedup_and_share_limit(tmp_path):
    records = [{"id": "1", "text": "Shared sentence here. Unique one alpha."},
               {"id": "2", "text": "Unique one beta with more words. Shared sentence here."},
               {"id": "3", "text": "Shared sentence here."}]
    kept, rejected, manifest = run_dedup(tmp_path, records, method="exact", level="sentence")
    assert [(r["id"], r["text"]) for r in kept] == [("1", "Shared sentence here. Unique one alpha."),
                                                      ("2", "Unique one beta with more words.")]
    assert [(r["id"], r["reason"], r["dup_of"]) for r in rejected] == [("3", "dedup:exact:sentence", "1")]
    assert manifest["counters"]["sentences_removed"] == 1


def test_against_a_reference_corpus(tmp_path):
    old = [{"id": "old-1", "text": "An evaluation question about rivers and their deltas, with many details. " * 4}]
    new = [{"id": "new-1", "text": old[0]["text"]}, {"id": "new-2", "text": "A completely different document about bread. " * 4}]
    run_dedup(tmp_path / "ref", old, method="minhash")
    kept, rejected, _ = run_dedup(tmp_path / "new", new, method="minhash", against=str(tmp_path / "ref" / "out"))
    assert [r["id"] for r in kept] == ["new-2"]
    assert [(r["id"], r["dup_of"]) for r in rejected] == [("new-1", "old-1")]
    with pytest.raises(Exception, match="same settings"):
        run_dedup(tmp_path / "bad", new, method="minhash", num_perm=64, against=str(tmp_path / "ref" / "out"))
    # the reference's index was kept in its folder; a second run reuses it instead of keying it again
    index = list((tmp_path / "ref" / "out" / "_index").glob("*/*"))
    assert sorted(p.name for p in index) == ["ref-00000.npz", "ref-00000.shingles.u32", "ref-00000.sigs.u32"]
    stamps = {p: p.stat().st_mtime_ns for p in index}
    again, _, _ = run_dedup(tmp_path / "new2", new, method="minhash", against=str(tmp_path / "ref" / "out"))
    assert again == kept and {p: p.stat().st_mtime_ns for p in index} == stamps


# Prose written for this test: a copy with 3% of its units replaced is the same article to any
# reader; one with 30% replaced is another text.
ARTICLE_EN = """When the river rose last spring, the town of Millbrook learned how much its old flood walls had
been asked to carry. The walls were built in the nineteen fifties for a smaller town and a quieter river.
Since then the fields upstream have been drained, the roads paved and the hills cut for new houses, so rain
that once soaked into the ground now runs into the river within hours.

The council spent the summer asking residents what they wanted from the next fifty years. Some wanted
higher walls, some wanted the river given room to spread over the meadows east of the bridge, and many
wanted both. A retired engineer who has kept rainfall records in his garden since childhood showed that
the heaviest storms now arrive twice as often as they did when he was young.

The plan adopted in October does a little of everything. The meadows will be lowered and planted with
reeds so that they can hold water during a flood and dry out afterwards. The walls near the school and the
market will be raised by half a metre, and the old mill race will be opened again to carry water around
the centre. Every house in the lowest streets will be offered a survey and a grant for flood doors.

Not everyone is pleased. Farmers who rent the meadows will lose grazing in wet years, and the owners of
the cafe by the bridge fear that building work will keep visitors away for two seasons. The council says
it will pay for the lost grazing and close the bridge only at night. Work starts in March, and the first
test will come with the autumn rains."""

ARTICLE_ZH = """去年春天河水上涨的时候，清溪镇的居民才知道老堤坝承受了多大的压力。这些堤坝修建于上世纪五十年代，当时的镇子
更小，河流也更平静。此后上游的农田被排干，道路铺上了水泥，山坡上盖起了新房，过去渗进土里的雨水如今几个小时就流进河里。
整个夏天，镇政府都在询问居民希望未来五十年是什么样子。有人主张加高堤坝，有人主张在桥东的草地上给河流留出空间，更多的人
两者都想要。一位退休工程师从小就在自家院子里记录降雨，他的记录显示，最强的暴雨如今出现的次数是他年轻时的两倍。
十月通过的方案每样都做了一点。草地将被挖低并种上芦苇，洪水来时可以蓄水，退水后再慢慢晾干。学校和集市附近的堤坝将加高
半米，旧的磨坊水渠也将重新打开，把河水从镇中心绕过去。地势最低的几条街上，每户人家都可以申请一次免费检查和一笔安装防洪门
的补贴。并不是所有人都满意。租用草地的农户在多雨的年份会失去牧场，桥边咖啡馆的老板担心施工会让游客两个季节都不来。镇政府
表示会补偿损失的牧场，并且只在夜间封桥。工程将在明年三月开工，第一次考验会在秋雨季节到来。"""


def _replace_units(text: str, share: float, seed: int) -> str:
    """``text`` with ``share`` of its units (words; Chinese characters) replaced by other units of it."""
    import random
    import re

    rng = random.Random(seed)
    cjk = T.cjk_share(text) > 0.5
    pieces = list(text) if cjk else re.split(r"(\s+)", text)
    slots = [i for i, p in enumerate(pieces) if ("\u4e00" <= p <= "\u9fff" if cjk else p.strip())]
    pool = sorted({pieces[i] for i in slots})
    for i in rng.sample(slots, round(share * len(slots))):
        pieces[i] = rng.choice([u for u in pool if u != pieces[i]])
    return "".join(pieces)


def _udhr(lang: str) -> str:
    rows = [line.split("\t") for line in (SHARED_DATA / "langid" / "udhr2_lines.tsv").read_text(
        encoding="utf-8").splitlines()[1:]]
    text = "\n".join(r[4] for r in rows if r[0] == lang and r[1] == ("Hans" if lang == "zh" else ""))
    return text[:2000] if lang == "en" else text[:700]


@pytest.mark.parametrize("source", ["written-en", "written-zh", "udhr-en", "udhr-zh"])
def test_defaults_catch_a_3_percent_edit_and_not_a_30_percent_rewrite(tmp_path, source, request):
    """The issue's case: at default settings a copy with 3% of its words (Chinese: characters)
    replaced is a near-duplicate, one with 30% replaced is not, nor is an unrelated text."""
    if source.startswith("udhr"):
        request.getfixturevalue("shared_data")  # skips when the reference folder is absent
        base = _udhr(source[-2:])
    else:
        base = ARTICLE_EN if source.endswith("en") else ARTICLE_ZH
    other = ARTICLE_ZH if T.cjk_share(base) < 0.5 else ARTICLE_EN
    records = [{"id": "a-original", "text": base}, {"id": "b-edited-3pct", "text": _replace_units(base, 0.03, 1)},
               {"id": "c-rewritten-30pct", "text": _replace_units(base, 0.30, 2)},
               {"id": "d-unrelated", "text": _replace_units(other, 0.0, 3)}]
    cfg = DedupConfig()
    n = cfg.ngram
    sim = lambda x, y: (lambda a, b: len(a & b) / len(a | b))(set(T.shingles(x, n)), set(T.shingles(y, n)))  # noqa: E731
    assert sim(base, records[1]["text"]) > cfg.threshold > sim(base, records[2]["text"])
    for opts in ({}, {"hash": "sha1", "scheme": "permutations"}):
        kept, rejected, _ = run_dedup(tmp_path / str(len(opts)), records, method="minhash", **opts)
        assert [(r["id"], r["dup_of"]) for r in rejected] == [("b-edited-3pct", "a-original")]
        assert [r["id"] for r in kept] == ["a-original", "c-rewritten-30pct", "d-unrelated"]


def test_cut_spans_and_config_errors():
    assert cut_spans("a\nbb\nc", [(2, 4)]) == "a\nc"
    with pytest.raises(ConfigError, match="bands/rows: give both"):
        parse(DedupConfig, {"bands": 4})
    with pytest.raises(ConfigError, match="threshold"):
        parse(DedupConfig, {"threshold": 1.5})


@pytest.mark.parametrize("hash_name", ["sha1", "vector"])
def test_exact_verification_is_the_shingle_jaccard(tmp_path, hash_name):
    """The map keeps each item's shingle hashes; verification measures pairs (across shards) from them."""
    from dataprep.stages.dedup import (load_items, map_shard, prefilter_agreement, shingle_file, sig_file,
                                       verify_exact)

    rng = np.random.default_rng(6)
    words = ["w%d" % i for i in range(40)] + ["数", "据", "去", "重"]
    texts = [[" ".join(rng.choice(words, int(rng.integers(0, 30)))) for _ in range(30)] for _ in range(3)]
    texts[1][4] = ""  # no shingles at all
    cfg = DedupConfig(hash=hash_name)
    maps = []
    for s, shard in enumerate(texts):
        path = tmp_path / f"s{s}.parquet"
        pq.write_table(pa.table({"id": [f"{s}-{i}" for i in range(30)], "text": shard}), path)
        maps.append(str(tmp_path / f"map-{s}.npz"))
        map_shard((cfg, str(path), maps[-1]))
    items = load_items([(m, False) for m in maps])
    pairs = sorted({tuple(sorted(map(int, rng.choice(90, 2, replace=False)))) for _ in range(200)} | {(30, 34)})
    left, right = (np.array(x, dtype=np.int64) for x in zip(*pairs))
    files, sigs = [str(shingle_file(m)) for m in maps], [str(sig_file(m)) for m in maps]
    with LocalExecutor(2) as ex:
        got = verify_exact(items, files, sigs, left, right, ex, cfg.num_perm, 0)  # every pair exactly
        screened = verify_exact(items, files, sigs, left, right, ex, cfg.num_perm, prefilter_agreement(cfg))
    assert 0 < prefilter_agreement(cfg) < cfg.threshold * cfg.num_perm
    skipped = 0
    for (i, j), g, s in zip(pairs, got.tolist(), screened.tolist()):
        a, b = (set(T.shingles(texts[k // 30][k % 30], cfg.ngram)) for k in (i, j))
        assert g == pytest.approx(len(a & b) / len(a | b) if a | b else 1.0), (i, j)
        # the signature screen only skips pairs far below the threshold, and says so with their estimate
        if s != g:
            skipped += 1
            assert g < cfg.threshold and s < prefilter_agreement(cfg) / cfg.num_perm
    assert skipped > 0, "random pairs of unrelated texts are screened out by their signatures"


def test_shingle_files_are_removed_and_remade_when_missing(tmp_path):
    """Verification's shingle files go once the clusters are known; a global pass rerun after that
    (killed before its state was saved) makes them again instead of failing."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    bases = [" ".join(letters[k] + letters[j % 26] + letters[j // 26] for j in range(60)) for k in range(4)]
    records = [{"id": f"d{i:02d}", "text": bases[i % 4]} for i in range(12)]
    kept, rejected, _ = run_dedup(tmp_path, records, method="minhash")
    state = tmp_path / "out" / "_state"
    assert len(kept) == 4 and len(rejected) == 8 and list(state.glob("map-*.npz"))
    assert not list(state.glob("*.shingles.*")), "shingle files are removed after verification"
    assert not list(state.glob("*.sigs.*")), "signature files are removed after verification"
    (tmp_path / "out" / "manifest.json").unlink()
    (tmp_path / "out" / "_state.pkl").unlink()
    with LocalExecutor(1) as ex:
        run_stage(DedupStage(parse(DedupConfig, {"method": "minhash"})), Corpus.open(tmp_path / "raw"),
                  tmp_path / "out", ex)
    assert read_corpus(tmp_path / "out") == kept and read_rejected(tmp_path / "out") == rejected


def test_group_pairs_match_the_pairwise_definition():
    from dataprep.stages.dedup.cluster import SMALL_GROUP, group_pairs

    rng = np.random.default_rng(5)
    keys = rng.integers(0, 400, 3000).astype(np.uint64)
    keys[:100] = 7  # one group larger than SMALL_GROUP: star + chain
    members = np.arange(3000) * 3
    got = set(group_pairs(keys, members).tolist())
    want = set()
    for k in np.unique(keys).tolist():
        g = members[keys == k].tolist()
        if len(g) <= SMALL_GROUP:
            want.update((a << 32) | b for x, a in enumerate(g) for b in g[x + 1:])
        else:
            want.update((g[0] << 32) | b for b in g[1:])
            want.update((a << 32) | b for a, b in zip(g[1:], g[2:]))
    assert got == want and len(group_pairs(keys, members)) == len(want)


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.text(max_size=12), max_size=30), cut=st.integers(0, 5))
def test_map_files_carry_the_shard_ids(tmp_path_factory, ids, cut):
    """The map phase stores each shard's ids (the reduce reads them from there, not from the shard)."""
    from dataprep.stages.dedup import _pack_ids, load_ids

    arr = pa.chunked_array([pa.array(ids, pa.string())]).slice(min(cut, len(ids)))  # offset != 0
    path = tmp_path_factory.mktemp("ids") / "map.npz"
    np.savez(path, **_pack_ids(arr))
    assert load_ids(str(path), "unused.parquet").to_pylist() == ids[min(cut, len(ids)):]


def test_map_files_without_ids_fall_back_to_the_shard(tmp_path):
    from dataprep.stages.dedup import load_ids

    shard = tmp_path / "s.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["x", "y"]}), shard)
    np.savez(tmp_path / "m.npz", doc=np.zeros(2, np.int32))
    assert load_ids(str(tmp_path / "m.npz"), str(shard)).to_pylist() == ["a", "b"]


@pytest.mark.parametrize("options", [{"method": "minhash"}, {"method": "exact", "exempt": {"source": ["code"]}},
                                     {"method": "exact", "level": "paragraph"}])
def test_character_counts_are_those_of_the_texts(tmp_path, options):
    """chars_in / chars_out in the manifest (the map's count and the apply's arithmetic) match the texts."""
    para = "Ein Absatz über Daten, der auf vielen Seiten steht. 数据清洗很重要。"
    records = [{"id": f"d{i}", "text": f"Dokument {i % 3} über Wörter 🙂 " * 40 + "\n\n" + para, "source": src}
               for i, src in enumerate(["web", "code", "web", "code", "web", "web"])]
    kept, rejected, manifest = run_dedup(tmp_path, records, **options)
    assert rejected and manifest["chars_in"] == sum(len(r["text"]) for r in records)
    assert manifest["chars_out"] == sum(len(r["text"]) for r in kept)


def test_a_read_only_reference_keeps_its_index_with_the_new_run(tmp_path, monkeypatch):
    old = [{"id": "old-1", "text": "An evaluation question about rivers and their deltas, with many details. " * 4}]
    new = [{"id": "new-1", "text": old[0]["text"]}]
    run_dedup(tmp_path / "ref", old, method="minhash")
    mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if "_index" in self.parts:
            raise PermissionError(f"read-only: {self}")
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    kept, rejected, _ = run_dedup(tmp_path / "new", new, method="minhash", against=str(tmp_path / "ref" / "out"))
    assert kept == [] and [(r["id"], r["dup_of"]) for r in rejected] == [("new-1", "old-1")]
    assert not (tmp_path / "ref" / "out" / "_index").exists()
    assert list((tmp_path / "new" / "out" / "_state" / "reference-index").glob("ref-00000.*"))


def test_lsh_pairs_as_tasks_equal_the_kernel_here(tmp_path):
    """The bands spread over worker tasks give the same candidate pairs as the kernel in one process."""
    from dataprep.executor import LocalExecutor
    from dataprep.stages.dedup import SMALL_GROUP, kernel, lsh_pairs

    rng = np.random.default_rng(5)
    keys = rng.integers(0, 400, size=(9, 3000)).astype(np.uint64)  # many shared keys per band
    usable = np.flatnonzero(rng.random(3000) > 0.1)
    expected = kernel.band_pairs(keys, usable, SMALL_GROUP)
    assert len(expected) > 10_000
    with LocalExecutor(3) as ex:
        got = lsh_pairs(keys, usable, ex, tmp_path)
    assert np.array_equal(got, expected)
    assert list(tmp_path.iterdir()) == []  # its scratch files are gone


def test_exact_keys_of_many_texts_equal_one_at_a_time():
    """The column path of the default normalisation gives what NFKC + casefold + split gives one
    text at a time, on text built to trip it: combining marks, Hangul jamo, full-width forms,
    ligatures, compatibility ideographs, characters beyond plane 2, odd whitespace."""
    import random
    import unicodedata

    from dataprep.stages.dedup.cluster import normalize_exact, normalize_exact_many

    rng = random.Random(5)
    pieces = ["Ｈｅｌｌｏ，世界！", "ﬁne ﬂour", "e\u0301 a\u0308\u0323", "\u1100\u1161\u11a8", "각", "㍿ ㎏ ⑴ ½",
              "\uf900\U0002f800", "\U000e0041\U00031350", "Straße ΣΊΣΥΦΟΣ ς", "a\u3000b\u00a0c\u2028d\x1ce",
              "\u0345\u0301\u0300", "ﾊﾟﾝ ｶﾞ", "plain ascii text", "", "\u2126\u212b\u1e9b\u0323"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) for _ in range(2000)]
    texts += [chr(cp) for cp in range(0x30000) if not 0xD800 <= cp < 0xE000 and cp % 7 == 0]
    texts += ["x" + chr(cp) + "\u0301" for cp in range(0x300, 0x2000)]
    for mode in ("light", "full", "none"):
        assert normalize_exact_many(texts, mode) == [normalize_exact(t, mode) for t in texts]
    assert any(not unicodedata.is_normalized("NFKC", t) for t in texts)
    assert normalize_exact_many([], "light") == []
