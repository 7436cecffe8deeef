"""ingest: read JSONL (plain/.gz/.zst/.bz2/.xz), Parquet, text files and HuggingFace datasets into
Parquet shards with columns ``id, text, origin, <promoted fields>, meta``.

Every input record is either kept or written to ``_rejected/`` with a reason and its
``file:line``; ``strict: true`` stops at the first bad record with the same message instead.
Input paths are checked when the config is read; the stage then lists its files once, and that
one list both fingerprints the input and plans the tasks, so a file that goes missing later is
rejected (``ingest:file_vanished``) rather than left out.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import lzma
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Optional

import orjson
import pyarrow as pa

from dataprep import corpus as C
from dataprep.config import ConfigError, config_hash, option
from dataprep.corpus import REJECT_COLUMNS
from dataprep.stage import Stage, StageContext, StageError, Task, TaskOutput
from dataprep.storage import is_remote, stage_inputs, uri_of_copy

JSONL_EXT = (".jsonl", ".json", ".ndjson")
TEXT_EXT = (".txt", ".text", ".md")
COMPRESSED_EXT = (".gz", ".zst", ".zstd", ".bz2", ".xz")
RAW_PREVIEW_CHARS = 2000
MiB = 1 << 20
NEWLINE = b"\n"
# orjson writes JSON nested at most this many arrays/objects deep; records nested deeper cannot be
# stored in `meta` and are rejected as `ingest:too_deep`.
MAX_JSON_DEPTH = 254


@dataclass
class IngestConfig:
    paths: list[str] = option([], help="Input files, folders or glob patterns (`data/**/*.jsonl.gz`); "
                                       "for format `hf`, a dataset name or local data folder.")
    format: Literal["auto", "jsonl", "parquet", "text", "hf_disk", "hf"] = option(
        "auto", help="Input format; `auto` goes by file extension (a `save_to_disk` folder is `hf_disk`).")
    text_field: str = option("text", help="Field holding the document text; dotted path for nested JSON (`doc.body`).")
    id_field: Optional[str] = option("id", help="Field holding a document id (dotted path). Records without one get "
                                                "a stable generated id `FILE:LINE`; null always generates.")
    promote: list[str] = option(["url", "source"], help="Top-level fields kept as their own string columns "
                                                         "(non-strings JSON-encoded; missing -> null).")
    metadata: Literal["json", "drop"] = option("json", help="Other fields: `json` keeps them as one JSON object "
                                                            "in the `meta` column; `drop` discards them.")
    text_mode: Literal["file", "line"] = option("file", help="Text files: one document per file, or per line.")
    shard_rows: int = option(100_000, help="Start a new output shard after this many documents.")
    shard_bytes: int = option(32 * MiB, help="... or after this many bytes of text.")
    max_doc_bytes: int = option(10 * MiB, help="Documents with more UTF-8 bytes of text are rejected (`ingest:too_large`).")
    chunk_bytes: int = option(64 * MiB, help="Plain JSONL files larger than this are split into parallel tasks.")
    strict: bool = option(False, help="Fail at the first bad record instead of rejecting it.")
    duplicate_ids: Literal["error", "warn"] = option("error", help="Ids must be unique across the corpus: "
                                                     "`error` stops after ingest naming a repeated id, `warn` counts them.")
    hf_split: str = option("train", help="Split to read from a HuggingFace dataset.")
    hf_config: Optional[str] = option(None, help="Config (subset) name of a HuggingFace dataset.")

    def validate(self) -> None:
        if not self.paths:
            raise ConfigError("paths: at least one input path or pattern is required")
        for name in ("shard_rows", "shard_bytes", "max_doc_bytes", "chunk_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be > 0")
        if self.format != "hf":  # `hf` paths may name datasets on the Hub
            expand_paths(self.paths, self.format)


# --- input discovery ----------------------------------------------------------------------------


def _strip_compression(name: str) -> str:
    for ext in COMPRESSED_EXT:
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def detect_format(path: Path) -> str | None:
    if path.is_dir():
        return "hf_disk" if (path / "dataset_info.json").exists() or (path / "state.json").exists() or (
            path / "dataset_dict.json").exists() else None
    name = _strip_compression(path.name.lower())
    if name.endswith(JSONL_EXT):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(TEXT_EXT):
        return "text"
    return None


def expand_paths(patterns: list[str], fmt: str) -> list[tuple[Path, str]]:
    """Expand patterns and folders into (file, format), sorted, each file once. Relative patterns
    are relative to the current folder. Errors name the key (``paths: ...``)."""
    found: dict[Path, str] = {}
    for pattern in patterns:
        magic = glob.has_magic(pattern)
        if is_remote(pattern):  # copied into the local cache once (dataprep.storage)
            matches = [str(p) for p in stage_inputs(pattern)]
            if not matches:
                raise ConfigError(f"paths: no object matches {pattern!r}")
        else:
            matches = sorted(glob.glob(pattern, recursive=True)) if magic else [pattern]
        if not matches or not all(os.path.exists(m) for m in matches):
            where = "" if os.path.isabs(pattern) else f" (relative to {os.getcwd()})"
            raise ConfigError(f"paths: no file matches {pattern!r}{where}" if magic
                              else f"paths: {pattern!r} does not exist{where}")
        for m in matches:
            p = Path(m)
            kind = fmt if fmt != "auto" else detect_format(p)
            if p.is_dir() and kind != "hf_disk":
                inner = sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith("."))
                for q in inner:
                    k = fmt if fmt != "auto" else detect_format(q)
                    if k is not None:
                        found.setdefault(q, k)
                continue
            if kind is None:
                raise ConfigError(f"paths: cannot tell the format of {m!r} from its name; set `format:`")
            found.setdefault(p, kind)
    if not found:
        raise ConfigError(f"paths: no JSONL, Parquet or text files in {patterns}")
    return sorted(found.items(), key=lambda kv: str(kv[0]))


def relative_names(paths: list[Path]) -> dict[Path, str]:
    """Short stable names for generated ids: paths relative to the inputs' common folder."""
    absolute = [p.resolve() for p in paths]
    if len(absolute) == 1:
        base = absolute[0].parent
    else:
        base = Path(os.path.commonpath(absolute))
    return {p: (a.relative_to(base).as_posix() if a != base else a.name) for p, a in zip(paths, absolute)}


