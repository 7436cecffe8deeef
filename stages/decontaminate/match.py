"""Finding eval n-grams in documents (the map) and deciding what they mean (the reduce).

The map hashes every window of every document of a shard and keeps those found in the index:
its hits, with their character span and text. The reduce joins all hits with the index entries
of their n-grams and, for every (document, eval item) pair, measures the share of the item's best
matched segment that the document reproduces (``_covered``). A document holding at least half of
a segment (``STRONG``) holds the item's text. Otherwise it shares a phrase of it; an n-gram that
more than ``common_docs`` documents share that way is a common phrase and is not counted (GPT-3,
appendix C, ignored 13-grams found in more than 10 training documents: mostly cultural phrases
and legal boilerplate). A pair with a counted hit and at least ``min_coverage`` of the item is
contamination.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from dataprep import ngrams as G
from dataprep.corpus import read_parquet, write_table

from .index import Lookup

BATCH_CHARS = 1 << 20  # characters hashed per step of the map (about 100 MB of arrays)
STRONG = 0.5  # a document holding this share of an eval text holds the text, not a phrase of it
SNIPPET_CHARS = 300
REPORT_TYPES = {"id": pa.string(), "benchmark": pa.string(), "item": pa.string(), "origin": pa.string(),
                "field": pa.string(), "coverage": pa.float32(), "segment_units": pa.int32(), "ngrams": pa.int32(),
                "common_ngrams": pa.int32(), "decision": pa.string(), "doc_start": pa.int64(), "doc_end": pa.int64(),
                "text": pa.string()}


# --- map ------------------------------------------------------------------------------------------


def find_hits(args: tuple[str, int, int, str, str]) -> int:
    """Every window of every document of ``shard`` found in the index, into ``out`` (Parquet):
    row, id, key (index of the n-gram), character span in the document and its text."""
    index_dir, ngram, ngram_cjk, shard, out = args
    table = read_parquet(shard, ["id", "text"])
    texts = table["text"].to_pylist()
    lookup = Lookup.get(index_dir)
    found: dict[str, list[np.ndarray]] = {"row": [], "key": [], "start": [], "end": []}
    lo = 0
    while lo < len(texts):
        hi, chars = lo, 0
        while hi < len(texts) and (hi == lo or chars + len(texts[hi] or "") <= BATCH_CHARS):
            chars += len(texts[hi] or "")
            hi += 1
        u = G.units_of(texts[lo:hi])
        windows = G.Windows(u.hashes)
        a_parts, b_parts, key_parts = [], [], []
        for k in [None, *lookup.short_lengths]:  # the full windows, then each length of a short eval text
            a, b = G.full_windows(u, ngram, ngram_cjk) if k is None else G.fixed_windows(u, k)
            at, key = lookup.find(windows.hash(a, b))
            a_parts.append(a[at])
            b_parts.append(b[at])
            key_parts.append(key)
        a, b, key = np.concatenate(a_parts), np.concatenate(b_parts), np.concatenate(key_parts)
        if len(a):
            doc = np.searchsorted(u.first, a, side="right") - 1
            start, end = u.start[a], u.end[b - 1]
            for d in np.unique(doc[~u.exact[doc]]).tolist():  # characters moved by NFKC or casefold
                starts, ends = G.unit_spans(texts[lo + d])
                mine = doc == d
                start[mine], end[mine] = starts[a[mine] - u.first[d]], ends[b[mine] - 1 - u.first[d]]
            found["row"].append(doc + lo)
            found["key"].append(key)
            found["start"].append(start)
            found["end"].append(end)
        lo = hi
    cat = {k: np.concatenate(v) if v else np.empty(0, np.int64) for k, v in found.items()}
    order = np.lexsort((cat["key"], cat["end"], cat["start"], cat["row"]))
    rows, start, end = cat["row"][order], cat["start"][order], cat["end"][order]
    hits = pa.table({
        "row": pa.array(rows, pa.int32()),
        "id": table["id"].take(pa.array(rows, pa.int64())).combine_chunks().cast(pa.string()),
        "key": pa.array(cat["key"][order], pa.int64()),
        "start": pa.array(start, pa.int64()),
        "end": pa.array(end, pa.int64()),
        "text": pa.array([texts[r][a:b] for r, a, b in zip(rows.tolist(), start.tolist(), end.tolist())],
                         pa.string()),
    })
    write_table(hits, Path(out))
    return hits.num_rows


# --- reduce ---------------------------------------------------------------------------------------


@dataclass
class EvalIndex:
    """The merged index's entries and tables, as the reduce needs them."""

    key_first: np.ndarray
    entry_seg: np.ndarray
    entry_pos: np.ndarray
    entry_len: np.ndarray
    seg_item: np.ndarray
    seg_field: np.ndarray
    seg_units: np.ndarray
    item_bench: np.ndarray
    labels: list[str]
    origins: list[str]
    fields: list[str]
    benchmarks: list[str]

    @classmethod
    def load(cls, folder: Path) -> "EvalIndex":
        arrays = {name: np.load(folder / f"{name}.npy") for name in (
            "key_first", "entry_seg", "entry_pos", "entry_len", "seg_item", "seg_field", "seg_units", "item_bench")}
        meta = json.loads((folder / "meta.json").read_text())
        items = read_parquet(folder / "items.parquet")
        return cls(**arrays, labels=items["item"].to_pylist(), origins=items["origin"].to_pylist(),
                   fields=meta["fields"], benchmarks=meta["benchmarks"])


