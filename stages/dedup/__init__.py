"""dedup: exact, MinHash-LSH and SimHash deduplication of documents, paragraphs or sentences.

One entry in a pipeline is one pass; chain several (exact document, then MinHash document, then
exact paragraph). The global work happens in ``prepare``: a map over shards computes per-item keys
(an item is a document, or one paragraph or sentence of it) into ``_state/map-*.npz``, then a
reduce groups equal keys (per band for MinHash, per block for SimHash), verifies candidates,
clusters them with union-find, picks survivors and writes one decision file per shard. ``apply``
then drops or edits the shard's rows from its decision file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal, Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep import text as T
from dataprep.config import ConfigError, option
from dataprep.corpus import Corpus, atomic_write_bytes, atomic_write_json, split_by_reason, write_table
from dataprep.stage import Stage, StageContext, StageError, Task, TaskOutput, text_chars

from . import kernel
from . import minhash as mh
from . import simhash as sh
from .cluster import UnionFind, items_of, normalize_exact, unit_spans


@dataclass
class DedupConfig:
    method: Literal["exact", "minhash", "simhash"] = option("minhash", help="exact hashes, MinHash-LSH, or SimHash.")
    level: Literal["document", "paragraph", "sentence"] = option(
        "document", help="What is deduplicated: whole documents, or repeated paragraphs/sentences across the corpus.")
    keep: Literal["first", "longest", "best"] = option(
        "first", help="Which copy of a duplicate document survives: smallest id, longest text, or highest "
                      "`quality_column` (ties: smallest id). Repeated paragraphs/sentences keep their first "
                      "occurrence in corpus order.")
    quality_column: str = option("quality", help="Column read by keep=best.")
    ngram: int = option(5, help="Shingle size in units (a CJK character or a word), see dataprep.text.shingles.")
    threshold: float = option(0.8, help="Jaccard similarity from which two items are near-duplicates (minhash).")
    num_perm: int = option(128, help="MinHash permutations.")
    bands: Optional[int] = option(None, help="LSH bands; with `rows`, overrides the choice made from `threshold`.")
    rows: Optional[int] = option(None, help="LSH rows per band.")
    hash: Literal["sha1", "xxh32", "vector"] = option(
        "sha1", help="Shingle hash: sha1 (as datasketch: bit-identical signatures), xxh32, or vector (whole "
                     "shards hashed in numpy, ~10x faster; same shingles, 64-bit hashes).")
    scheme: Literal["permutations", "one-permutation"] = option(
        "permutations", help="MinHash scheme: num_perm permutations of every shingle hash (datasketch's), or "
                             "one-permutation hashing with densification (one hash per shingle; much faster).")
    verify: Literal["exact", "estimate", "none"] = option(
        "exact", help="Check LSH candidates by exact shingle Jaccard, by signature agreement, or not at all.")
    hamming: int = option(3, help="SimHash: maximum Hamming distance between 64-bit fingerprints.")
    normalize: Literal["light", "full", "none"] = option(
        "light", help="Exact method: `light` = NFKC, casefold, whitespace collapsed; `full` also folds digits "
                      "and drops punctuation (as shingles do); `none` = raw text.")
    max_removed_share: float = option(0.5, help="Paragraph/sentence level: reject a document that would lose more "
                                                "than this share of its characters.")
    exempt: dict[str, list[str]] = option({}, help="Leave rows whose column has one of these values out of the "
                                                    "pass, e.g. {source: [code]} (a `}` line repeats in every program).")
    against: Optional[str] = option(None, help="Output folder of an earlier dedup run with the same method and "
                                               "level; documents duplicating it are dropped (it is not re-added).")
    seed: int = option(1, help="MinHash permutation seed.")

    def validate(self) -> None:
        if self.ngram < 1 or self.num_perm < 1:
            raise ConfigError("ngram and num_perm: must be >= 1")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError("threshold: must be in (0, 1]")
        if (self.bands is None) != (self.rows is None):
            raise ConfigError("bands/rows: give both or neither")
        if self.bands is not None and (self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm):
            raise ConfigError(f"bands x rows: must be positive with bands*rows <= num_perm ({self.num_perm})")
        if not 0 <= self.hamming < 64:
            raise ConfigError("hamming: must be in [0, 63]")
        if not 0.0 <= self.max_removed_share <= 1.0:
            raise ConfigError("max_removed_share: must be in [0, 1]")

    def lsh(self) -> tuple[int, int]:
        if self.bands is not None:
            return self.bands, self.rows
        return mh.lsh_params(self.threshold, self.num_perm)


# --- map: per-shard keys ------------------------------------------------------------------------


def map_shard(args: tuple[DedupConfig, str, str]) -> int:
    """Compute one shard's item keys into ``out`` (.npz); return the number of items."""
    cfg, shard, out = args
    names = pq.read_schema(shard).names
    for column in cfg.exempt:
        if column not in names:
            raise StageError(f"dedup.exempt: the corpus has no column {column!r}")
    table = pq.read_table(shard, columns=["text", *[c for c in cfg.exempt if c != "text"]])
    texts = table["text"].to_pylist()
    for column, values in cfg.exempt.items():
        if column not in table.column_names:
            raise StageError(f"dedup.exempt: the corpus has no column {column!r}")
        wanted = set(values)
        texts = [None if v in wanted else t for t, v in zip(texts, table[column].to_pylist())]
    doc, unit, item_texts = items_of(texts, cfg.level)
    arrays: dict[str, np.ndarray] = {"doc": np.asarray(doc, np.int32), "unit": np.asarray(unit, np.int32),
                                     "chars": np.fromiter(map(len, item_texts), np.int64, len(item_texts))}
    if cfg.method == "exact":
        import xxhash

        f = xxhash.xxh3_64_intdigest
        arrays["keys"] = np.fromiter((f(normalize_exact(t, cfg.normalize).encode("utf-8", "surrogatepass"))
                                      for t in item_texts), np.uint64, len(item_texts))
    elif cfg.method == "minhash":
        bands, rows = cfg.lsh()
        sigs = mh.signatures(item_texts, cfg.num_perm, cfg.seed, cfg.ngram, cfg.hash, scheme=cfg.scheme)
        arrays["keys"] = mh.band_keys(sigs, bands, rows)
        arrays["empty"] = np.all(sigs == mh.EMPTY, axis=1)
        if cfg.verify == "estimate":
            arrays["sigs"] = sigs
    else:
        arrays["keys"] = np.fromiter((sh.fingerprint(t, cfg.ngram) for t in item_texts), np.uint64, len(item_texts))
    tmp = Path(out).with_name(Path(out).stem + ".partial.npz")
    np.savez(tmp, **arrays)
    tmp.replace(out)
    return len(item_texts)