def open_binary(path: Path) -> io.BufferedIOBase:
    """Open a file, decompressing by extension. An OSError here means the file cannot be opened;
    damage inside a compressed file shows only when it is read."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".xz"):
        return lzma.open(path, "rb")
    if name.endswith((".zst", ".zstd")):
        return io.BufferedReader(ZstdReader(path), buffer_size=MiB)
    return open(path, "rb", buffering=MiB)


class ZstdReader(io.RawIOBase):
    """Streams every frame of a .zst file and raises EOFError if the last frame is cut short
    (zstandard's own stream reader ends quietly on a truncated file)."""

    def __init__(self, path: Path):
        import zstandard

        self._zstd = zstandard
        self._file = open(path, "rb")
        self._obj = zstandard.ZstdDecompressor().decompressobj()
        self._fed = False
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            chunk = self._file.read(MiB)
            if not chunk:
                if self._fed and not self._obj.eof:
                    raise EOFError("zstd stream ended before the end of its last frame")
                return 0
            while chunk:
                if self._obj.eof:
                    self._obj = self._zstd.ZstdDecompressor().decompressobj()
                self._fed = True
                try:
                    self._buf += self._obj.decompress(chunk)
                except self._zstd.ZstdError as e:
                    raise EOFError(f"damaged zstd data: {e}") from None
                chunk = self._obj.unused_data if self._obj.eof else b""
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def line_chunks(path: Path, chunk_bytes: int) -> list[tuple[int, int, int]]:
    """Split a plain file at line boundaries into (start, end, first_line) ranges of ~chunk_bytes."""
    size = path.stat().st_size
    if size <= chunk_bytes:
        return [(0, size, 1)]
    bounds = [0]
    with open(path, "rb") as f:
        while bounds[-1] + chunk_bytes < size:
            f.seek(bounds[-1] + chunk_bytes)
            f.readline()
            pos = f.tell()
            if pos >= size:
                break
            bounds.append(pos)
        bounds.append(size)
        # count the lines before each chunk: numpy over one reused buffer counts ~3x faster than bytes.count
        import numpy as np

        buf = bytearray(MiB)
        view, codes, hits = memoryview(buf), np.frombuffer(buf, np.uint8), np.empty(MiB, bool)
        chunks, line = [], 1
        for start, end in zip(bounds, bounds[1:]):
            chunks.append((start, end, line))
            f.seek(start)
            remaining = end - start if end < size else 0  # the last chunk's lines are not needed
            while remaining:
                n = f.readinto(view[: min(remaining, MiB)])
                if not n:
                    break
                line += int(np.count_nonzero(np.equal(codes[:n], 10, out=hits[:n])))
                remaining -= n
    return chunks


# --- record handling ----------------------------------------------------------------------------


class Bad(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def get_path(record: dict, dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def missing_field(record: dict, dotted: str, option_name: str) -> str:
    """Say why ``dotted`` finds no value in ``record``, naming the option and the fields there are."""
    value: Any = record
    walked = []
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            break
        walked.append(part)
        value = value[part]
    else:
        return f"{dotted!r} ({option_name}) is null"
    where = ".".join(walked)
    if not isinstance(value, dict):
        return f"no field {dotted!r} ({option_name}): {where!r} is {type(value).__name__}, not an object"
    names = sorted(map(str, value))
    shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    return (f"no field {dotted!r} ({option_name}); {f'{where!r} has' if where else 'the record has'} "
            f"{'fields: ' + shown if names else 'no fields'}")


def nesting_depth(value: Any) -> int:
    """How many arrays/objects deep ``value`` nests (0 for a scalar), without recursion."""
    depth, level = 0, [value]
    while True:
        level = [v for v in level if isinstance(v, (dict, list, tuple))]
        if not level:
            return depth
        depth += 1
        level = [c for v in level for c in (v.values() if isinstance(v, dict) else v)]


def _as_string(value: Any) -> str | None:
    """A promoted field's value: strings as they are, anything else as JSON."""
    return value if value is None or isinstance(value, str) else orjson.dumps(value, default=str).decode()


def _preview(rec: dict) -> bytes:
    """A rejected record as JSON for the `raw` column; a field that JSON cannot hold (nested too
    deep) is shown by its type only."""
    try:
        return orjson.dumps(rec, default=str)
    except orjson.JSONEncodeError:
        def shown(v: Any) -> Any:
            try:
                orjson.dumps(v, default=str)
                return v
            except orjson.JSONEncodeError as e:
                return f"<{type(v).__name__} that JSON cannot hold: {e}>"
        return orjson.dumps({k: shown(v) for k, v in rec.items()}, default=str)


def without_path(record: dict, dotted: str) -> dict:
    """A copy of ``record`` without the leaf at ``dotted`` (copies only the dicts on the path)."""
    head, _, rest = dotted.partition(".")
    if head not in record:
        return record
    out = dict(record)
    if rest:
        if isinstance(out[head], dict):
            out[head] = without_path(out[head], rest)
    else:
        del out[head]
    return out


class ShardBuilder:
    """Accumulates kept and rejected records; flushes a shard at the row/byte limit."""

    def __init__(self, cfg: IngestConfig, out: TaskOutput):
        self.cfg = cfg
        self.out = out
        self.cols: dict[str, list] = {}
        self.text_bytes = 0
        self.rejected: list[dict] = []
        # rows kept as Arrow tables (``keep_table``), before the rows in ``cols``
        self.parts: list[pa.Table] = []
        self.part_rows = 0
        self.part_chars = 0
        self._reset()
        types = {"id": pa.string(), "text": pa.large_string(), "origin": pa.string(), "meta": pa.string(),
                 **{k: pa.string() for k in cfg.promote}}
        self.schema = pa.schema([(k, types[k]) for k in self.cols])

    def _reset(self) -> None:
        self.cols = {"id": [], "text": [], "origin": [], **{k: [] for k in self.cfg.promote}}
        if self.cfg.metadata == "json":
            self.cols["meta"] = []
        self.text_bytes = 0
        self.parts, self.part_rows, self.part_chars = [], 0, 0

    def record(self, rec: Any, origin: str, generated_id: str) -> None:
        """Validate one parsed record and keep it, or raise Bad."""
        cfg = self.cfg
        if not isinstance(rec, dict):
            raise Bad("ingest:not_an_object", f"expected a JSON object, got {type(rec).__name__}")
        text = get_path(rec, cfg.text_field)
        if text is None:
            raise Bad("ingest:missing_text", missing_field(rec, cfg.text_field, "text_field"))
        if not isinstance(text, str):
            raise Bad("ingest:text_not_string", f"{cfg.text_field!r} is {type(text).__name__}, not a string")
        if not text.strip():
            raise Bad("ingest:empty_text", f"{cfg.text_field!r} is empty or whitespace")
        nbytes = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        if nbytes > cfg.max_doc_bytes:
            raise Bad("ingest:too_large", f"text has {nbytes:,} bytes, over max_doc_bytes={cfg.max_doc_bytes:,}")
        doc_id: Any = get_path(rec, cfg.id_field) if cfg.id_field else None
        if doc_id is None:
            doc_id = generated_id
            self.out.count("generated_ids")
        elif isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
            raise Bad("ingest:bad_id", f"{cfg.id_field!r} is {type(doc_id).__name__}; ids must be strings or integers")
        rest = without_path(rec, cfg.text_field)
        if cfg.id_field:
            rest = without_path(rest, cfg.id_field)
        try:
            promoted = [_as_string(rest.pop(key)) if key in rest else None for key in cfg.promote]
            meta = (orjson.dumps(rest, option=orjson.OPT_SORT_KEYS, default=str).decode()
                    if rest and cfg.metadata == "json" else None)
        except orjson.JSONEncodeError as e:
            depth = nesting_depth(rec)
            if depth > MAX_JSON_DEPTH:
                raise Bad("ingest:too_deep", f"the record nests {depth} levels deep (counting itself); its fields "
                                             f"can be stored as JSON up to {MAX_JSON_DEPTH}") from None
            raise Bad("ingest:bad_metadata", f"fields cannot be stored as JSON: {e}") from None
        self.keep(str(doc_id), text, origin, promoted, meta, nbytes)

    def keep(self, doc_id: str, text: str, origin: str, promoted: list[str | None], meta: str | None,
             nbytes: int) -> None:
        self.out.rows_in += 1
        cols = self.cols
        cols["id"].append(doc_id)
        cols["text"].append(text)
        cols["origin"].append(origin)
        for key, value in zip(self.cfg.promote, promoted):
            cols[key].append(value)
        if self.cfg.metadata == "json":
            cols["meta"].append(meta)
        self.text_bytes += nbytes
        if len(cols["id"]) + self.part_rows >= self.cfg.shard_rows or self.text_bytes >= self.cfg.shard_bytes:
            self.flush()

    def keep_many(self, ids: list[str], texts: list[str], origins: list[str], promoted: list[list[str | None]],
                  metas: list[str | None], nbytes: list[int]) -> None:
        """``keep`` for many rows at once (the clean-block path of ``read_jsonl``), flushing at the
        same rows as ``keep`` would."""
        cfg = self.cfg
        names = ["id", "text", "origin", *cfg.promote] + (["meta"] if cfg.metadata == "json" else [])
        values = [ids, texts, origins, *promoted] + ([metas] if cfg.metadata == "json" else [])
        i, n = 0, len(ids)
        while i < n:
            cols = self.cols  # flush() starts new lists
            j = min(n, i + cfg.shard_rows - len(cols["id"]) - self.part_rows)
            text_bytes, limit = self.text_bytes, cfg.shard_bytes
            for k in range(i, j):
                text_bytes += nbytes[k]
                if text_bytes >= limit:
                    j = k + 1
                    break
            for name, column in zip(names, values):
                cols[name].extend(column[i:j])
            self.out.rows_in += j - i
            self.text_bytes = text_bytes
            if len(cols["id"]) + self.part_rows >= cfg.shard_rows or text_bytes >= limit:
                self.flush()
            i = j

    def keep_table(self, table: pa.Table, nbytes: Any) -> None:
        """``keep`` for the rows of a table with this builder's schema (the Arrow path of
        ``read_jsonl``); ``nbytes``: each row's UTF-8 bytes of text (a numpy array). Flushes at
        the same rows as ``keep`` would."""
        import numpy as np
        import pyarrow.compute as pc

        cfg = self.cfg
        if self.cols["id"]:
            self._seal()
        cum = np.cumsum(nbytes, dtype=np.int64)
        i, n = 0, table.num_rows
        while i < n:
            j = min(n, i + cfg.shard_rows - self.part_rows)
            before = int(cum[i - 1]) if i else 0
            # the first row that brings the shard to shard_bytes ends it
            k = int(np.searchsorted(cum, cfg.shard_bytes - self.text_bytes + before, "left"))
            j = min(j, k + 1)
            part = table.slice(i, j - i)
            self.parts.append(part)
            self.part_rows += j - i
            self.part_chars += pc.sum(pc.utf8_length(part.column("text"))).as_py() or 0
            self.text_bytes += int(cum[j - 1]) - before
            self.out.rows_in += j - i
            if self.part_rows >= cfg.shard_rows or self.text_bytes >= cfg.shard_bytes:
                self.flush()
            i = j

    def _seal(self) -> None:
        """Move the rows in ``cols`` to ``parts``, as the table ``flush`` would write of them."""
        self.parts.append(pa.table({k: pa.array(v, type=f.type) for (k, v), f in zip(self.cols.items(), self.schema)}))
        self.part_rows += len(self.cols["id"])
        self.part_chars += sum(map(len, self.cols["text"]))
        for v in self.cols.values():
            v.clear()

    def reject(self, origin: str, reason: str, detail: str, raw: bytes | str, doc_id: str | None = None) -> None:
        if self.cfg.strict:
            raise StageError(f"{origin}: {reason}: {detail}")
        self.out.rows_in += 1
        text = raw if isinstance(raw, str) else raw[: RAW_PREVIEW_CHARS * 4].decode("utf-8", "replace")
        self.rejected.append({"id": doc_id, "origin": origin, "reason": reason, "stage": "ingest", "detail": detail,
                              "raw": text[:RAW_PREVIEW_CHARS], "raw_bytes": len(raw)})

    def unreadable(self, path: Path, origin: str, error: OSError) -> None:
        """A listed file that cannot be opened (deleted since it was listed, no permission, ...)."""
        vanished = isinstance(error, FileNotFoundError)
        detail = (f"{'file vanished after it was listed' if vanished else 'cannot open file'}; none of its "
                  f"records are ingested: {type(error).__name__}: {error.strerror or error}")
        self.reject(origin, "ingest:file_vanished" if vanished else "ingest:unreadable_file", detail, b"")
        print(f"warning: {path}: {detail}", file=sys.stderr)

    def flush(self) -> None:
        if self.parts:
            if self.cols["id"]:
                self._seal()
            # one chunk per column, as a table built from lists has: the same Parquet bytes either way
            table = pa.concat_tables(self.parts).combine_chunks()
            chars = self.part_chars
        elif self.cols["id"]:
            table = pa.table({k: pa.array(v, type=f.type) for (k, v), f in zip(self.cols.items(), self.schema)})
            chars = sum(map(len, self.cols["text"]))
        else:
            return
        self.out.chars_in += chars
        self.out.write_kept(table, numbered=True, chars=chars)
        self._reset()

    def close(self) -> None:
        self.flush()
        if self.rejected:
            schema = pa.schema([("id", pa.string()), ("origin", pa.string()), *REJECT_COLUMNS.items(),
                                ("detail", pa.string()), ("raw", pa.string()), ("raw_bytes", pa.int64())])
            self.out.write_rejected(pa.Table.from_pylist(self.rejected, schema=schema))
            self.rejected = []


# --- readers ------------------------------------------------------------------------------------


def _open_or_reject(path: Path, origin: str, b: "ShardBuilder") -> io.BufferedIOBase | None:
    """The file opened for reading, or None after recording it as unreadable (vanished, no access)."""
    try:
        return open_binary(path)
    except OSError as e:
        b.unreadable(path, origin, e)
        return None


def read_jsonl(path: Path, rel: str, b: ShardBuilder, start: int = 0, end: int | None = None, first_line: int = 1,
               per_line: bool | None = None) -> None:
    """Read JSONL lines ``[start, end)`` of ``path`` (the first is line ``first_line``) into ``b``.
    Lines are read in blocks. A block of plain records is parsed whole by Arrow and kept as columns
    (``_ArrowPath``, when ``ARROW_PARSE`` is on); any other block is parsed on the clean-block path
    (``_clean_run``), and any line that one does not take as it is (a bad record, a blank line, the
    BOM line) goes through ``_jsonl_line``, the per-line path, which ``per_line`` uses for every line
    (default: when ``BLOCK_PARSE`` is off, or ``promote`` names a field twice or like a column). All
    three give the same shards and rejections."""
    line_no = first_line - 1
    f = _open_or_reject(path, f"{rel}:{first_line}", b)
    if f is None:
        return
    try:
        with f:
            if start:
                f.seek(start)
            if per_line is None:  # promoted fields named like a column, or twice, keep the per-line path
                promote = b.cfg.promote
                per_line = (not BLOCK_PARSE or len(set(promote)) < len(promote)
                            or not {"id", "text", "origin", "meta"}.isdisjoint(promote))
            if per_line:
                pos = start
                for raw in f:
                    line_no += 1
                    pos += len(raw)
                    _jsonl_line(raw, line_no, rel, b)
                    if end is not None and pos >= end:
                        break
            else:
                arrow = _ArrowPath.make(b.cfg, rel)
                if arrow is not None and detect_compression(path) is None:
                    for data in _byte_blocks(f, start, end):
                        line_no += arrow.block(data, None, line_no + 1, b)
                else:  # decompressing readers go line by line, to keep every line before a damaged spot
                    for lines in _line_blocks(f, start, end):
                        if arrow is None:
                            _jsonl_block(lines, line_no + 1, rel, b)
                        else:
                            arrow.block(b"".join(lines), lines, line_no + 1, b)
                        line_no += len(lines)
    except (EOFError, OSError, ValueError) as e:
        detail = (f"compressed file is damaged or truncated; {line_no:,} lines were read before the damage "
                  f"and are kept: {type(e).__name__}: {e}")
        print(f"warning: {path}: {detail}", file=sys.stderr)
        b.reject(f"{rel}:{line_no + 1}", "ingest:truncated_file", detail, b"")


# The clean-block path of read_jsonl; False sends every line through the per-line path.
BLOCK_PARSE = True
BLOCK_BYTES = 4 * MiB


def _line_blocks(f: io.BufferedIOBase, pos: int, end: int | None) -> Iterator[list[bytes]]:
    """The lines of ``f`` from ``pos`` up to the one that reaches ``end``, in lists of about
    BLOCK_BYTES. A read error is raised after the lines read before it have been handed out."""
    block: list[bytes] = []
    size = 0
    try:
        for raw in f:
            block.append(raw)
            size += len(raw)
            if end is not None and pos + size >= end:
                break
            if size >= BLOCK_BYTES:
                yield block
                pos += size
                block, size = [], 0
    except (EOFError, OSError, ValueError):
        if block:
            yield block
        raise
    if block:
        yield block


def _byte_blocks(f: io.BufferedIOBase, pos: int, end: int | None) -> Iterator[bytes]:
    """The bytes of the lines of ``f`` from ``pos`` up to the one that reaches ``end`` (the lines
    of ``_line_blocks``), in blocks of about BLOCK_BYTES that end at a line end (the last may end
    at the end of the file instead). For plain files: a read error is raised without the lines of
    the block being read, where ``_line_blocks`` hands out every whole line before the damage."""
    left = None if end is None else end - pos
    while left is None or left > 0:
        data = f.read(BLOCK_BYTES if left is None else min(BLOCK_BYTES, left))
        if not data:
            return
        if not data.endswith(NEWLINE):
            data += f.readline()  # on to the end of the last line
        if left is not None:
            left -= len(data)
        yield data


# The Arrow path of read_jsonl (blocks of plain records parsed whole); False leaves every block to
# the clean-block and per-line paths. After a block that parsed but was not taken, the next 1, then
# 2, 4, ... up to ARROW_SKIP_MAX blocks skip it (records with other fields are then parsed once).
ARROW_PARSE = True
ARROW_SKIP_MAX = 16
# Characters for which Python's ``str.isspace`` is true (``not text.strip()`` rejects a text of only
# these); a test checks the list against Python.
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                 "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_BLANK_TEXT = "^[" + "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE) + "]*$"  # RE2: empty or whitespace only
# RE2 patterns for the raw block: a `}` followed on its line by `n`, which may be a top-level `null`
# after an object (Arrow's JSON reader reads before its stack on one); a `\u` escape of a surrogate
# (a UTF-16 half, which orjson and Arrow need not treat alike). Either one, even inside a string,
# leaves the block to the other paths.
_NULL_AFTER_OBJECT = r"\}[ \t\r]*n"
_SURROGATE_ESCAPE = r"\\u[dD][89a-fA-F]"


class _ArrowPath:
    """Keeps a block of JSONL records with one Arrow parse and whole-column checks, or declines it
    (``block`` then hands it to the clean-block path, which gives the same rows for any block).

    A block is taken only when it parses and every check holds: each line is one JSON object from
    its first byte to its last (an optional CR after it): ``{...}``; the bytes are valid UTF-8 and
    hold no surrogate escape; every record has only the id, text and promoted fields, each at most
    once (Arrow refuses a repeated field, where orjson would keep the last value); the text is a
    string, neither empty nor whitespace only (Python's whitespace) nor over max_doc_bytes; the id
    is a string, an int64 (kept as its decimal digits, as ``str`` writes it) or null/missing (the
    generated ``FILE:LINE``); promoted fields are strings or null. Those are the rows ``_clean_run``
    keeps, with ``meta`` null as there are no other fields."""

    def __init__(self, cfg: IngestConfig, rel: str):
        self.cfg = cfg
        self.rel = rel
        self.fields = [f for f in (cfg.id_field, cfg.text_field, *cfg.promote) if f]
        self.skip = 0  # blocks to leave to the other paths after a failed parse
        self.penalty = 1

    @classmethod
    def make(cls, cfg: IngestConfig, rel: str) -> "_ArrowPath | None":
        """The Arrow path for this config, or None where it does not apply (``ARROW_PARSE`` off,
        a dotted text or id field, or a field named twice among id, text and promoted fields)."""
        fields = [f for f in (cfg.id_field, cfg.text_field, *cfg.promote) if f]
        if not ARROW_PARSE or "." in cfg.text_field or "." in (cfg.id_field or "") or len(set(fields)) < len(fields):
            return None
        return cls(cfg, rel)

    def block(self, data: bytes, lines: list[bytes] | None, first: int, b: ShardBuilder) -> int:
        """Lines ``first, first + 1, ...`` in ``data`` (``lines``: the same split into lines, if at
        hand): kept on the Arrow path, or else on the clean-block path. Returns how many lines."""
        import numpy as np

        if not data:
            return 0
        if first == 1:  # the BOM line stays on the per-line path
            cut = data.find(NEWLINE) + 1 or len(data)
            _jsonl_line(data[:cut], 1, self.rel, b)
            if lines is not None:
                lines = lines[1:]
            return 1 + (self.block(data[cut:], lines, 2, b) if cut < len(data) else 0)
        codes = np.frombuffer(data, np.uint8)
        ends = np.flatnonzero(codes == 10)
        if not data.endswith(NEWLINE):
            ends = np.append(ends, len(data))
        if not self.keep(data, codes, ends, first, b):
            _jsonl_block(lines if lines is not None else io.BytesIO(data).readlines(), first, self.rel, b)
        return len(ends)

    def keep(self, data: bytes, codes: Any, ends: Any, first: int, b: ShardBuilder) -> bool:
        """Keep the records of ``data`` (lines ``first, ...``, ending at ``ends``) if it is a block of
        plain records; else return False, having kept nothing."""
        if self.skip:
            self.skip -= 1
            return False
        import numpy as np
        import pyarrow.compute as pc

        cfg = self.cfg
        # each line is `{...}` (or `{...}` CR): Arrow starts every line with an object; no lone CR,
        # which Arrow would take for a line end
        if data[0] != 0x7B or len(data) >= 1 << 30 or not (codes[ends[:-1] + 1] == 0x7B).all():
            return False
        last = codes[ends - 1]
        if b"\r" in data:
            crlf = last == 0x0D
            if int(np.count_nonzero(crlf)) != data.count(b"\r"):
                return False
            last = np.where(crlf, codes[ends - 2], last)
        if not (last == 0x7D).all():
            return False
        offsets = pa.py_buffer(np.array([0, len(data)], np.int64))
        raw = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
        if pc.match_substring_regex(raw, _NULL_AFTER_OBJECT)[0].as_py() or \
                pc.match_substring_regex(raw, _SURROGATE_ESCAPE)[0].as_py():
            return False
        try:
            pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
        except pa.ArrowInvalid:  # not UTF-8
            return False
        # the id column's type from the first record: string or int64 (the other one fails the parse)
        try:
            head = orjson.loads(data[: ends[0]])
        except orjson.JSONDecodeError:
            return False
        if head.__class__ is not dict or not set(head) <= set(self.fields):
            return False
        id_type = pa.int64() if cfg.id_field and head.get(cfg.id_field).__class__ is int else pa.string()
        schema = pa.schema([(f, id_type if f == cfg.id_field else pa.large_string() if f == cfg.text_field
                             else pa.string()) for f in self.fields])
        try:
            kept = self._columns(self._parse(data, schema), len(ends), first, b.schema)
        except pa.ArrowException:
            kept = None
        if kept is None:  # failed after a parse: leave the next 1, 2, 4, ... blocks to the other paths
            self.skip = min(self.penalty, ARROW_SKIP_MAX)
            self.penalty = min(2 * self.penalty, ARROW_SKIP_MAX or 1)
            return False
        self.penalty = 1
        table, nbytes, generated = kept
        if generated:
            b.out.count("generated_ids", generated)
        b.keep_table(table, nbytes)
        return True

    @staticmethod
    def _parse(data: bytes, schema: pa.Schema) -> pa.Table:
        import pyarrow.json as pj

        # one parse block, so that Arrow cuts the data only at the line ends checked; one thread, as
        # the executor runs a task per core
        read = pj.ReadOptions(use_threads=False, block_size=len(data) + 1)
        parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error", newlines_in_values=False)
        return pj.read_json(pa.BufferReader(data), read_options=read, parse_options=parse)

    def _columns(self, table: pa.Table, n: int, first: int, schema: pa.Schema) -> tuple[pa.Table, Any, int] | None:
        """The rows to keep (as ``schema``), their texts' UTF-8 bytes and how many ids were
        generated; None if the parsed block is not one of plain records."""
        import numpy as np
        import pyarrow.compute as pc

        cfg = self.cfg
        if table.num_rows != n:
            return None
        cols = {f: table.column(f).combine_chunks() for f in self.fields}
        text = cols[cfg.text_field]
        if text.null_count:
            return None
        sizes = pc.binary_length(text)
        nbytes = np.frombuffer(sizes.buffers()[1], np.int64, n, sizes.offset * 8)
        if int(nbytes.max()) > cfg.max_doc_bytes or pc.any(pc.match_substring_regex(text, _BLANK_TEXT)).as_py():
            return None
        lines = pa.array(np.arange(first, first + n, dtype=np.int64)).cast(pa.string())
        origin = pc.binary_join_element_wise(f"{self.rel}:", lines, "")
        if cfg.id_field:
            ids = cols[cfg.id_field].cast(pa.string())
            generated = ids.null_count
            if generated:
                ids = pc.if_else(ids.is_null(), origin, ids)
        else:
            ids, generated = origin, n
        arrays = [ids, text, origin, *(cols[k] for k in cfg.promote)]
        if cfg.metadata == "json":
            arrays.append(pa.nulls(n, pa.string()))
        return pa.Table.from_arrays(arrays, schema=schema), nbytes, generated


class _Slow(Exception):
    """A line the clean-block path leaves to the per-line path."""


def _jsonl_block(lines: list[bytes], first: int, rel: str, b: ShardBuilder) -> None:
    """Lines ``first, first + 1, ...``: runs of clean records in bulk, the others one by one."""
    i, n = 0, len(lines)
    if first == 1 and n:  # a BOM is stripped and counted on line 1 only
        _jsonl_line(lines[0], 1, rel, b)
        i = 1
    while i < n:
        i = _clean_run(lines, i, first, rel, b)
        if i < n:
            _jsonl_line(lines[i], first + i, rel, b)
            i += 1


def _clean_run(lines: list[bytes], i: int, first: int, rel: str, b: ShardBuilder) -> int:
    """Keep lines ``i, i + 1, ...`` up to the first one that is not a clean record (invalid JSON
    or UTF-8, blank, not an object, missing, non-string or empty text, over max_doc_bytes, a bad id,
    fields JSON cannot hold, ...), exactly as ``ShardBuilder.record`` would; return its index."""
    cfg = b.cfg
    loads, dumps, sort_keys = orjson.loads, orjson.dumps, orjson.OPT_SORT_KEYS
    tf, idf, promote, max_bytes = cfg.text_field, cfg.id_field, cfg.promote, cfg.max_doc_bytes
    meta_json = cfg.metadata == "json"
    simple = "." not in tf and (not idf or ("." not in idf and idf != tf))
    ids: list[str] = []
    texts: list[str] = []
    origins: list[str] = []
    promoted: list[list[str | None]] = [[] for _ in promote]
    metas: list[str | None] = []
    nbytes: list[int] = []
    generated = 0
    k = i
    try:
        for k in range(i, len(lines)):
            rec = loads(lines[k])
            if rec.__class__ is not dict:
                raise _Slow
            if simple:
                text = rec.pop(tf, None)
                doc_id = rec.pop(idf, None) if idf else None
                rest = rec
            else:
                text = get_path(rec, tf)
                doc_id = get_path(rec, idf) if idf else None
                rest = without_path(rec, tf)
                if idf:
                    rest = without_path(rest, idf)
            if text.__class__ is not str or not text or text.isspace():  # as `not text.strip()`, without a copy
                raise _Slow
            size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            if size > max_bytes:
                raise _Slow
            origin = f"{rel}:{first + k}"
            if doc_id is None:
                doc_id = origin
            elif doc_id.__class__ is int:
                doc_id = str(doc_id)
            elif doc_id.__class__ is not str:
                raise _Slow
            for column, key in zip(promoted, promote):
                value = rest.pop(key, None)
                column.append(value if value is None or value.__class__ is str
                              else dumps(value, default=str).decode())
            metas.append(dumps(rest, option=sort_keys, default=str).decode() if rest and meta_json else None)
            generated += doc_id is origin
            ids.append(doc_id)
            texts.append(text)
            origins.append(origin)
            nbytes.append(size)
        k = len(lines)
    except Exception:  # anything unusual: this line goes through the per-line path
        del metas[len(ids):]
        for column in promoted:
            del column[len(ids):]
    if ids:
        if generated:
            b.out.count("generated_ids", generated)
        b.keep_many(ids, texts, origins, promoted, metas, nbytes)
    return k


def _jsonl_line(raw: bytes, line_no: int, rel: str, b: ShardBuilder) -> None:
    if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        b.out.count("bom_stripped")
    raw = raw.rstrip(b"\r\n")
    if not raw.strip():
        b.out.count("blank_lines")
        return
    origin = f"{rel}:{line_no}"
    try:
        rec = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as u:
            b.reject(origin, "ingest:invalid_utf8", f"invalid UTF-8 at byte {u.start}", raw)
            return
        b.reject(origin, "ingest:invalid_json", str(e), raw)
        return
    try:
        b.record(rec, origin, origin)
    except Bad as bad:
        doc_id = get_path(rec, b.cfg.id_field) if isinstance(rec, dict) and b.cfg.id_field else None
        b.reject(origin, bad.reason, bad.detail, raw, doc_id if isinstance(doc_id, str) else None)


def _records(batches: Iterator[dict[str, list]], rel: str, b: ShardBuilder) -> None:
    row = 0
    for batch in batches:
        names = list(batch)
        for values in zip(*(batch[n] for n in names)):
            row += 1
            rec = dict(zip(names, values))
            origin = f"{rel}:{row}"
            try:
                b.record(rec, origin, origin)
            except Bad as bad:
                b.reject(origin, bad.reason, bad.detail, _preview(rec)[:RAW_PREVIEW_CHARS])


def read_parquet(path: Path, rel: str, b: ShardBuilder) -> None:
    import pyarrow.parquet as pq

    try:
        f = open(path, "rb")
    except OSError as e:
        b.unreadable(path, f"{rel}:1", e)
        return

    def batches() -> Iterator[dict[str, list]]:
        try:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=4096):
                yield batch.to_pydict()
        except (pa.ArrowException, OSError) as e:  # a damaged file, or columns nested deeper than the reader takes
            raise StageError(f"{path}: not a readable Parquet file ({e})") from None

    with f:
        _records(batches(), rel, b)


def read_text(path: Path, rel: str, b: ShardBuilder) -> None:
    """A text file: one document (text_mode=file) or one per non-blank line (text_mode=line)."""
    if b.cfg.text_mode == "line":
        read_text_lines(path, rel, b)
        return
    f = _open_or_reject(path, f"{rel}:1", b)
    if f is None:
        return
    try:
        with f:
            data = f.read(b.cfg.max_doc_bytes + 4)
            over = bool(f.read(1))
    except (EOFError, OSError) as e:
        b.reject(f"{rel}:1", "ingest:truncated_file", f"damaged or truncated file: {e}", b"")
        return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        b.out.count("bom_stripped")
    if over:
        b.reject(f"{rel}:1", "ingest:too_large", f"file is over max_doc_bytes={b.cfg.max_doc_bytes:,}", data)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as u:
        where = f"{rel}:{data.count(NEWLINE, 0, u.start) + 1}"
        b.reject(where, "ingest:invalid_utf8", f"invalid UTF-8 at byte {u.start}", data)
        return
    try:
        b.record({"text": text}, f"{rel}:1", rel)
    except Bad as bad:
        b.reject(f"{rel}:1", bad.reason, bad.detail, data)


def read_text_lines(path: Path, rel: str, b: ShardBuilder) -> None:
    line_no = 0
    f = _open_or_reject(path, f"{rel}:1", b)
    if f is None:
        return
    try:
        with f:
            for raw in f:
                line_no += 1
                if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                    b.out.count("bom_stripped")
                raw = raw.rstrip(b"\r\n")
                if not raw.strip():
                    b.out.count("blank_lines")
                    continue
                origin = f"{rel}:{line_no}"
                try:
                    b.record({"text": raw.decode("utf-8")}, origin, origin)
                except UnicodeDecodeError as u:
                    b.reject(origin, "ingest:invalid_utf8", f"invalid UTF-8 at byte {u.start}", raw)
                except Bad as bad:
                    b.reject(origin, bad.reason, bad.detail, raw)
    except (EOFError, OSError) as e:
        b.reject(f"{rel}:{line_no + 1}", "ingest:truncated_file",
                 f"damaged or truncated file; {line_no:,} lines were read before the damage: {e}", b"")


def read_hf(path: str, rel: str, b: ShardBuilder, from_disk: bool) -> None:
    try:
        import datasets
    except ImportError:
        raise StageError("reading HuggingFace datasets needs the `datasets` package: pip install datasets") from None
    cfg = b.cfg
    try:
        if from_disk:
            ds = datasets.load_from_disk(path)
            if isinstance(ds, datasets.DatasetDict):
                if cfg.hf_split not in ds:
                    raise StageError(f"{path}: no split {cfg.hf_split!r}; splits: {', '.join(ds)}")
                ds = ds[cfg.hf_split]
            batches = ds.iter(batch_size=1000)
        else:
            ds = datasets.load_dataset(path, cfg.hf_config, split=cfg.hf_split, streaming=True)
            batches = ds.iter(batch_size=1000)
        _records(batches, rel, b)
    except (OSError, ValueError, ConnectionError, RecursionError) as e:
        hint = ("; a field nests deeper than Arrow holds: ingest its JSONL files with format `jsonl`, which "
                "rejects only those records" if isinstance(e, RecursionError) or "Recursion level" in str(e) else "")
        raise StageError(f"{path}: cannot load HuggingFace dataset: {type(e).__name__}: {e}{hint}") from None


# --- the stage ----------------------------------------------------------------------------------


class IngestStage(Stage):
    """Read raw files into a corpus: JSONL (.gz/.zst/.bz2/.xz), Parquet, text, HuggingFace datasets.

    Writes `id, text, origin` (FILE:LINE of the record), the promoted fields (`url`, `source` by
    default) and `meta` (the other fields as JSON). Bad records (invalid JSON or UTF-8, missing,
    non-string or empty text, over max_doc_bytes, nested too deep to store as JSON, damaged
    compressed files, files that vanish or cannot be opened) go to _rejected/ with reason and
    FILE:LINE, or stop the run with --strict. Paths that match no file are config errors.

    \b
    Examples:
      dataprep ingest -i 'crawl/*.jsonl.zst' -o work/raw
      dataprep ingest -i dump.parquet -o work/raw --text-field content --id-field doc_id
      dataprep ingest -i books/ --format text -o work/books
      dataprep ingest -i my_hf_dataset/ --format hf_disk -o work/raw
    """

    name = "ingest"
    Config = IngestConfig
    takes_corpus = False
    progress_unit = "B"
    cli_input = "paths"

    def __init__(self, config: IngestConfig):
        super().__init__(config)
        self._listed: list[tuple[Path, str]] | None = None

    def _inputs(self) -> list[tuple[Path, str]]:
        if self.config.format == "hf":
            return [(Path(p), "hf") for p in self.config.paths]
        try:
            return expand_paths(self.config.paths, self.config.format)
        except ConfigError as e:
            raise StageError(f"ingest.{e}") from None

    def source_fingerprint(self) -> str:
        """Lists the input files; ``tasks`` plans from this same list, so every file the
        fingerprint saw is read (or rejected as vanished), none is skipped silently."""
        self._listed = self._inputs()
        items = []
        for p, kind in self._listed:
            if p.exists():
                files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
                # a copy of an object is known by its URI, whichever cache folder holds it
                items.append([uri_of_copy(p) or str(p.resolve()), kind,
                              [(uri_of_copy(q) or str(q), *_stat(q)) for q in files]])
            else:
                items.append([str(p), kind])
        return config_hash(items)

    def tasks(self, source: Any, state: Any = None) -> list[Task]:
        inputs = self._listed if self._listed is not None else self._inputs()
        rel = relative_names([p for p, _ in inputs])
        tasks = []
        # Small text files (a document each) are grouped into tasks of about one shard.
        group: list[tuple[str, str]] = []
        group_size = group_index = 0

        def flush() -> None:
            if group:
                tasks.append(Task(f"part-{group_index:05d}", tuple(p for p, _ in group),
                                  (("kind", "text"), ("files", tuple(group))), max(group_size, 1)))
        for i, (path, kind) in enumerate(inputs):
            size = _size(path)
            base = (("path", str(path)), ("kind", kind), ("rel", rel[path] if kind != "hf" else str(path)))
            if kind == "text":
                if group and group_size + size <= self.config.shard_bytes and len(group) < self.config.shard_rows:
                    group.append((str(path), rel[path]))
                    group_size += size
                    continue
                flush()
                group, group_size, group_index = [(str(path), rel[path])], size, i
                continue
            if kind == "jsonl" and detect_compression(path) is None and size > self.config.chunk_bytes:
                for j, (start, end, first) in enumerate(line_chunks(path, self.config.chunk_bytes)):
                    tasks.append(Task(f"part-{i:05d}-{j:03d}", (str(path),),
                                      base + (("start", start), ("end", end), ("first_line", first)), end - start))
            else:
                tasks.append(Task(f"part-{i:05d}", (str(path),), base, max(size, 1)))
        flush()
        return sorted(tasks, key=lambda t: t.key)

    def run_task(self, task: Task, state: Any, out: TaskOutput) -> None:
        b = ShardBuilder(self.config, out)
        path, kind, rel = Path(task.param("path", "")), task.param("kind"), task.param("rel")
        if kind == "text":
            for file, name in task.param("files"):
                read_text(Path(file), name, b)
        elif kind == "jsonl":
            read_jsonl(path, rel, b, task.param("start", 0), task.param("end"), task.param("first_line", 1))
        elif kind == "parquet":
            read_parquet(path, rel, b)
        else:
            read_hf(str(path), rel, b, from_disk=(kind == "hf_disk"))
        b.close()

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        check_unique_ids(ctx, manifest, self.config.duplicate_ids)


def check_unique_ids(ctx: StageContext, manifest: dict, policy: str) -> None:
    """Find repeated ids with 8 bytes per document (xxh64 of each id), then name one."""
    import numpy as np
    import polars as pl

    def id_hashes(table: pa.Table) -> np.ndarray:
        return pl.from_arrow(table["id"]).hash(seed=0).to_numpy()

    paths = [ctx.out_dir / s["file"] for s in manifest["shards"]]
    hashes = [id_hashes(C.read_parquet(p, ["id"], threads=True)) for p in paths]
    if not hashes:
        return
    allh = np.sort(np.concatenate(hashes))
    repeated = allh[1:][allh[1:] == allh[:-1]]
    if len(repeated) == 0:
        return
    manifest["counters"]["duplicate_ids"] = int(len(repeated))
    target = int(repeated[0])
    seen = []
    for p in paths:
        t = C.read_parquet(p, ["id", "origin"], threads=True)
        t = t.filter(pa.array(id_hashes(t) == target))
        seen.extend(zip(t["id"].to_pylist(), t["origin"].to_pylist()))
    msg = (f"{len(repeated):,} documents repeat an id already used, e.g. {seen[0][0]!r} at "
           f"{', '.join(o for _, o in seen[:3])}; set `id_field: null` to generate FILE:LINE ids, "
           f"or `duplicate_ids: warn`")
    if policy == "error":
        raise StageError(msg)
    print(f"warning: {msg}", file=sys.stderr)


def detect_compression(path: Path) -> str | None:
    name = path.name.lower()
    return next((ext for ext in COMPRESSED_EXT if name.endswith(ext)), None)


def _stat(path: Path) -> tuple[int, int]:
    """(size, mtime) of a file; (-1, -1) for one deleted since it was listed."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(max(_stat(q)[0], 0) for q in path.rglob("*") if q.is_file())
    size = _stat(path)[0]
    return size if size >= 0 else 1
