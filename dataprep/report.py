"""The run report: ``WORKDIR/report.html`` (self-contained: inline SVG plots, no scripts, no
network) and a short ``WORKDIR/report.md``, written by ``dataprep report`` and at the end of
``dataprep run``.

Every number comes from the stages' manifests (and the files they list: ``_rejected/`` and
``_edits/`` shards for samples, ``clusters.parquet`` for dedup); nothing is recounted from the
data. The report reads a whole workdir, a partial one (a pipeline config names the stages not yet
run) or a single stage's output folder.

``collect`` finds the stages, ``build`` turns their manifests into sections (plain dicts), and
``report_html`` / ``to_markdown`` render them; plots (matplotlib) live in ``report_plots``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dataprep.corpus import EDITS, MANIFEST, atomic_write_bytes
from dataprep.runner import STAGE_FILE  # written when a stage starts, before its manifest

INSTALL_HINT = "pip install 'dataprep[report]'"
STAGE_DIR = re.compile(r"^\d+-[\w.-]+$")
# manifest keys every stage has; any other key is a stage's own block, shown as it is
ENGINE_KEYS = {"format", "created_by", "stage", "stage_index", "config", "config_hash", "fingerprint", "input",
               "rows", "rows_in", "rows_added", "rows_kept", "rows_rejected", "reasons", "counters", "chars_in",
               "chars_out", "schema", "shards", "rejected_shards", "files", "tasks", "tasks_run", "tasks_skipped",
               "wall_time_s"}
SAMPLE_COLUMNS = ["id", "origin", "reason", "detail", "dup_of", "eval_item", "lang", "quality", "text", "raw"]
SNIPPET_CHARS = 700
CUT_SAMPLES = 5
TOP_CLUSTERS = 5
CLUSTER_MEMBERS = 8
EDIT_SCAN_ROWS = 200_000  # _edits/ rows read at most for cut samples (a rare cut rule may show none)
MD_SHARDS = 20  # report.md lists this many shards (the HTML all)
KEPT_SCAN_SHARDS = 200  # shards read at most to find the kept document of a large cluster


class ReportError(RuntimeError):
    """A report that cannot be made (no matplotlib, nothing to report on)."""


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ReportError(f"the report needs matplotlib; install it with: {INSTALL_HINT}") from None


# --- what there is to report on ----------------------------------------------------------------


@dataclass
class StageInfo:
    folder: str                 # "09-quality"
    name: str                   # the stage's name
    path: Path
    status: str                 # done | outdated | unfinished | not run
    manifest: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in ("done", "outdated")

    def get(self, key: str, default: Any = None) -> Any:
        return self.manifest.get(key, default)


@dataclass
class Run:
    root: Path
    stages: list[StageInfo]
    single: bool                # a single stage's output folder, not a workdir

    @property
    def done(self) -> list[StageInfo]:
        return [s for s in self.stages if s.done]

    def last(self, name: str) -> StageInfo | None:
        return next((s for s in reversed(self.done) if s.name == name), None)


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as e:
        raise ReportError(f"{folder / MANIFEST}: unreadable manifest ({e})") from None


def _stage_name(folder: str) -> str:
    return folder.split("-", 1)[1] if "-" in folder else folder


def collect(path: str | Path, planned: list[tuple[str, str, str]] | None = None) -> Run:
    """The stages of a workdir (or the one stage of a corpus folder). ``planned``: the pipeline's
    stages as (folder, stage name, config hash), so stages not yet run are listed too and a
    finished stage whose config has changed since is marked ``outdated``."""
    root = Path(path)
    if not root.is_dir():
        raise ReportError(f"{root}: not a folder")
    own = _read_manifest(root)
    if own is not None:
        name = own.get("stage") or _stage_name(root.name)
        return Run(root, [StageInfo(root.name, name, root, "done", own)], single=True)
    found = {p.name: p for p in root.iterdir() if p.is_dir() and STAGE_DIR.match(p.name)
             and ((p / MANIFEST).exists() or (p / STAGE_FILE).exists())}
    stages = []
    if planned is not None:
        for folder, name, chash in planned:
            stages.append(_stage_info(root / folder, name, chash) if folder in found
                          else StageInfo(folder, name, root / folder, "not run"))
    else:
        stages = [_stage_info(found[f], _stage_name(f), None) for f in sorted(found)]
    if not stages:
        raise ReportError(f"{root}: neither a corpus folder nor a workdir with stages")
    return Run(root, stages, single=False)


def _stage_info(folder: Path, name: str, chash: str | None) -> StageInfo:
    m = _read_manifest(folder)
    if m is None:
        return StageInfo(folder.name, name, folder, "unfinished")
    status = "outdated" if chash is not None and m.get("config_hash") not in (None, chash) else "done"
    return StageInfo(folder.name, m.get("stage") or name, folder, status, m)


def plan_of(stages: list) -> list[tuple[str, str, str]]:
    """A pipeline's stages as ``collect`` takes them: (folder, stage name, config hash)."""
    from dataprep.config import config_hash, to_dict

    return [(f"{i:02d}-{s.name}", s.name, config_hash(to_dict(s.config))) for i, s in enumerate(stages, start=1)]


