"""Deduplication against the planted clusters of sample_data, plus the edge cases."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, read_corpus, read_rejected, write_jsonl
from dataprep import text as T
from dataprep.config import ConfigError, parse
from dataprep.corpus import Corpus
from dataprep.executor import LocalExecutor
from dataprep.runner import parse_pipeline, run_pipeline, run_stage
from dataprep.stages.dedup import DedupConfig, DedupStage, cut_spans
from dataprep.stages.dedup.minhash import lsh_params, signatures
from dataprep.stages.dedup.simhash import candidate_pairs, fingerprint

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
    assert all(c["kept"] in c["members"] and c["similarity"] >= 0.8 for c in clusters)
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
    spam_lines = {line for i, text in before.items() if TRUTH["docs"][i]["quality"] == "spam" for line in text.split("\n")}
    assert site_lines <= lines <= boilerplate | spam_lines  # spam pages share short stuffed lines too
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
    for name, opts in {"default": {}, "fast": {"hash": "vector", "scheme": "one-permutation"}}.items():
        kept, rejected, _ = run_dedup(tmp_path / name, records, method="minhash", **opts)
        found[name] = {(r["id"], r["dup_of"]) for r in rejected}
    assert found["fast"] == found["default"] == {(f"b{i:03d}", f"a{i:03d}") for i in range(0, 40, 4)}


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
    assert candidate_pairs(fps, 3) == [(0, 1)]


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
    assert sorted(p.name for p in index) == ["ref-00000.npz", "ref-00000.shingles.u32"]
    stamps = {p: p.stat().st_mtime_ns for p in index}
    again, _, _ = run_dedup(tmp_path / "new2", new, method="minhash", against=str(tmp_path / "ref" / "out"))
    assert again == kept and {p: p.stat().st_mtime_ns for p in index} == stamps


def test_cut_spans_and_config_errors():
    assert cut_spans("a\nbb\nc", [(2, 4)]) == "a\nc"
    with pytest.raises(ConfigError, match="bands/rows: give both"):
        parse(DedupConfig, {"bands": 4})
    with pytest.raises(ConfigError, match="threshold"):
        parse(DedupConfig, {"threshold": 1.5})


@pytest.mark.parametrize("hash_name", ["sha1", "vector"])
def test_exact_verification_is_the_shingle_jaccard(tmp_path, hash_name):
    """The map keeps each item's shingle hashes; verification measures pairs (across shards) from them."""
    from dataprep.stages.dedup import load_items, map_shard, shingle_file, verify_exact

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
    with LocalExecutor(2) as ex:
        got = verify_exact(items, [str(shingle_file(m)) for m in maps], left, right, ex)
    for (i, j), g in zip(pairs, got.tolist()):
        a, b = set(T.shingles(texts[i // 30][i % 30])), set(T.shingles(texts[j // 30][j % 30]))
        assert g == pytest.approx(len(a & b) / len(a | b) if a | b else 1.0), (i, j)


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
