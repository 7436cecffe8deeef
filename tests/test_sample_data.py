"""sample_data/ is what generate.py makes, and its planted clusters hold what truth.json says."""

import itertools
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import ROOT
from dataprep.text import shingles

SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def corpus():
    docs = {}
    for path in sorted((SAMPLE / "raw").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            assert set(rec) == {"id", "text", "url", "source"}
            assert rec["id"] not in docs, f"duplicate id {rec['id']}"
            docs[rec["id"]] = rec["text"]
    truth = json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))
    return docs, truth


def test_generator_reproduces_the_files_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, str(SAMPLE / "generate.py"), str(tmp_path)], check=True)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert made == [Path("raw/code-math.jsonl"), Path("raw/quotes.jsonl"), Path("raw/unsafe.jsonl"),
                    Path("raw/web-en.jsonl"), Path("raw/web-multi.jsonl"), Path("raw/web-zh.jsonl"),
                    Path("truth.json")]
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (SAMPLE / rel).read_bytes(), rel


def test_size_languages_and_labels(corpus):
    docs, truth = corpus
    size = sum(p.stat().st_size for p in (SAMPLE / "raw").glob("*.jsonl"))
    assert 2_000_000 <= size <= 10_000_000
    assert set(docs) == set(truth["docs"])
    langs = defaultdict(int)
    for label in truth["docs"].values():
        langs[label["lang"]] += 1
    assert langs["zh"] > langs["en"] > 500 and all(langs[l] >= 15 for l in ("ja", "ko", "ru", "fr", "de", "es", "ar"))
    qualities = {label["quality"] for label in truth["docs"].values()}
    assert qualities == {"good", "spam", "boilerplate", "repetitive", "short", "long", "unsafe", "contaminated"}
    long_ids = [i for i, label in truth["docs"].items() if label["quality"] == "long"]
    assert len(long_ids) == 1 and len(docs[long_ids[0]].encode()) > 900_000


def test_planted_clusters(corpus):
    docs, truth = corpus
    clusters = truth["duplicate_clusters"]
    for kind in ("exact", "near"):
        for lang in ("zh", "en"):
            assert len([c for c in clusters if c["kind"] == kind and c["lang"] == lang]) >= 15
    for c in clusters:
        assert c["members"][0] == c["original"] and len(c["members"]) >= 2
        orig = set(shingles(docs[c["original"]]))
        for m in c["members"][1:]:
            if c["kind"] == "exact":
                assert docs[m] == docs[c["original"]]
            else:
                other = set(shingles(docs[m]))
                assert docs[m] != docs[c["original"]]
                assert len(orig & other) / len(orig | other) >= 0.8, (c["cluster"], m)


def test_no_near_duplicates_across_clusters(corpus):
    docs, truth = corpus
    cluster_of = {m: c["cluster"] for c in truth["duplicate_clusters"] for m in c["members"]}
    sets = {i: set(shingles(t)) for i, t in docs.items()}
    index = defaultdict(list)
    for i, s in sets.items():
        for g in s:
            index[g].append(i)
    shared = defaultdict(int)
    for ids in index.values():
        for a, b in itertools.combinations(ids, 2):
            shared[(a, b)] += 1
    for (a, b), n in shared.items():
        if cluster_of.get(a, a) != cluster_of.get(b, b):
            assert n / (len(sets[a]) + len(sets[b]) - n) < 0.5, (a, b)


def test_boilerplate_lines_recur_on_their_site(corpus):
    docs, truth = corpus
    for site, lines in truth["boilerplate_lines"].items():
        if "." not in site:  # not a site: the republishing footers of near-duplicates
            continue
        pages = [i for i, label in truth["docs"].items() if label["quality"] == "boilerplate"
                 and (label["lang"] == "zh") == site.startswith("news.hualian")]
        assert len(pages) >= 10
        for page in pages:
            assert all(line in docs[page].split("\n") for line in lines)