@dataclass
class Hits:
    """Every hit of the corpus, shard by shard."""

    shard: np.ndarray
    row: np.ndarray
    key: np.ndarray
    start: np.ndarray
    end: np.ndarray
    ids: list[str]
    texts: list[str]

    @classmethod
    def load(cls, files: list[Path]) -> "Hits":
        tables = [read_parquet(p) for p in files]

        def col(name: str) -> np.ndarray:
            return np.concatenate([t[name].to_numpy() for t in tables] + [np.empty(0, np.int64)]).astype(np.int64)

        return cls(shard=np.repeat(np.arange(len(tables), dtype=np.int64), [t.num_rows for t in tables]),
                   row=col("row"), key=col("key"), start=col("start"), end=col("end"),
                   ids=[x for t in tables for x in t["id"].to_pylist()],
                   texts=[x for t in tables for x in t["text"].to_pylist()])


def _covered(doc: np.ndarray, seg: np.ndarray, pos: np.ndarray, length: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(doc, seg, units of the segment covered) for each (doc, seg) group of matched entries
    (entry k covers units [pos[k], pos[k] + length[k]) of its segment)."""
    if len(doc) == 0:
        return doc, seg, np.empty(0, np.int64)
    order = np.lexsort((pos, seg, doc))
    d, s, p = doc[order], seg[order], pos[order].astype(np.int64)
    e = p + length[order]
    new = np.concatenate([[True], (d[1:] != d[:-1]) | (s[1:] != s[:-1])])
    group = np.cumsum(new) - 1
    reach = np.maximum.accumulate((group << 32) | e) & 0xFFFFFFFF  # furthest end so far, per group
    before = np.concatenate([[-1], reach[:-1]])
    before[new] = -1
    gain = np.maximum(0, e - np.maximum(p, before))
    firsts = np.flatnonzero(new)
    return d[firsts], s[firsts], np.add.reduceat(gain, firsts)


@dataclass
class Pairs:
    """(document, item) pairs with hits, ordered by document then item, and the verdict on each."""

    doc: np.ndarray  # shard << 32 | row
    item: np.ndarray
    seg: np.ndarray  # the item's best matched segment
    share: np.ndarray  # of that segment, counting every hit
    final: np.ndarray  # the share that decides (for weak pairs, without common phrases)
    counted: np.ndarray  # has a hit that counts
    flagged: np.ndarray
    hits: np.ndarray  # rows (pair, hit, counted), by pair then position in the document
    bounds: np.ndarray  # hits[bounds[p]:bounds[p + 1]] are pair p's
    common_keys: int


def match(hits: Hits, ix: EvalIndex, common_docs: int, min_coverage: float) -> Pairs:
    udoc, ed = np.unique((hits.shard << 32) | hits.row, return_inverse=True)  # documents, densely numbered
    # every (hit, index entry): a hit's n-gram may occur in several segments and items
    per = ix.key_first[hits.key + 1] - ix.key_first[hits.key]
    hit = np.repeat(np.arange(len(hits.key)), per)
    entry = ix.key_first[hits.key][hit] + np.arange(len(hit)) - np.repeat(np.cumsum(per) - per, per)
    seg = ix.entry_seg[entry].astype(np.int64)
    pos, length = ix.entry_pos[entry], ix.entry_len[entry].astype(np.int64)
    n_items = max(len(ix.item_bench), 1)

    def best(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pair key, share of its best segment covered, that segment) of the pairs with entries in mask."""
        d, s, cov = _covered(ed[hit[mask]], seg[mask], pos[mask], length[mask])
        pk, share = d * n_items + ix.seg_item[s], cov / np.maximum(ix.seg_units[s], 1)
        order = np.lexsort((s, -share, pk))
        pk, share, s = pk[order], share[order], s[order]
        first = np.concatenate([[True], pk[1:] != pk[:-1]]) if len(pk) else np.zeros(0, bool)
        return pk[first], share[first], s[first]

    keys, share, best_seg = best(np.ones(len(hit), bool))
    pair = np.searchsorted(keys, ed[hit] * n_items + ix.seg_item[seg])
    strong = share >= STRONG
    counts = np.ones(len(hit), bool)
    common = np.empty(0, np.int64)
    if common_docs > 0 and len(hit):
        weak = ~strong[pair]
        key_doc = np.unique(np.stack([hits.key[hit[weak]], ed[hit[weak]]], axis=1), axis=0)
        k, n = np.unique(key_doc[:, 0], return_counts=True)
        common = k[n > common_docs]
        counts = strong[pair] | ~np.isin(hits.key[hit], common)
    final = share.copy()
    final[~strong] = 0.0
    if counts.any():
        k2, s2, _ = best(counts)
        at = np.searchsorted(keys, k2)
        final[at] = np.where(strong[at], share[at], s2)
    counted = np.bincount(pair[counts], minlength=len(keys)) > 0
    flagged = counted & (final >= min_coverage) & (final > 0)
    # per pair, its distinct hits (whether one counts depends on the pair and the hit only)
    ph = np.unique(np.stack([pair, hit, counts.astype(np.int64)], axis=1), axis=0) if len(hit) else \
        np.empty((0, 3), np.int64)
    ph = ph[np.lexsort((hits.end[ph[:, 1]], hits.start[ph[:, 1]], ph[:, 0]))]
    return Pairs(doc=udoc[keys // n_items], item=keys % n_items, seg=best_seg, share=share, final=final,
                 counted=counted, flagged=flagged, hits=ph, bounds=np.searchsorted(ph[:, 0], np.arange(len(keys) + 1)),
                 common_keys=len(common))


def stitch(starts: list[int], ends: list[int], texts: list[str]) -> tuple[int, int, str]:
    """The first run of overlapping matches (sorted by start) as one span and its text."""
    a, b, out = starts[0], ends[0], texts[0]
    for s, e, t in zip(starts[1:], ends[1:], texts[1:]):
        if s > b:
            break
        if e > b:
            out += t[b - s:]
            b = e
    return a, b, out[:SNIPPET_CHARS]


def report_and_decisions(hits: Hits, ix: EvalIndex, pairs: Pairs, n_shards: int
                         ) -> tuple[pa.Table, list[pa.Table], dict]:
    """The report (a row per pair), one decision table per shard (a row per contaminated document:
    the benchmark and item of its best pair, and the spans of all its counted hits) and totals."""
    report: dict[str, list] = {k: [] for k in REPORT_TYPES}
    docs: list[dict[int, dict]] = [dict() for _ in range(n_shards)]
    for p in range(len(pairs.doc)):
        rows = pairs.hits[pairs.bounds[p]:pairs.bounds[p + 1]]
        used = (rows[rows[:, 2] == 1] if pairs.counted[p] else rows)[:, 1]
        starts, ends = hits.start[used].tolist(), hits.end[used].tolist()
        a, b, text = stitch(starts, ends, [hits.texts[h] for h in used.tolist()])
        item, seg = int(pairs.item[p]), int(pairs.seg[p])
        bench = ix.benchmarks[int(ix.item_bench[item])]
        field = ix.fields[int(ix.seg_field[seg])]
        share = float(pairs.final[p] if pairs.counted[p] else pairs.share[p])
        decision = "contaminated" if pairs.flagged[p] else "below_min_coverage" if pairs.counted[p] else \
            "common_phrase"
        for k, v in zip(REPORT_TYPES, (hits.ids[int(used[0])], bench, ix.labels[item], ix.origins[item], field,
                                       round(share, 4), int(ix.seg_units[seg]), len(rows),
                                       int(np.count_nonzero(rows[:, 2] == 0)), decision, a, b, text)):
            report[k].append(v)
        if pairs.flagged[p]:
            shard, row = int(pairs.doc[p] >> 32), int(pairs.doc[p] & 0xFFFFFFFF)
            doc = docs[shard].setdefault(row, {"best": None, "spans": set()})
            rank = (-share, item)
            if doc["best"] is None or rank < doc["best"][0]:
                doc["best"] = (rank, bench, ix.labels[item], f"{ix.labels[item]}: {share:.0%} of its {field} matched")
            doc["spans"].update(zip(starts, ends))
    decisions = []
    for shard in docs:
        rows = sorted(shard)
        spans = [sorted(shard[r]["spans"]) for r in rows]
        decisions.append(pa.table({
            "row": pa.array(rows, pa.int32()),
            "benchmark": pa.array([shard[r]["best"][1] for r in rows], pa.string()),
            "item": pa.array([shard[r]["best"][2] for r in rows], pa.string()),
            "detail": pa.array([shard[r]["best"][3] for r in rows], pa.string()),
            "starts": pa.array([[a for a, _ in s] for s in spans], pa.list_(pa.int64())),
            "ends": pa.array([[b for _, b in s] for s in spans], pa.list_(pa.int64())),
        }))
    flagged_bench = ix.item_bench[pairs.item[pairs.flagged]]
    totals = {"hits": len(hits.key), "pairs": len(pairs.doc), "pairs_contaminated": int(pairs.flagged.sum()),
              "pairs_common_phrase": int(np.count_nonzero(~pairs.counted)),
              "pairs_below_min_coverage": int(np.count_nonzero(pairs.counted & ~pairs.flagged)),
              "ngrams_ignored_as_common": pairs.common_keys,
              "documents_contaminated": sum(len(shard) for shard in docs), "found": {}}
    for b, name in enumerate(ix.benchmarks):
        mine = flagged_bench == b
        totals["found"][name] = {"documents_contaminated": len(np.unique(pairs.doc[pairs.flagged][mine])),
                                 "items_found": len(np.unique(pairs.item[pairs.flagged][mine]))}
    return pa.table({k: pa.array(v, REPORT_TYPES[k]) for k, v in report.items()}), decisions, totals


def reduce(index_dir: Path, hit_files: list[Path], common_docs: int, min_coverage: float, out_dir: Path,
           report_name: str) -> dict:
    """Decide from all hits; write ``decide-NNNNN.parquet`` per shard and the report into
    ``out_dir``; return the totals."""
    hits, ix = Hits.load(hit_files), EvalIndex.load(index_dir)
    pairs = match(hits, ix, common_docs, min_coverage)
    report, decisions, totals = report_and_decisions(hits, ix, pairs, len(hit_files))
    for i, table in enumerate(decisions):
        write_table(table, out_dir / f"decide-{i:05d}.parquet")
    write_table(report, out_dir / report_name)
    return totals