# --- reduce: candidates, clusters, decisions ----------------------------------------------------

SMALL_GROUP = 32


@dataclass
class Items:
    """All items of the corpus (and of a reference corpus, which comes first), as parallel arrays."""

    shard: np.ndarray
    doc: np.ndarray
    unit: np.ndarray
    chars: np.ndarray
    keys: np.ndarray
    reference: np.ndarray  # True for items of the --against corpus
    sigs: np.ndarray | None
    empty: np.ndarray | None


def load_items(parts: list[tuple[str, bool]]) -> Items:
    loaded = [(i, np.load(p), ref) for i, (p, ref) in enumerate(parts)]
    cat = lambda name: np.concatenate([z[name] for _, z, _ in loaded]) if loaded else np.empty(0)  # noqa: E731
    sizes = [len(z["doc"]) for _, z, _ in loaded]
    return Items(
        shard=np.repeat(np.arange(len(loaded), dtype=np.int32), sizes),
        doc=cat("doc"), unit=cat("unit"), chars=cat("chars"), keys=cat("keys"),
        reference=np.repeat(np.array([ref for _, _, ref in loaded], dtype=bool), sizes),
        sigs=cat("sigs") if loaded and "sigs" in loaded[0][1] else None,
        empty=cat("empty") if loaded and "empty" in loaded[0][1] else None,
    )


