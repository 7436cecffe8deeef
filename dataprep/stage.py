"""What a stage is: a config dataclass plus ``tasks`` / ``prepare`` / ``run_task`` (or ``apply``).

The engine (``dataprep.runner``) plans the tasks, runs ``prepare`` once (a global pass such as
a dedup index), then runs every task through an executor. A task is pure: the same task and
state always write the same bytes, so any number of workers gives the same output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from dataprep.corpus import EDITS, REJECTED, Corpus, read_parquet, shard_digest, write_table


class StageError(RuntimeError):
    """A user-facing failure inside a stage (bad input in strict mode, a missing model, ...)."""


class AccountingError(RuntimeError):
    """A stage lost or invented rows: rows in + rows added != rows kept + rows rejected."""


@dataclass(frozen=True)
class Task:
    """One unit of work. ``key`` names its outputs; ``weight`` drives the progress bar."""

    key: str
    inputs: tuple[str, ...] = ()
    params: tuple[tuple[str, Any], ...] = ()
    weight: int = 1

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)


@dataclass
class StageContext:
    """What ``prepare`` and ``finish`` get: the input corpus, the output folder, the executor."""

    source: Corpus | None
    out_dir: Path
    executor: Any
    quiet: bool = True

    label: str = ""

    @property
    def state_dir(self) -> Path:
        from dataprep.corpus import ensure_dir

        return ensure_dir(self.out_dir / "_state")

    def map(self, fn: Any, items: list, desc: str, unit: str = "shards") -> list:
        """``executor.map`` with a progress bar (count, rate and time left) on stderr, unless quiet:
        for a global pass over every shard (keys of dedup, tokenize's encoding, ...)."""
        if self.quiet or len(items) < 2:
            return self.executor.map(fn, items)
        import sys

        from tqdm import tqdm

        results: list = [None] * len(items)
        with tqdm(total=len(items), unit=unit, desc=f"{self.label or 'stage'}: {desc}", file=sys.stderr,
                  dynamic_ncols=True, leave=False) as bar:
            for i, result in self.executor.imap_unordered(fn, items):
                results[i] = result
                bar.update(1)
        return results


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a hot loop that allocates many small objects
    (per-document lists and tuples) but makes no cycles; collections there cost 10-20%."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def text_chars(table: pa.Table, column: str = "text") -> int:
    if column not in table.column_names or table.num_rows == 0:
        return 0
    return int(pc.sum(pc.utf8_length(table[column])).as_py() or 0)


@dataclass
class TaskOutput:
    """Collects what one task writes and counts; becomes the task's marker."""

    out_dir: Path
    key: str
    rows_in: int = 0
    rows_added: int = 0  # kept rows that are extra copies of input rows (rebalance's repeats), not input rows
    rows_kept: int = 0
    rows_rejected: int = 0
    chars_in: int = 0
    chars_out: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    shards: list[dict] = field(default_factory=list)
    rejected_shards: list[dict] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    schema: list[dict] | None = None

    def _name(self, existing: list, suffix_always: bool) -> str:
        n = len(existing)
        return f"{self.key}-{n:05d}.parquet" if suffix_always else (f"{self.key}.parquet" if n == 0 else f"{self.key}-{n:05d}.parquet")

    def write_kept(self, table: pa.Table, numbered: bool = False, chars: int | None = None) -> None:
        """Write kept rows as one shard (``numbered`` for stages that split a task into many).
        ``chars``: the kept text's length in characters, where the stage already knows it."""
        name = self._name(self.shards, numbered)
        size = write_table(table, self.out_dir / name)
        self.shards.append({"file": name, "rows": table.num_rows, "bytes": size,
                            "digest": shard_digest(self.out_dir / name)})
        self.rows_kept += table.num_rows
        self.chars_out += text_chars(table) if chars is None else chars
        if self.schema is None:
            self.schema = [{"name": f.name, "type": str(f.type)} for f in table.schema]

    def write_rejected(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        name = f"{REJECTED}/{self._name(self.rejected_shards, False)}"
        size = write_table(table, self.out_dir / name)
        self.rejected_shards.append({"file": name, "rows": table.num_rows, "bytes": size,
                                     "digest": shard_digest(self.out_dir / name)})
        self.rows_rejected += table.num_rows
        for d in pc.value_counts(table["reason"]).to_pylist():
            self.reasons[d["values"]] = self.reasons.get(d["values"], 0) + d["counts"]

    def write_edits(self, table: pa.Table) -> None:
        """Record what a text-editing stage changed (ids and rules), in ``_edits/``."""
        if table.num_rows == 0:
            return
        name = f"{EDITS}/{self.key}.parquet"
        size = write_table(table, self.out_dir / name)
        self.files.append({"file": name, "rows": table.num_rows, "bytes": size})

    def write_file(self, name: str, data: bytes) -> Path:
        """A stage-specific output file (tokenized shards, indexes); written atomically."""
        from dataprep.corpus import atomic_write_bytes

        path = self.out_dir / name
        atomic_write_bytes(path, data)
        self.files.append({"file": name, "bytes": len(data)})
        return path

    def add_file(self, name: str) -> Path:
        """Register a file the stage wrote itself (already complete under ``name``)."""
        path = self.out_dir / name
        self.files.append({"file": name, "bytes": path.stat().st_size})
        return path

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + int(n)

    def marker(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("out_dir")
        return d


class Stage:
    """Base class. Subclasses set ``name``, ``Config`` and ``help``; most override ``apply``.

    - ``prepare(ctx)``: optional global pass; its picklable result (the state) is saved, reused
      by a resumed run, and given to ``tasks`` and to every task.
    - ``tasks(source, state)``: the units of work (default: one per input shard, same name out).
    - ``run_task(task, state, out)``: default reads the shard, calls ``apply``, writes results.
    - ``apply(table, state) -> (kept, rejected)``: pure, per shard.
    - ``finish(ctx, manifest)``: optional; add stage-wide files or totals to the manifest.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type]
    takes_corpus: ClassVar[bool] = True
    progress_unit: ClassVar[str] = "docs"
    cli_input: ClassVar[str | None] = None  # config field that `--input` fills (None: a corpus folder)
    help: ClassVar[str] = ""
    version: ClassVar[str] = "1"

    def __init__(self, config: Any):
        self.config = config

    def tasks(self, source: Corpus | None, state: Any = None) -> list[Task]:
        assert source is not None
        tasks = []
        for i, shard in enumerate(source.manifest.get("shards", [])):
            name = Path(shard["file"]).name.removesuffix(".parquet")
            tasks.append(Task(key=name, inputs=(str(source.path / shard["file"]),), weight=int(shard.get("rows", 1))))
        return tasks

    def source_fingerprint(self) -> str:
        """Fingerprint of the raw input, for stages that read files rather than a corpus."""
        raise NotImplementedError(f"stage {self.name} reads no corpus but has no source_fingerprint")

    def prepare(self, ctx: StageContext) -> Any:
        return None

    def run_task(self, task: Task, state: Any, out: TaskOutput) -> None:
        table = read_parquet(task.inputs[0])
        out.rows_in += table.num_rows
        out.chars_in += text_chars(table)
        kept, rejected = self.apply(table, state)
        out.write_kept(kept)
        out.write_rejected(rejected)

    def apply(self, table: pa.Table, state: Any) -> tuple[pa.Table, pa.Table]:
        raise NotImplementedError(f"stage {self.name} defines neither apply nor run_task")

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        return None