# --- reading the files a manifest lists (bounded: samples stop once they have enough) -------------


def _listed(stage: StageInfo, key: str, prefix: str = "") -> list[Path]:
    return [stage.path / r["file"] for r in stage.get(key, []) or []
            if isinstance(r, dict) and str(r.get("file", "")).startswith(prefix)]


def _iter_rows(paths: list[Path], wanted: list[str], batch: int = 512):
    import pyarrow.parquet as pq

    for p in paths:
        try:
            f = pq.ParquetFile(p)
        except Exception:  # noqa: BLE001 - a missing or damaged file is left out of the samples
            continue
        with f:
            names = set(f.schema_arrow.names)
            cols = [c for c in wanted if c in names]
            if not cols:
                continue
            for rb in f.iter_batches(batch_size=batch, columns=cols):
                yield from rb.to_pylist()


def _snippet(text: Any, limit: int = SNIPPET_CHARS) -> str:
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f" … [{len(text):,} characters in all]"


def rejected_samples(stage: StageInfo, k: int) -> dict[str, list[dict]]:
    """Up to ``k`` rejected documents per reason, in shard order. Each shard's ``reason`` column
    is read first, and its other columns only when it holds a reason that still needs samples, so
    a rare reason costs a scan of one column, not of every rejected text."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    reasons = stage.get("reasons", {}) or {}
    out: dict[str, list[dict]] = {r: [] for r in reasons}
    need = set(reasons) if k > 0 else set()
    for path in _listed(stage, "rejected_shards"):
        if not need:
            break
        try:
            with pq.ParquetFile(path) as f:
                names = f.schema_arrow.names
                if "reason" not in names:
                    continue
                col = f.read(columns=["reason"])["reason"]
                mask = pc.is_in(col, value_set=pa.array(sorted(need), type=col.type))
                if not pc.any(mask).as_py():
                    continue
                rows = f.read(columns=[c for c in SAMPLE_COLUMNS if c in names]).filter(mask).to_pylist()
        except Exception:  # noqa: BLE001 - a missing or damaged shard is left out of the samples
            continue
        for row in rows:
            reason = row.get("reason")
            if reason not in need:
                continue
            text = row.get("text") if row.get("text") is not None else row.get("raw")
            sample = {key: row[key] for key in ("id", "origin", "detail", "dup_of", "eval_item", "lang", "quality")
                      if row.get(key) is not None}
            sample["chars"] = len(text or "")
            sample["text"] = _snippet(text)
            out[reason].append(sample)
            if len(out[reason]) >= k:
                need.discard(reason)
    return out


def edit_samples(stage: StageInfo, k: int = CUT_SAMPLES) -> dict | None:
    """What a stage recorded in ``_edits/``: cut text per reason when the rows carry it (quality's
    cut lines), else the first rows without their text columns."""
    paths = _listed(stage, "files", EDITS + "/")
    if not paths:
        return None
    import pyarrow.parquet as pq

    try:
        columns = pq.read_schema(paths[0]).names
    except Exception:  # noqa: BLE001
        return None
    rows_total = sum(int(r.get("rows", 0)) for r in stage.get("files", [])
                     if str(r.get("file", "")).startswith(EDITS + "/"))
    if "reason" in columns and "text" in columns:
        by_reason: dict[str, list[dict]] = {}
        for n, row in enumerate(_iter_rows(paths, ["id", "unit", "reason", "text"])):
            if n >= EDIT_SCAN_ROWS:
                break
            bucket = by_reason.setdefault(str(row.get("reason")), [])
            if len(bucket) < k:
                bucket.append({"id": row.get("id"), "unit": row.get("unit"), "text": _snippet(row.get("text"), 300)})
        return {"rows": rows_total, "cuts": dict(sorted(by_reason.items()))}
    shown = [c for c in columns if c not in ("text", "raw")]
    rows = []
    for row in _iter_rows(paths, shown):
        rows.append([_cell(row.get(c)) for c in shown])
        if len(rows) >= k:
            break
    return {"rows": rows_total, "columns": shown, "sample": rows}


def _cell(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, default=str)
    return "" if v is None else str(v)


def dedup_clusters(stage: StageInfo) -> dict | None:
    """Cluster-size histogram and the largest clusters of a dedup stage (``clusters.parquet``),
    with a sample of their members' text (removed members from ``_rejected/``, the kept one from
    the output shards)."""
    path = stage.path / "clusters.parquet"
    if not path.exists():
        return None
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as f:
        table = f.read(columns=[c for c in ("cluster", "size") if c in f.schema_arrow.names])
        if "size" not in table.column_names or table.num_rows == 0:
            return {"clusters": table.num_rows, "sizes": {}, "largest": []}
        sizes = np.asarray(table["size"].to_numpy(zero_copy_only=False), dtype=np.int64)
        values, counts = np.unique(sizes, return_counts=True)
        hist = {int(v): int(c) for v, c in zip(values, counts)}
        keys = [("size", "descending")] + ([("cluster", "ascending")] if "cluster" in table.column_names else [])
        top = pc.sort_indices(table, sort_keys=keys)[:TOP_CLUSTERS].to_pylist()
        full = _rows_at(f, top)
    largest = []
    doc_level = (stage.get("config", {}) or {}).get("level", "document") == "document"
    for c in full:
        members = [str(m) for m in (c.get("members") or [])]
        largest.append({"cluster": c.get("cluster"), "size": c.get("size"), "kept": c.get("kept"),
                        "similarity": c.get("similarity"), "members": members[:CLUSTER_MEMBERS],
                        "texts": []})
    if doc_level and largest:
        _cluster_texts(stage, largest)
    return {"clusters": int(len(sizes)), "sizes": hist, "largest": largest}


def _rows_at(f: Any, rows: list[int]) -> list[dict]:
    """Rows of a Parquet file by index, reading only the row groups that hold them."""
    starts, start = [], 0
    for g in range(f.metadata.num_row_groups):
        starts.append(start)
        start += f.metadata.row_group(g).num_rows
    out = []
    for r in rows:
        g = max(i for i, s in enumerate(starts) if s <= r)
        out.append(f.read_row_group(g).slice(r - starts[g], 1).to_pylist()[0])
    return out


def _cluster_texts(stage: StageInfo, largest: list[dict]) -> None:
    shown = {id(c): ([c["kept"]] if c["kept"] else []) + [m for m in c["members"] if m != c["kept"]][:2]
             for c in largest}
    wanted = {m for ids in shown.values() for m in ids}
    found = {m: ("removed", t) for m, t in _texts_of(_listed(stage, "rejected_shards"), wanted).items()}
    if wanted - set(found):
        found.update({m: ("kept", t) for m, t in
                      _texts_of(_listed(stage, "shards")[:KEPT_SCAN_SHARDS], wanted - set(found)).items()})
    for c in largest:
        c["texts"] = [{"id": m, "role": found[m][0], "text": _snippet(found[m][1], 400)}
                      for m in shown[id(c)] if m in found]


def _texts_of(paths: list[Path], ids: set[str]) -> dict[str, str]:
    """The text of the documents with these ids: each shard's ``id`` column first, its text only
    when it holds one of them."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out: dict[str, str] = {}
    for path in paths:
        left = ids - set(out)
        if not left:
            break
        try:
            with pq.ParquetFile(path) as f:
                col = f.read(columns=["id"])["id"]
                mask = pc.is_in(col, value_set=pa.array(sorted(left), type=col.type))
                if pc.any(mask).as_py():
                    for row in f.read(columns=["id", "text"]).filter(mask).to_pylist():
                        out[row["id"]] = row.get("text") or ""
        except Exception:  # noqa: BLE001 - a shard that cannot be read gives no samples
            continue
    return out