def groups_of_equal(keys: np.ndarray) -> list[np.ndarray]:
    """Index groups (size >= 2, ascending) of equal keys."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    bounds = np.concatenate([[0], np.flatnonzero(k[1:] != k[:-1]) + 1, [len(k)]])
    multi = np.flatnonzero(np.diff(bounds) > 1).tolist()
    b = bounds.tolist()
    return [order[b[i]:b[i + 1]] for i in multi]


def shard_item_texts(path: str, level: str, doc: np.ndarray, unit: np.ndarray) -> list[str]:
    """Texts of items (doc row, unit) of one shard."""
    rows = np.unique(doc).tolist()
    texts = dict(zip(rows, pq.read_table(path, columns=["text"]).take(rows)["text"].to_pylist()))
    out = []
    for d, u in zip(doc.tolist(), unit.tolist()):
        text = texts[d]
        if level != "document":
            a, b = unit_spans(text, level)[u]
            text = text[a:b]
        out.append(text)
    return out


def group_pairs(keys: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Candidate pairs among items sharing a key, encoded ``i << 32 | j`` (i < j): every pair in
    groups of up to SMALL_GROUP items (so clusters connect through any verified pair), a star and
    a chain in larger groups (linear work). ``members`` must be ascending."""
    order = np.argsort(keys, kind="stable")
    k, m = keys[order], members[order].astype(np.uint64)
    starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(k)]]))
    out = [np.empty(0, np.uint64)]
    for size in np.unique(sizes[sizes > 1]).tolist():
        first = starts[sizes == size]
        if size <= SMALL_GROUP:
            g = m[first[:, None] + np.arange(size)]
            ti, tj = np.triu_indices(size, 1)
            out.append(((g[:, ti] << np.uint64(32)) | g[:, tj]).ravel())
        else:
            for f in first.tolist():
                g = m[f:f + size]
                out.append((g[0] << np.uint64(32)) | g[1:])
                out.append((g[1:-1] << np.uint64(32)) | g[2:])
    return np.concatenate(out)


def near_duplicate_edges(cfg: DedupConfig, items: Items, shard_paths: list[str],
                         executor=None) -> list[tuple[int, int, float]]:
    """Verified (i, j, similarity) pairs for minhash/simhash."""
    if cfg.method == "minhash":
        # documents too short for any shingle cannot be near-duplicates; exact dedup catches copies
        usable = np.flatnonzero(~items.empty)
        codes = np.unique(np.concatenate([group_pairs(items.keys[usable, band], usable)
                                          for band in range(items.keys.shape[1])]))
        left, right = (codes >> np.uint64(32)).astype(np.int64), (codes & np.uint64(0xFFFFFFFF)).astype(np.int64)
    else:
        found = np.array(sh.candidate_pairs(items.keys, cfg.hamming), dtype=np.int64).reshape(-1, 2)
        left, right = found[:, 0], found[:, 1]
    new = ~(items.reference[left] & items.reference[right])  # reference pairs were settled before
    left, right = left[new], right[new]
    if cfg.method == "simhash":
        return [(i, j, 1 - sh.hamming(int(items.keys[i]), int(items.keys[j])) / 64)
                for i, j in zip(left.tolist(), right.tolist())]
    if cfg.verify == "none":
        return [(i, j, float("nan")) for i, j in zip(left.tolist(), right.tolist())]
    if cfg.verify == "estimate":
        sims = np.concatenate([np.empty(0)] + [np.mean(items.sigs[left[c:c + 65536]] == items.sigs[right[c:c + 65536]],
                                                       axis=1) for c in range(0, len(left), 65536)])
    else:
        chunks = _verification_chunks(left, right, len(items.doc), getattr(executor, "workers", 1) or 1)
        jobs = []
        for chunk in chunks:  # each chunk: whole connected groups of candidates, so no item is read twice
            local = np.unique(np.concatenate([left[chunk], right[chunk]]))
            sub = SimpleNamespace(shard=items.shard[local], doc=items.doc[local], unit=items.unit[local])
            pairs = np.stack([np.searchsorted(local, left[chunk]), np.searchsorted(local, right[chunk])], axis=1)
            jobs.append((shard_paths, cfg.level, cfg.ngram, sub, pairs))
        results = executor.map(verify_pairs, jobs) if executor is not None else [verify_pairs(j) for j in jobs]
        sims = np.empty(len(left))
        for chunk, res in zip(chunks, results):
            sims[chunk] = res
    keep = sims >= cfg.threshold
    return list(zip(left[keep].tolist(), right[keep].tolist(), sims[keep].tolist()))


