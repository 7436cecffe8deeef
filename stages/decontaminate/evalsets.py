"""Evaluation sets on disk: which files, which benchmark each belongs to, and the texts of each item.

A source is a file (JSONL or JSON, plain or .gz/.bz2/.xz; CSV/TSV; Parquet; an Arrow stream) or a
folder written by HF datasets' ``save_to_disk`` (one dataset, or a DatasetDict of splits). Each
record is one item; its texts are the strings found in the chosen fields (nested lists and
mappings are searched, numbers ignored), one *segment* per string. Every mistake is a
``StageError`` naming the file, and the line where there is one.
"""

from __future__ import annotations

import bz2
import csv
import glob
import gzip
import io
import json
import lzma
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.config import ConfigError
from dataprep.stage import StageError

# Field names tried when none are given (compared without case), by role.
QUESTION_FIELDS = ("question", "query", "prompt", "problem", "instruction", "input", "question_stem", "stem",
                   "ctx", "goal", "sentence", "sentence1", "sentence2", "premise", "hypothesis")
PASSAGE_FIELDS = ("context", "passage", "article", "document", "paragraph", "story", "support", "background",
                  "text")
ANSWER_FIELDS = ("answer", "answers", "solution", "output", "target", "targets", "completion", "response",
                 "explanation", "rationale", "canonical_solution", "best_answer", "correct_answers")
CHOICE_FIELDS = ("choices", "options", "endings", "candidates", "a", "b", "c", "d", "e")
DEFAULT_FIELDS = QUESTION_FIELDS + PASSAGE_FIELDS + ANSWER_FIELDS + CHOICE_FIELDS
ID_FIELDS = ("id", "_id", "idx", "uid", "qid", "question_id", "task_id", "example_id", "doc_id")

JSON_EXT = (".jsonl", ".json", ".ndjson")
CSV_EXT = (".csv", ".tsv")
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass
class EvalSource:
    """One evaluation file or folder and the benchmark it belongs to."""

    name: str
    path: str


@dataclass
class EvalItems:
    """What a source yields: items (a label each: the id field's value, or where the record is) and
    their segments (item index, field, text)."""

    labels: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    seg_item: list[int] = field(default_factory=list)
    seg_field: list[str] = field(default_factory=list)
    seg_text: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)  # the fields used, as spelled in the source
    without_text: int = 0  # items none of whose fields held a string


def parse_sources(against: list[str]) -> list[EvalSource]:
    """``against`` entries (paths, globs, NAME=PATH) as sources; a ConfigError for a path that
    matches nothing or two sources with one name. The name defaults to the file name without its
    extensions (the folder name for a folder)."""
    sources: list[EvalSource] = []
    for entry in against:
        name, _, rest = entry.partition("=")
        if rest and _NAME.fullmatch(name) and not os.path.exists(entry):
            named, pattern = name, rest
        else:
            named, pattern = None, entry
        paths = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        paths = [p for p in paths if os.path.exists(p)]
        if not paths:
            where = "" if os.path.isabs(pattern) else f" (relative to {os.getcwd()})"
            raise ConfigError(f"against: {pattern}: no such file or folder{where}")
        for p in paths:
            if named is not None and len(paths) > 1:
                raise ConfigError(f"against: {entry}: NAME=PATH needs one path, the pattern matches {len(paths)}")
            sources.append(EvalSource(named or default_name(p), p))
    seen: dict[str, str] = {}
    for s in sources:
        if s.name in seen:
            raise ConfigError(f"against: {seen[s.name]} and {s.path} would both be benchmark {s.name!r}; "
                              f"name them with NAME=PATH")
        seen[s.name] = s.path
    return sources


def default_name(path: str) -> str:
    name = Path(path.rstrip("/")).name
    for ext in COMPRESSED:
        name = name.removesuffix(ext)
    return name if os.path.isdir(path) else name.split(".")[0] or name


def content_digest(path: str) -> str:
    """xxh3-128 of a file's bytes, or of a folder's files (relative names and bytes, sorted)."""
    import xxhash

    h = xxhash.xxh3_128()
    files = [Path(path)] if os.path.isfile(path) else sorted(p for p in Path(path).rglob("*") if p.is_file())
    for p in files:
        if p != Path(path):
            h.update(str(p.relative_to(path)).encode() + b"\0")
        try:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError as e:
            raise StageError(f"decontaminate.against: cannot read {p}: {e.strerror}") from None
        h.update(b"\0")
    return h.hexdigest()


# --- records --------------------------------------------------------------------------------------


def records(path: str) -> Iterator[tuple[str, dict]]:
    """(where, record) for every record of a source: ``FILE:LINE`` for JSONL and CSV, ``FILE#ROW``
    (from 0) for the others."""
    if os.path.isdir(path):
        yield from _hf_folder(path)
        return
    name = path.lower()
    opener = next((o for ext, o in COMPRESSED.items() if name.endswith(ext)), None)
    if opener is not None:
        name = name[: name.rfind(".")]
    if name.endswith(JSON_EXT):
        yield from _json(path, opener)
    elif name.endswith(CSV_EXT):
        yield from _csv(path, opener, "\t" if name.endswith(".tsv") else ",")
    elif name.endswith(".parquet") and opener is None:
        yield from _table_rows(path, _read_parquet(path))
    elif name.endswith(".arrow") and opener is None:
        yield from _table_rows(path, _read_arrow(path))
    else:
        raise StageError(f"decontaminate.against: {path}: unknown format; expected .jsonl, .json, .csv, .tsv, "
                         f".parquet, .arrow (JSON and CSV may end in .gz/.bz2/.xz) or a save_to_disk folder")


def _open(path: str, opener: Any) -> io.BufferedIOBase:
    try:
        return opener(path, "rb") if opener else open(path, "rb")
    except OSError as e:
        raise StageError(f"decontaminate.against: cannot read {path}: {e.strerror}") from None