# --- sections -----------------------------------------------------------------------------------


def _num(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else 0.0


def funnel(run: Run) -> dict:
    """Documents, characters and tokens after each stage. Tokens are the manifests' where a stage
    counts them (rebalance estimates them; tokenize counts them); elsewhere they are estimated at
    the characters per token measured at the end of the pipeline, and marked so."""
    cpt, cpt_from = _chars_per_token(run)
    rows = []
    for s in run.stages:
        row: dict[str, Any] = {"folder": s.folder, "stage": s.name, "status": s.status}
        if s.done:
            m = s.manifest
            counts_chars = not (m.get("rows_in", 0) and not m.get("chars_in") and not m.get("chars_out"))
            writes_text = "tokenize" not in m  # tokenize reads text and writes token ids
            row.update({
                "docs_in": m.get("rows_in"), "docs_out": m.get("rows_kept", m.get("rows")),
                "rejected": m.get("rows_rejected", 0), "added": m.get("rows_added", 0),
                "chars_in": m.get("chars_in") if counts_chars else None,
                "chars_out": m.get("chars_out") if counts_chars and writes_text else None,
                "wall_time_s": m.get("wall_time_s"),
            })
            tokens, kind = _stage_tokens(s)
            if tokens is None and cpt and row["chars_out"] is not None:
                tokens, kind = int(round(row["chars_out"] / cpt)), "derived"
            row["tokens_out"], row["tokens_kind"] = tokens, kind
        rows.append(row)
    return {"rows": rows, "chars_per_token": cpt, "chars_per_token_from": cpt_from}


def _stage_tokens(s: StageInfo) -> tuple[int | None, str | None]:
    tok = s.get("tokenize")
    if isinstance(tok, dict) and isinstance(tok.get("tokens"), int):
        return tok["tokens"], "counted"
    reb = s.get("rebalance")
    if isinstance(reb, dict) and isinstance(reb.get("tokens_out"), int):
        method = str((reb.get("token_count") or {}).get("method", ""))
        counted = method.startswith("tokenizer") and "estimated" not in method
        return reb["tokens_out"], "counted" if counted else "estimated"
    return None, None


def _chars_per_token(run: Run) -> tuple[float | None, str | None]:
    """Characters per token measured by tokenize on its input, else rebalance's estimate."""
    done = run.done
    for i, s in enumerate(done):
        tok = s.get("tokenize")
        if isinstance(tok, dict) and tok.get("tokens") and i > 0:
            chars = done[i - 1].get("chars_out")
            if chars:
                return chars / tok["tokens"], f"{s.folder}, on {done[i - 1].folder}'s text"
    for s in done:
        reb = s.get("rebalance")
        tc = (reb or {}).get("token_count") or {}
        if tc.get("tokens") and s.get("chars_in"):
            return s.get("chars_in") / tc["tokens"], f"{s.folder} ({tc.get('method', 'estimate')})"
    return None, None


def reasons(run: Run) -> list[dict]:
    out = []
    for s in run.done:
        rows_in = s.get("rows_in", 0) or 0
        for reason, n in sorted((s.get("reasons") or {}).items(), key=lambda kv: (-kv[1], kv[0])):
            out.append({"folder": s.folder, "reason": reason, "docs": n,
                        "share": n / rows_in if rows_in else 0.0})
    return out


def mix(run: Run) -> dict | None:
    """Buckets before and after rebalancing against their targets, by bucket, language and domain."""
    s = run.last("rebalance")
    reb = s.get("rebalance") if s else None
    if not isinstance(reb, dict) or not reb.get("buckets"):
        return None
    buckets = []
    total_before = sum(_num(b.get("tokens_available")) for b in reb["buckets"]) or 1.0
    for b in reb["buckets"]:
        label = str(b.get("bucket"))
        if b.get("source") not in (None, "main"):
            label = f"{b['source']}:{label}" if label != b["source"] else label
        buckets.append({"bucket": label, "source": b.get("source"), "docs": b.get("docs"),
                        "docs_kept": b.get("docs_kept"), "tokens_before": b.get("tokens_available"),
                        "share_before": _num(b.get("tokens_available")) / total_before,
                        "target": b.get("target_share"), "after": b.get("achieved_share"),
                        "tokens_after": b.get("tokens_out"), "target_tokens": b.get("target_tokens"),
                        "epochs": b.get("epochs")})
    by = str((s.get("config") or {}).get("by", ""))
    groups = {}
    if by == "lang+domain":
        for axis, part in (("language", 0), ("domain", 1)):
            agg: dict[str, dict[str, float]] = {}
            for b, raw in zip(buckets, reb["buckets"]):
                if raw.get("source") not in (None, "main") or "/" not in str(raw.get("bucket")):
                    key = b["bucket"]
                else:
                    key = str(raw["bucket"]).split("/")[part]
                a = agg.setdefault(key, {"before": 0.0, "target": 0.0, "after": 0.0})
                a["before"] += b["share_before"]
                a["target"] += _num(b["target"])
                a["after"] += _num(b["after"])
            groups[axis] = agg
    return {"folder": s.folder, "by": by, "buckets": buckets, "groups": groups,
            "tokens_before": int(total_before) if reb["buckets"] else 0, "tokens_out": reb.get("tokens_out"),
            "rows_out": reb.get("rows_out"), "mode": reb.get("mode"), "limited_by": reb.get("limited_by"),
            "method": (reb.get("token_count") or {}).get("method"), "notes": list(reb.get("notes") or []),
            "infeasible": list(reb.get("infeasible") or [])}


def domains(run: Run) -> dict | None:
    s = run.last("domain")
    d = s.get("domain") if s else None
    if not isinstance(d, dict) or not d.get("docs"):
        return None
    return {"folder": s.folder, "docs": d.get("docs", {}), "chars": d.get("chars", {}), "by": d.get("by", {})}


def quality(run: Run) -> list[dict]:
    out = []
    for s in run.done:
        q = s.get("quality")
        if not isinstance(q, dict) or not isinstance(q.get("histogram"), dict):
            continue
        cfg = s.get("config") or {}
        out.append({"folder": s.folder, "preset": q.get("preset"), "bins": q.get("histogram_bins") or
                    [round(i / 10, 2) for i in range(11)], "histogram": q["histogram"],
                    "min_quality": cfg.get("min_quality", 0) or 0, "thresholds": cfg.get("thresholds") or {},
                    "languages": cfg.get("languages") or {}, "cuts": q.get("cuts") or {},
                    "violations": {k: v for k, v in (q.get("violations") or {}).items() if v}})
    return out


def dedup(run: Run, tick: Callable[[], None]) -> list[dict]:
    out = []
    for s in run.done:
        if not (s.path / "clusters.parquet").exists():
            continue
        info = dedup_clusters(s)
        tick()
        if info is None:
            continue
        cfg = s.get("config") or {}
        info.update({"folder": s.folder, "method": cfg.get("method"), "level": cfg.get("level"),
                     "summary": s.get("dedup") or {}})
        out.append(info)
    return out


def tokens(run: Run) -> dict | None:
    s = run.last("tokenize")
    if s is None:
        return None
    tok = s.get("tokenize")
    if not isinstance(tok, dict):
        try:
            tok = json.loads((s.path / "tokenize.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None
    return {"folder": s.folder, **tok}


def times(run: Run) -> dict:
    rows = []
    for s in run.done:
        wall = s.get("wall_time_s")
        m = s.manifest
        row = {"folder": s.folder, "wall_time_s": wall, "docs_in": m.get("rows_in"),
               "tasks": m.get("tasks"), "tasks_run": m.get("tasks_run")}
        if isinstance(wall, (int, float)) and wall > 0:
            row["docs_per_s"] = _num(m.get("rows_in")) / wall
            if m.get("chars_in"):
                row["chars_per_s"] = _num(m.get("chars_in")) / wall
            tok = m.get("tokenize")
            if isinstance(tok, dict) and tok.get("tokens"):
                row["tokens_per_s"] = _num(tok["tokens"]) / wall
        rows.append(row)
    walls = [r["wall_time_s"] for r in rows if isinstance(r["wall_time_s"], (int, float))]
    return {"rows": rows, "total_s": round(sum(walls), 3)}


def stage_blocks(s: StageInfo) -> dict:
    """A stage's own manifest blocks (everything that is not an engine key) and its counters."""
    return {k: v for k, v in s.manifest.items() if k not in ENGINE_KEYS}


def identity(run: Run) -> dict:
    done = run.done
    last = done[-1] if done else None
    tok = tokens(run)
    t = (tok or {}).get("tokenizer") or {}
    versions = sorted({s.get("created_by") for s in done if s.get("created_by")})
    return {"root": str(run.root), "single": run.single, "stages": len(run.stages), "done": len(done),
            "final": last.folder if last else None, "fingerprint": last.get("fingerprint") if last else None,
            "tokenizer": t, "created_by": versions}


def build_steps(run: Run) -> int:
    """How many steps ``build`` reports to its progress callback."""
    done = run.done
    return 9 + 2 * len(done) + sum((s.path / "clusters.parquet").exists() for s in done)


def build(run: Run, samples: int = 3, tick: Callable[[], None] = lambda: None) -> dict:
    """Every section of the report, as plain data; a section that fails to build becomes a note
    (a report of a damaged or unusual run still shows what it can)."""
    model: dict[str, Any] = {"errors": {}}

    def section(name: str, fn: Callable[[], Any]) -> None:
        try:
            model[name] = fn()
        except Exception as e:  # noqa: BLE001 - one broken section must not cost the whole report
            model[name] = None
            model["errors"][name] = f"{type(e).__name__}: {e}"
        tick()

    for name, fn in (("identity", lambda: identity(run)), ("funnel", lambda: funnel(run)),
                     ("reasons", lambda: reasons(run)), ("mix", lambda: mix(run)),
                     ("domains", lambda: domains(run)), ("quality", lambda: quality(run)),
                     ("tokens", lambda: tokens(run)), ("times", lambda: times(run)),
                     ("dedup", lambda: dedup(run, tick))):
        section(name, fn)
    per_stage = []
    for s in run.done:
        entry = {"folder": s.folder, "stage": s.name, "status": s.status, "config": s.get("config") or {},
                 "config_hash": s.get("config_hash"), "fingerprint": s.get("fingerprint"),
                 "input": (s.get("input") or {}).get("path"), "counters": s.get("counters") or {},
                 "blocks": stage_blocks(s), "reasons": s.get("reasons") or {}}
        for key, fn in (("rejected", lambda: rejected_samples(s, samples)), ("edits", lambda: edit_samples(s))):
            try:
                entry[key] = fn()
            except Exception as e:  # noqa: BLE001
                entry[key] = None
                model["errors"][f"{s.folder} {key}"] = f"{type(e).__name__}: {e}"
            tick()
        per_stage.append(entry)
    model["stages"] = per_stage
    model["not_done"] = [{"folder": s.folder, "stage": s.name, "status": s.status} for s in run.stages if not s.done]
    return model


# --- markdown -----------------------------------------------------------------------------------


def fmt_int(x: Any) -> str:
    return f"{int(x):,}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "—"


def fmt_pct(x: Any, digits: int = 1) -> str:
    return f"{float(x) * 100:.{digits}f}%" if isinstance(x, (int, float)) and not isinstance(x, bool) else "—"


def fmt_s(x: Any) -> str:
    return f"{float(x):.1f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "—"


def fmt_tokens(row: dict) -> str:
    value = row.get("tokens_out")
    if value is None:
        return "—"
    return ("≈" if row.get("tokens_kind") in ("estimated", "derived") else "") + fmt_int(value)


def _md_table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    def clean(c: str) -> str:
        return str(c).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(clean(c) for c in r) + " |" for r in rows]
    return lines


def to_markdown(model: dict, html_name: str = "report.html") -> str:
    ident = model.get("identity") or {}
    out = [f"# dataprep report: {ident.get('root', '')}", ""]
    out.append(f"{ident.get('done', 0)} of {ident.get('stages', 0)} stages done"
               + (f"; final output {ident['final']} (fingerprint {ident['fingerprint']})" if ident.get("final") else "")
               + ".")
    t = ident.get("tokenizer") or {}
    if t.get("sha256"):
        out.append(f"Tokenizer: {t.get('path')} ({t.get('kind')}, {fmt_int(t.get('vocab_size'))} ids), "
                   f"sha256 {t['sha256']}.")
    out += [f"Plots, samples and every stage's config: {html_name}.", ""]
    f = model.get("funnel")
    if f:
        out += ["## Funnel", ""]
        rows = [[r["folder"], r["status"], fmt_int(r.get("docs_in")), fmt_int(r.get("docs_out")),
                 fmt_int(r.get("rejected")), fmt_int(r.get("added")), fmt_int(r.get("chars_out")), fmt_tokens(r),
                 fmt_s(r.get("wall_time_s"))] for r in f["rows"]]
        out += _md_table(["stage", "status", "docs in", "docs out", "rejected", "copies added", "chars out",
                          "tokens out", "time s"], rows, "llrrrrrrr")
        if f.get("chars_per_token"):
            out += ["", f"≈: tokens estimated; where no stage counts them, at {f['chars_per_token']:.2f} characters "
                        f"per token (measured at {f['chars_per_token_from']})."]
        out.append("")
    rs = model.get("reasons")
    if rs:
        out += ["## Removed, by reason", ""]
        out += _md_table(["stage", "reason", "docs", "share of stage input"],
                         [[r["folder"], r["reason"], fmt_int(r["docs"]), fmt_pct(r["share"], 2)] for r in rs], "llrr")
        out.append("")
    mx = model.get("mix")
    if mx:
        out += [f"## Mix ({mx['folder']}, by {mx['by'] or 'bucket'})", ""]
        out += _md_table(["bucket", "tokens before", "share before", "target", "achieved", "tokens after", "epochs"],
                         [[b["bucket"], fmt_int(b["tokens_before"]), fmt_pct(b["share_before"]), fmt_pct(b["target"]),
                           fmt_pct(b["after"]), fmt_int(b["tokens_after"]),
                           f"{b['epochs']:.2f}" if isinstance(b.get("epochs"), (int, float)) else "—"]
                          for b in mx["buckets"]], "lrrrrrr")
        for line in mx["infeasible"]:
            out.append(f"\nNOT MET: {line}")
        out.append("")
    tk = model.get("tokens")
    if tk:
        out += [f"## Tokens ({tk['folder']})", ""]
        rows = [["total", "", fmt_int(tk.get("tokens"))]]
        rows += [["split", k, fmt_int(v)] for k, v in (tk.get("tokens_by_split") or {}).items()]
        shards = list((tk.get("tokens_by_shard") or {}).items())
        rows += [["shard", k, fmt_int(v)] for k, v in shards[:MD_SHARDS]]
        if len(shards) > MD_SHARDS:
            rows.append(["shard", f"… {len(shards) - MD_SHARDS:,} more in {html_name}", ""])
        rows += [["language", k, fmt_int(v)] for k, v in (tk.get("tokens_by_lang") or {}).items()]
        rows += [["domain", k, fmt_int(v)] for k, v in (tk.get("tokens_by_domain") or {}).items()]
        out += _md_table(["by", "key", "tokens"], rows, "llr")
        out.append("")
    tm = model.get("times")
    if tm and tm["rows"]:
        out += ["## Time", ""]
        out += _md_table(["stage", "time s", "docs/s", "chars/s"],
                         [[r["folder"], fmt_s(r["wall_time_s"]), fmt_int(r.get("docs_per_s")),
                           fmt_int(r.get("chars_per_s"))] for r in tm["rows"]], "lrrr")
        out += ["", f"Total: {tm['total_s']:.1f} s (each stage's time as recorded when it ran).", ""]
    for name, err in (model.get("errors") or {}).items():
        out.append(f"Section {name} could not be shown: {err}")
    return "\n".join(out).rstrip() + "\n"


# --- writing -------------------------------------------------------------------------------------


def write_report(path: str | Path, *, out_dir: str | Path | None = None,
                 planned: list[tuple[str, str, str]] | None = None, samples: int = 3,
                 quiet: bool = True) -> Path:
    """Write ``report.html`` and ``report.md`` for a workdir or stage folder; returns the HTML's path.
    A progress bar (stderr, unless ``quiet``) counts the stages read and the plots drawn."""
    require_matplotlib()
    from tqdm import tqdm

    from dataprep.report_html import plot_count, to_html

    run = collect(path, planned)
    with tqdm(total=build_steps(run), desc="report", unit="steps", file=sys.stderr, disable=quiet,
              dynamic_ncols=True) as bar:
        model = build(run, samples=samples, tick=lambda: bar.update(1))
        bar.total += plot_count(model)
        bar.refresh()
        html = to_html(model, tick=lambda: bar.update(1))
    out = Path(out_dir) if out_dir is not None else run.root
    for stale in out.glob(".tmp-*-report.*"):  # left by a run stopped while writing its report
        stale.unlink(missing_ok=True)
    html_path = out / "report.html"
    atomic_write_bytes(html_path, html.encode())
    atomic_write_bytes(out / "report.md", to_markdown(model, html_path.name).encode())
    return html_path