def _verification_chunks(left: np.ndarray, right: np.ndarray, n_items: int, workers: int) -> list[np.ndarray]:
    """Split candidate pairs (positions into left/right, ascending) into one chunk per worker,
    each made of whole connected groups."""
    n_chunks = max(1, min(workers, len(left) // 500))
    if n_chunks == 1:
        return [np.arange(len(left))] if len(left) else []
    uf = UnionFind(n_items)
    for i, j in zip(left.tolist(), right.tolist()):
        uf.union(i, j)
    groups: dict[int, list[int]] = {}
    for p, i in enumerate(left.tolist()):
        groups.setdefault(uf.find(i), []).append(p)
    chunks: list[list[int]] = [[] for _ in range(n_chunks)]
    for g in sorted(groups.values(), key=len, reverse=True):  # largest first, into the emptiest chunk
        min(chunks, key=len).extend(g)
    return [np.array(sorted(c), dtype=np.int64) for c in chunks if c]


def verify_pairs(args: tuple) -> np.ndarray:
    """Exact shingle Jaccard of candidate pairs (a worker task); items located by (shard, doc, unit).
    Shingles are compared as sets of their 64-bit hashes: 8 bytes per shingle of every candidate
    are held, texts only one shard at a time."""
    paths, level, ngram, sub, pairs = args
    order = np.argsort(sub.shard, kind="stable")  # items in the order they are hashed
    parts, counts = [], []
    for s in np.unique(sub.shard).tolist():
        idx = order[sub.shard[order] == s]
        texts = shard_item_texts(paths[s], level, sub.doc[idx], sub.unit[idx])
        for c in range(0, len(texts), mh.SIGNATURE_BATCH):
            h, n = kernel.shingle_hashes(texts[c:c + mh.SIGNATURE_BATCH], ngram, "vector")
            parts.append(h)
            counts.append(n)
        del texts
    if not parts:
        return np.empty(0)
    where = np.empty(len(order), np.int64)
    where[order] = np.arange(len(order))
    return np.asarray(kernel.pair_jaccard(parts, np.concatenate(counts), where[np.asarray(pairs)]))


def cluster(cfg: DedupConfig, items: Items, shard_paths: list[str],
            executor=None) -> tuple[UnionFind, dict[int, float]]:
    uf = UnionFind(len(items.doc))
    sim: dict[int, float] = {}
    if cfg.method == "exact":
        for g in groups_of_equal(items.keys):
            g = g.tolist()
            for j in g[1:]:
                uf.union(g[0], j)
            sim[g[0]] = 1.0
    else:
        for i, j, s in near_duplicate_edges(cfg, items, shard_paths, executor):
            uf.union(i, j)
            root = uf.find(i)
            sim[root] = min(sim.get(root, 1.0), s) if s == s else float("nan")
    return uf, sim


def survivor(members: list[int], policy: str, ids: list[str], chars: np.ndarray, quality: list | None,
             reference: np.ndarray) -> int:
    refs = [m for m in members if reference[m]]
    if refs:
        return min(refs)
    if policy == "longest":
        return min(members, key=lambda m: (-int(chars[m]), ids[m]))
    if policy == "best":
        return min(members, key=lambda m: (-(quality[m] if quality[m] is not None else float("-inf")), ids[m]))
    return min(members, key=lambda m: ids[m])


class DedupStage(Stage):
    """Remove exact and near-duplicate documents, or repeated paragraphs and sentences.

    `method: exact | minhash | simhash` with `level: document | paragraph | sentence`; chain several
    entries in the YAML. Dropped documents go to _rejected/ with reason `dedup:METHOD:LEVEL` and
    `dup_of` (the id kept); kept documents carry `dup_cluster` and `dup_count`; clusters.parquet lists
    every cluster with its members, the id kept and its similarity. Repeated paragraphs/sentences are
    cut from the text (listed in _edits/); a document losing more than max_removed_share is rejected.

    \b
    Examples:
      dataprep dedup -i work/clean -o work/exact --method exact
      dataprep dedup -i work/exact -o work/near --method minhash --threshold 0.8 --keep longest
      dataprep dedup -i work/near -o work/para --method exact --level paragraph
      dataprep dedup -i work/new_crawl -o work/fresh --method minhash --against work/last_month_near
    """

    name = "dedup"
    Config = DedupConfig

    def _label(self) -> str:
        return f"dedup:{self.config.method}:{self.config.level}"

    def prepare(self, ctx: StageContext) -> dict:
        cfg = self.config
        src = ctx.source
        shard_paths = [str(p) for p in src.shard_paths]
        maps = [str(ctx.state_dir / f"map-{i:05d}.npz") for i in range(len(shard_paths))]
        todo = [(cfg, s, m) for s, m in zip(shard_paths, maps) if not Path(m).exists()]
        ctx.executor.map(map_shard, todo)

        ref_parts, ref_shards = self._reference(ctx)
        items = load_items([(p, True) for p in ref_parts] + [(m, False) for m in maps])
        all_shards = ref_shards + shard_paths
        uf, sims = cluster(cfg, items, all_shards, ctx.executor)

        ids_by_shard = [pq.read_table(p, columns=["id"])["id"].to_pylist() for p in all_shards]
        ids = [ids_by_shard[s][d] for s, d in zip(items.shard.tolist(), items.doc.tolist())]
        quality = None
        if cfg.keep == "best" and cfg.level == "document":
            if cfg.quality_column not in [c["name"] for c in src.manifest.get("schema", [])]:
                raise StageError(f"dedup.keep=best: the corpus has no {cfg.quality_column!r} column")
            q_by_shard = [pq.read_table(p, columns=[cfg.quality_column])[cfg.quality_column].to_pylist()
                          if i >= len(ref_shards) else [None] * len(ids_by_shard[i]) for i, p in enumerate(all_shards)]
            quality = [q_by_shard[s][d] for s, d in zip(items.shard.tolist(), items.doc.tolist())]

        members_of: dict[int, list[int]] = {}
        for i in uf.joined():
            members_of.setdefault(uf.find(i), []).append(i)
        decisions: list[dict] = [dict() for _ in shard_paths]
        cluster_rows = {"cluster": [], "members": [], "kept": [], "size": [], "similarity": []}
        first_shard = len(ref_shards)
        for root, members in sorted(members_of.items(), key=lambda kv: min(kv[1])):
            if cfg.level == "document":
                keep = survivor(members, cfg.keep, ids, items.chars, quality, items.reference)
            else:
                keep = min(members)  # corpus order: reference first, then shard, document, unit
            label = ids[keep] if cfg.level == "document" else f"{ids[keep]}#{int(items.unit[keep])}"
            cluster_rows["cluster"].append(label)
            cluster_rows["members"].append([ids[m] if cfg.level == "document" else f"{ids[m]}#{int(items.unit[m])}"
                                            for m in members])
            cluster_rows["kept"].append(ids[keep])
            cluster_rows["size"].append(len(members))
            cluster_rows["similarity"].append(sims.get(root, float("nan")))
            for m in members:
                if items.reference[m]:
                    continue
                d = decisions[int(items.shard[m]) - first_shard].setdefault(int(items.doc[m]), {
                    "cluster": label, "count": len(members), "dup_of": None, "units": []})
                if m != keep:
                    if cfg.level == "document":
                        d["dup_of"] = ids[keep]
                    else:
                        d["units"].append(int(items.unit[m]))
                        d["dup_of"] = d["dup_of"] or ids[keep]
        for i, dec in enumerate(decisions):
            rows = sorted(dec)
            write_table(pa.table({
                "row": pa.array(rows, pa.int32()),
                "cluster": pa.array([dec[r]["cluster"] for r in rows], pa.string()),
                "count": pa.array([dec[r]["count"] for r in rows], pa.int32()),
                "dup_of": pa.array([dec[r]["dup_of"] for r in rows], pa.string()),
                "units": pa.array([sorted(dec[r]["units"]) for r in rows], pa.list_(pa.int32())),
            }), ctx.state_dir / f"decide-{i:05d}.parquet")
        write_table(pa.table({"cluster": pa.array(cluster_rows["cluster"], pa.string()),
                              "members": pa.array(cluster_rows["members"], pa.list_(pa.string())),
                              "kept": pa.array(cluster_rows["kept"], pa.string()),
                              "size": pa.array(cluster_rows["size"], pa.int32()),
                              "similarity": pa.array(cluster_rows["similarity"], pa.float32())}),
                    ctx.state_dir / "clusters.parquet")
        bands, rows = cfg.lsh() if cfg.method == "minhash" else (0, 0)
        index_bytes = int(items.keys.nbytes + (items.sigs.nbytes if items.sigs is not None else 0))
        atomic_write_json(ctx.state_dir / "summary.json", {
            "clusters": len(cluster_rows["cluster"]), "items": int(len(items.doc)), "bands": bands, "rows": rows,
            "index_bytes": index_bytes, "index_bytes_per_item": round(index_bytes / max(len(items.doc), 1), 1)})
        return {"dir": str(ctx.state_dir), "shards": {Path(p).name: i for i, p in enumerate(shard_paths)}}

    def _reference(self, ctx: StageContext) -> tuple[list[str], list[str]]:
        """Map files and shards of the --against corpus (keys computed the same way)."""
        if not self.config.against:
            return [], []
        ref = Path(self.config.against)
        try:
            manifest = json.loads((ref / "manifest.json").read_text())
        except (OSError, json.JSONDecodeError):
            raise StageError(f"dedup.against: {ref} is not a finished dedup output (no readable manifest.json)") from None
        theirs = manifest.get("config", {})
        mine = {k: v for k, v in vars(self.config).items() if k not in ("against", "keep", "quality_column", "exempt")}
        diff = [k for k, v in mine.items() if theirs.get(k) != v]
        if manifest.get("stage") != "dedup" or diff:
            raise StageError(f"dedup.against: {ref} was not made by dedup with the same settings (differs in: "
                             f"{', '.join(diff) or 'stage'})")
        # The reference's index covers its input; its kept documents are its output shards.
        kept = Corpus(ref, manifest)
        parts = []
        for i, shard in enumerate(kept.shard_paths):
            part = ctx.state_dir / f"ref-{i:05d}.npz"
            if not part.exists():
                map_shard((self.config, str(shard), str(part)))
            parts.append(str(part))
        return parts, [str(p) for p in kept.shard_paths]

    def run_task(self, task: Task, state: dict, out: TaskOutput) -> None:
        cfg = self.config
        table = pq.read_table(task.inputs[0])
        out.rows_in += table.num_rows
        out.chars_in += text_chars(table)
        index = state["shards"][Path(task.inputs[0]).name]
        dec = pq.read_table(Path(state["dir"]) / f"decide-{index:05d}.parquet").to_pylist()
        by_row = {d["row"]: d for d in dec}
        n = table.num_rows
        reasons: list[str | None] = [None] * n
        dup_of: list[str | None] = [None] * n
        cluster = [by_row[r]["cluster"] if r in by_row else None for r in range(n)]
        count = [by_row[r]["count"] if r in by_row else 1 for r in range(n)]
        if cfg.level == "document":
            for r, d in by_row.items():
                if d["dup_of"] is not None:
                    reasons[r], dup_of[r] = self._label(), d["dup_of"]
        else:
            table = self._cut_units(table, by_row, reasons, dup_of, out)
        for name, col in (("dup_cluster", pa.array(cluster, pa.string())), ("dup_count", pa.array(count, pa.int32()))):
            if name in table.column_names:
                table = table.drop_columns([name])
            table = table.append_column(name, col)
        kept, rejected = split_by_reason(table, reasons, self.name, extra={"dup_of": dup_of})
        out.write_kept(kept)
        out.write_rejected(rejected)

    def _cut_units(self, table: pa.Table, by_row: dict, reasons: list, dup_of: list, out: TaskOutput) -> pa.Table:
        texts = table["text"].to_pylist()
        ids = table["id"].to_pylist()
        edits = {"id": [], "units_removed": [], "chars_before": [], "chars_after": []}
        for r, d in by_row.items():
            if not d["units"]:
                continue
            text = texts[r]
            new = cut_spans(text, [unit_spans(text, self.config.level)[u] for u in d["units"]]).strip()
            removed_share = 1 - len(new.strip()) / max(len(text.strip()), 1)
            if not new.strip() or removed_share > self.config.max_removed_share:
                reasons[r], dup_of[r] = self._label(), d["dup_of"]
                out.count("docs_mostly_duplicate")
                continue
            texts[r] = new
            edits["id"].append(ids[r])
            edits["units_removed"].append(len(d["units"]))
            edits["chars_before"].append(len(text))
            edits["chars_after"].append(len(new))
            out.count(f"{self.config.level}s_removed", len(d["units"]))
        out.count("docs_edited", len(edits["id"]))
        out.write_edits(pa.table({"id": pa.array(edits["id"], pa.string()),
                                  "units_removed": pa.array(edits["units_removed"], pa.int32()),
                                  "chars_before": pa.array(edits["chars_before"], pa.int64()),
                                  "chars_after": pa.array(edits["chars_after"], pa.int64())}))
        idx = table.column_names.index("text")
        return table.set_column(idx, table.schema.field(idx), pa.array(texts, table.schema.field(idx).type))

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        atomic_write_bytes(ctx.out_dir / "clusters.parquet", (ctx.state_dir / "clusters.parquet").read_bytes())
        manifest["files"].append({"file": "clusters.parquet"})
        manifest["dedup"] = json.loads((ctx.state_dir / "summary.json").read_text())


def cut_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """Remove each [a, b) span and the whitespace right after it."""
    pieces, pos = [], 0
    for a, b in sorted(spans):
        if a < pos:
            continue
        pieces.append(text[pos:a])
        while b < len(text) and text[b].isspace():
            b += 1
        pos = b
    pieces.append(text[pos:])
    return "".join(pieces)