def _json(path: str, opener: Any) -> Iterator[tuple[str, dict]]:
    with _open(path, opener) as f:
        try:
            data = f.read()
        except (OSError, EOFError) as e:
            raise StageError(f"decontaminate.against: {path}: cannot read ({e})") from None
    if data.lstrip()[:1] == b"[":  # one JSON array of records
        try:
            array = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise StageError(f"decontaminate.against: {path}: not valid JSON ({e})") from None
        for i, rec in enumerate(array):
            if not isinstance(rec, dict):
                raise StageError(f"decontaminate.against: {path}#{i}: expected a JSON object, got {type(rec).__name__}")
            yield f"{path}#{i}", rec
        return
    for n, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise StageError(f"decontaminate.against: {path}:{n}: not valid JSON ({e})") from None
        if not isinstance(rec, dict):
            raise StageError(f"decontaminate.against: {path}:{n}: expected a JSON object, got {type(rec).__name__}")
        yield f"{path}:{n}", rec


def _csv(path: str, opener: Any, delimiter: str) -> Iterator[tuple[str, dict]]:
    with _open(path, opener) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text, delimiter=delimiter)
        try:
            for rec in reader:
                yield f"{path}:{reader.line_num}", {k: v for k, v in rec.items() if k is not None}
        except (csv.Error, UnicodeDecodeError) as e:
            raise StageError(f"decontaminate.against: {path}:{reader.line_num}: unreadable CSV ({e})") from None


def _read_parquet(path: str) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise StageError(f"decontaminate.against: {path}: unreadable Parquet ({str(e).splitlines()[0]})") from None


def _read_arrow(path: str) -> pa.Table:
    try:
        with pa.memory_map(path) as source:
            try:
                return pa.ipc.open_stream(source).read_all()
            except pa.ArrowInvalid:
                source.seek(0)
                return pa.ipc.open_file(source).read_all()
    except (pa.ArrowException, OSError) as e:
        raise StageError(f"decontaminate.against: {path}: unreadable Arrow file ({str(e).splitlines()[0]})") from None


def _table_rows(where: str, table: pa.Table) -> Iterator[tuple[str, dict]]:
    row = 0
    for batch in table.to_batches(max_chunksize=4096):
        for rec in batch.to_pylist():
            yield f"{where}#{row}", rec
            row += 1


def _hf_folder(path: str) -> Iterator[tuple[str, dict]]:
    """A save_to_disk folder: dataset_dict.json lists split folders; state.json a dataset's files."""
    root = Path(path)
    if (root / "dataset_dict.json").exists():
        try:
            splits = json.loads((root / "dataset_dict.json").read_text())["splits"]
        except (OSError, ValueError, KeyError, TypeError):
            raise StageError(f"decontaminate.against: {root / 'dataset_dict.json'}: unreadable") from None
        for split in splits:
            yield from _hf_dataset(root / split)
        return
    if not (root / "state.json").exists():
        raise StageError(f"decontaminate.against: {path}: a folder must be written by HF datasets' save_to_disk "
                         f"(no state.json or dataset_dict.json)")
    yield from _hf_dataset(root)


def _hf_dataset(folder: Path) -> Iterator[tuple[str, dict]]:
    try:
        files = [f["filename"] for f in json.loads((folder / "state.json").read_text())["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise StageError(f"decontaminate.against: {folder / 'state.json'}: unreadable") from None
    row = 0
    for name in files:
        for _, rec in _table_rows(str(folder / name), _read_arrow(str(folder / name))):
            yield f"{folder}#{row}", rec
            row += 1


# --- items ----------------------------------------------------------------------------------------


def strings(value: Any) -> Iterator[str]:
    """Every non-empty string inside a value (lists and mappings searched in order)."""
    if isinstance(value, str):
        if value.strip():
            yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


def read_items(source: EvalSource, fields: list[str], id_field: str | None) -> EvalItems:
    """The items of one source and their segments. ``fields`` empty: the DEFAULT_FIELDS present;
    a StageError naming the file when none of the fields occurs in it."""
    recs = list(records(source.path))
    keys: dict[str, str] = {}  # lower-case name -> name as spelled, first spelling seen
    for _, rec in recs:
        for k in rec:
            keys.setdefault(str(k).lower(), str(k))
    wanted = fields or list(DEFAULT_FIELDS)
    used = [keys[f.lower()] for f in dict.fromkeys(wanted) if f.lower() in keys]
    if not used:
        seen = ", ".join(sorted(keys.values())[:20]) or "none"
        hint = "name them with `fields`" if not fields else "check `fields`"
        raise StageError(f"decontaminate.against: {source.path}: none of the fields {', '.join(wanted[:8])}"
                         f"{', ...' if len(wanted) > 8 else ''} found (fields seen: {seen}); {hint}")
    id_key = None
    if id_field:
        id_key = keys.get(id_field.lower())
        if id_key is None:
            raise StageError(f"decontaminate.against: {source.path}: no field {id_field!r} for item ids")
    else:
        id_key = next((keys[f] for f in ID_FIELDS if f in keys), None)
    out = EvalItems(fields=used)
    for where, rec in recs:
        item = len(out.labels)
        ident = rec.get(id_key) if id_key else None
        out.labels.append(where if ident is None or isinstance(ident, (dict, list)) else str(ident))
        out.origins.append(where)
        seen_texts: set[str] = set()
        for f in used:
            for s in strings(rec.get(f)):
                if s not in seen_texts:
                    seen_texts.add(s)
                    out.seg_item.append(item)
                    out.seg_field.append(f)
                    out.seg_text.append(s)
        if not seen_texts:
            out.without_text += 1
    return out
