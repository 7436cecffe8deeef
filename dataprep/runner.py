"""Runs stages: plans tasks, runs ``prepare`` once, runs tasks on an executor, checks the
accounting of every task, and writes the manifest last. Reruns skip finished stages and tasks.

Resumption works through fingerprints. A stage's fingerprint hashes its name, version, config
and its input's fingerprint, so changing a stage's config changes its own fingerprint and that
of every stage after it. Inside a stage, each finished task leaves ``_tasks/KEY.json`` after its
shards are renamed into place; a killed run leaves at worst unrenamed temporaries, which are
deleted, and the rerun computes only the tasks without a marker.
"""

from __future__ import annotations

import json
import pickle
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from dataprep import __version__
from dataprep.config import ConfigError, config_hash, option, parse, to_dict
from dataprep.corpus import (FORMAT, MANIFEST, Corpus, atomic_write_bytes, atomic_write_json, check_file,
                             clear_temporaries, ensure_dir)
from dataprep.executor import Executor, ExecutorConfig, make_executor, release_memory
from dataprep.lock import LOCK_FILE, folder_lock
from dataprep.registry import get_stage, load_plugins
from dataprep.stage import AccountingError, Stage, StageContext, Task, TaskOutput
from dataprep.storage import RemoteWorkdir, StorageConfig, configure, is_remote

TASKS_DIR = "_tasks"
STAGE_FILE = "_stage.json"
STATE_FILE = "_state.pkl"

_state_cache: dict[str, Any] = {}


def _load_state(path: str | None) -> Any:
    if path is None:
        return None
    if path not in _state_cache:
        _state_cache.clear()
        with open(path, "rb") as f:
            _state_cache[path] = pickle.load(f)[1]
    return _state_cache[path]


def check_accounting(stage_name: str, key: str, m: dict) -> None:
    added = m.get("rows_added", 0)  # markers written before the field existed have none
    if added < 0 or m["rows_in"] + added != m["rows_kept"] + m["rows_rejected"]:
        copies = f" + {added} added copies" if added else ""
        raise AccountingError(
            f"stage {stage_name!r}, task {key}: {m['rows_in']} rows in{copies} but {m['rows_kept']} kept + "
            f"{m['rows_rejected']} rejected; a stage must keep or reject every row"
        )
    if sum(m["reasons"].values()) != m["rows_rejected"]:
        raise AccountingError(f"stage {stage_name!r}, task {key}: rejected rows without a reason")


def execute_task(args: tuple[Stage, Task, str | None, str]) -> dict:
    """Run one task in a worker; write its outputs, check its accounting, then its marker."""
    stage, task, state_path, out_dir = args
    out = TaskOutput(Path(out_dir), task.key)
    stage.run_task(task, _load_state(state_path), out)
    marker = out.marker()
    check_accounting(stage.name, task.key, marker)
    atomic_write_json(Path(out_dir) / TASKS_DIR / f"{task.key}.json", marker)
    return marker


def stage_fingerprint(stage: Stage, input_fingerprint: str) -> str:
    return config_hash({
        "format": FORMAT, "stage": stage.name, "version": stage.version,
        "config": to_dict(stage.config), "input": input_fingerprint,
    })


def _check_foreign(out_dir: Path) -> None:
    """Refuse to write into a non-empty folder that no stage made (before anything is created there)."""
    if out_dir.is_file():
        raise ConfigError(f"{out_dir}: output path is a file, not a folder")
    if out_dir.is_dir() and any(p.name != LOCK_FILE for p in out_dir.iterdir()):
        if not (out_dir / STAGE_FILE).exists() and not (out_dir / MANIFEST).exists():
            raise ConfigError(f"{out_dir}: output folder exists and is not a dataprep stage output; refusing to overwrite it")


def _prepare_out_dir(out_dir: Path, fingerprint: str) -> None:
    """Make ``out_dir`` ours for this fingerprint, wiping output of a different config (the lock
    file, held by this run, stays)."""
    stage_file = out_dir / STAGE_FILE
    try:
        ours = json.loads(stage_file.read_text())
    except (OSError, json.JSONDecodeError):
        ours = None
    if ours is None or ours.get("fingerprint") != fingerprint:
        for p in out_dir.iterdir() if out_dir.is_dir() else []:
            if p.name != LOCK_FILE:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    ensure_dir(out_dir)
    if not stage_file.exists():
        atomic_write_json(stage_file, {"fingerprint": fingerprint})
    clear_temporaries(out_dir)


def _finished_tasks(tasks: list[Task], out_dir: Path) -> set[str]:
    """Keys of tasks whose marker exists and whose files are as the marker records; a task whose
    files were damaged or removed since is run again."""
    done = set()
    for t in tasks:
        path = out_dir / TASKS_DIR / f"{t.key}.json"
        if not path.exists():
            continue
        try:
            marker = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            marker = None
        if marker is not None and not any(check_file(out_dir, r) for k in ("shards", "rejected_shards", "files")
                                          for r in marker.get(k, [])):
            done.add(t.key)
        else:
            path.unlink()
    return done


def _warn_if_all_rejected(label: str, out_dir: Path, manifest: dict) -> None:
    """One loud line when a stage kept nothing: its top reasons and the first rejected row's detail."""
    if manifest.get("rows_in", 0) == 0 or manifest.get("rows_kept", 0) > 0:
        return
    top = sorted(manifest.get("reasons", {}).items(), key=lambda kv: -kv[1])[:3]
    reasons = ", ".join(f"{r} {n:,}" for r, n in top) or "no reason recorded"
    example = ""
    if manifest.get("rejected_shards"):
        from dataprep.corpus import read_parquet

        try:
            first = read_parquet(out_dir / manifest["rejected_shards"][0]["file"]).slice(0, 1).to_pylist()[0]
        except Exception:  # noqa: BLE001 - the warning must not fail the run
            first = {}
        if first.get("detail"):
            where = f"{first['origin']}: " if first.get("origin") else ""
            example = f"; e.g. {where}{first['detail']}"
    print(f"warning: {label} rejected all {manifest['rows_in']:,} rows ({reasons}){example}; check its options",
          file=sys.stderr)


@dataclass
class StageRun:
    name: str
    out_dir: Path
    manifest: dict
    skipped: bool
    tasks_run: int = 0


def run_stage(stage: Stage, source: Corpus | None, out_dir: str | Path, executor: Executor, *,
              quiet: bool = True, label: str | None = None, index: int | None = None,
              on_task: Callable[[dict], None] | None = None, input_fp: str | None = None) -> StageRun:
    """Run one stage into ``out_dir`` (or find it finished), holding the folder's lock.
    ``on_task(marker)`` runs in this process as each task finishes (after its marker is written);
    ``input_fp``: the input's fingerprint when the caller has it (a source stage lists its inputs)."""
    out_dir = Path(out_dir)
    _check_foreign(out_dir)
    with folder_lock(out_dir):
        return _run_stage_locked(stage, source, out_dir, executor, quiet=quiet, label=label or stage.name,
                                 index=index, on_task=on_task, input_fp=input_fp)


def _run_stage_locked(stage: Stage, source: Corpus | None, out_dir: Path, executor: Executor, *,
                      quiet: bool, label: str, index: int | None,
                      on_task: Callable[[dict], None] | None = None, input_fp: str | None = None) -> StageRun:
    if input_fp is None:
        input_fp = source.fingerprint if source is not None else stage.source_fingerprint()
    fp = stage_fingerprint(stage, input_fp)

    manifest_path = out_dir / MANIFEST
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
        except json.JSONDecodeError:
            old = {}
        if old.get("fingerprint") == fp:
            Corpus(out_dir, old).verify()  # a finished stage is trusted only if its files are as written
            return StageRun(stage.name, out_dir, old, skipped=True)
    if source is not None:
        source.verify()

    t0 = time.time()
    _prepare_out_dir(out_dir, fp)
    manifest_path.unlink(missing_ok=True)
    ctx = StageContext(source=source, out_dir=out_dir, executor=executor, quiet=quiet, label=label)
    state_path = out_dir / STATE_FILE
    state_file: str | None = None
    if state_path.exists():  # a resumed run reuses the finished global pass
        try:
            with open(state_path, "rb") as f:
                saved_fp, state = pickle.load(f)
            state_file = str(state_path) if saved_fp == fp else None
        except (OSError, EOFError, pickle.UnpicklingError, ValueError):
            state_file = None  # damaged: the global pass runs again
    if state_file is None:
        state = stage.prepare(ctx)
        release_memory()  # a global pass's arrays are gone; its heap need not stay for the tasks
        if state is not None:
            atomic_write_bytes(state_path, pickle.dumps((fp, state), protocol=5))
            state_file = str(state_path)
    tasks = stage.tasks(source, state)
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise AccountingError(f"stage {stage.name!r} planned two tasks with the same key")

    markers_dir = out_dir / TASKS_DIR
    finished = _finished_tasks(tasks, out_dir)
    pending = [t for t in tasks if t.key not in finished]
    _run_tasks(stage, pending, state_file, out_dir, executor, quiet, label, tasks, on_task)

    markers = [json.loads((markers_dir / f"{t.key}.json").read_text()) for t in tasks]
    for t, m in zip(tasks, markers):
        check_accounting(stage.name, t.key, m)
    manifest = build_manifest(stage, markers, fp, source, input_fp, index)
    manifest["tasks"] = len(tasks)
    manifest["tasks_run"] = len(pending)
    manifest["tasks_skipped"] = len(tasks) - len(pending)
    stage.finish(ctx, manifest)
    manifest["wall_time_s"] = round(time.time() - t0, 3)
    atomic_write_json(manifest_path, manifest)
    _warn_if_all_rejected(label, out_dir, manifest)
    return StageRun(stage.name, out_dir, manifest, skipped=False, tasks_run=len(pending))


def _run_tasks(stage: Stage, pending: list[Task], state_file: str | None, out_dir: Path, executor: Executor,
               quiet: bool, label: str, all_tasks: list[Task], on_task: Callable[[dict], None] | None = None) -> None:
    from tqdm import tqdm

    total = sum(t.weight for t in all_tasks)
    done_weight = total - sum(t.weight for t in pending)
    unit = stage.progress_unit
    bar = tqdm(total=total, initial=done_weight, unit=unit, unit_scale=True, desc=label, file=sys.stderr,
               disable=quiet or not pending, dynamic_ncols=True, leave=True)
    rows = 0
    t0 = time.time()
    try:
        items = [(stage, t, state_file, str(out_dir)) for t in pending]
        for i, marker in executor.imap_unordered(execute_task, items):
            if on_task is not None:
                on_task(marker)
            rows += marker["rows_in"]
            bar.update(pending[i].weight)
            if unit != "docs":
                bar.set_postfix_str(f"{rows / max(time.time() - t0, 1e-9):,.0f} docs/s", refresh=False)
    finally:
        bar.close()


def build_manifest(stage: Stage, markers: list[dict], fingerprint: str, source: Corpus | None,
                   input_fp: str, index: int | None) -> dict:
    totals = {k: sum(m.get(k, 0) for m in markers)
              for k in ("rows_in", "rows_added", "rows_kept", "rows_rejected", "chars_in", "chars_out")}
    reasons: dict[str, int] = {}
    counters: dict[str, int] = {}
    for m in markers:
        for k, v in m["reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
        for k, v in m["counters"].items():
            counters[k] = counters.get(k, 0) + v
    schema = next((m["schema"] for m in markers if m["schema"]), [])
    return {
        "format": FORMAT,
        "created_by": f"dataprep {__version__}",
        "stage": stage.name,
        "stage_index": index,
        "config": to_dict(stage.config),
        "config_hash": config_hash(to_dict(stage.config)),
        "fingerprint": fingerprint,
        "input": {"path": str(source.path) if source else None, "fingerprint": input_fp},
        "rows": totals["rows_kept"],
        **totals,
        "reasons": dict(sorted(reasons.items())),
        "counters": dict(sorted(counters.items())),
        "schema": schema,
        "shards": [s for m in markers for s in m["shards"]],
        "rejected_shards": [s for m in markers for s in m["rejected_shards"]],
        "files": [f for m in markers for f in m["files"]],
    }


# --- pipelines ---------------------------------------------------------------------------------


@dataclass
class PipelineConfig:
    stages: list[Any] = option(help="Stages in order, each a one-key mapping: `- dedup: {method: minhash}`.")
    workdir: str = option("work", help="Folder for stage outputs (WORKDIR/NN-stage/).")
    workers: int = option(0, help="Worker processes; 0 = CPU count. Output is identical for any value.")
    seed: int = option(0, help="Seed given to every stage that has a `seed` option and does not set its own.")
    executor: Literal["local", "ray"] | ExecutorConfig = option(
        "local", help="Where tasks run: `local` processes, `ray`, or a mapping such as "
                      "`{type: ray, address: auto, num_cpus_per_task: 1}` (see docs/SCALING.md).")
    plugins: list[str] = option([], help="Python modules to import first; they may @register extra stages.")
    storage: StorageConfig = option(default_factory=StorageConfig, help="Object storage for `s3://` workdirs and inputs: "
                                                           "`{endpoint_url: ..., region: ..., cache_dir: ...}`.")

    def validate(self) -> None:
        if self.workers < 0:
            raise ConfigError("workers: must be >= 0")
        if not self.stages:
            raise ConfigError("stages: a pipeline needs at least one stage")


def parse_pipeline(data: Any, origin: str = "config") -> tuple[PipelineConfig, list[Stage]]:
    """Validate a whole pipeline (every stage's options) before any work starts."""
    try:
        pipe = parse(PipelineConfig, data)
    except ConfigError as e:
        raise ConfigError(f"{origin}: {e}") from None
    load_plugins(pipe.plugins)
    stages = []
    for i, entry in enumerate(pipe.stages):
        where = f"stages[{i}]"
        if not (isinstance(entry, dict) and len(entry) == 1):
            raise ConfigError(f"{origin}: {where}: expected a one-key mapping such as `- clean: {{}}`, got {entry!r}")
        (name, opts), = entry.items()
        try:
            cls = get_stage(str(name))
        except ConfigError as e:
            raise ConfigError(f"{origin}: {where}: {e}") from None
        opts = dict(opts or {}) if isinstance(opts, dict) or opts is None else opts
        if isinstance(opts, dict) and "seed" in cls.Config.__dataclass_fields__ and "seed" not in opts:
            opts["seed"] = pipe.seed
        try:
            stages.append(cls(parse(cls.Config, opts, f"{where}.{name}")))
        except ConfigError as e:
            raise ConfigError(f"{origin}: {e}") from None
    return pipe, stages


def load_pipeline(path: str | Path) -> tuple[PipelineConfig, list[Stage]]:
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    return parse_pipeline(data, str(path))


def run_pipeline(pipe: PipelineConfig, stages: list[Stage], *, workdir: str | None = None,
                 workers: int | None = None, quiet: bool = True,
                 executor: ExecutorConfig | None = None) -> list[StageRun]:
    """Run ``stages`` in order into WORKDIR/NN-stage/; ``executor`` (else the config's) runs the tasks.
    A WORKDIR on object storage (``s3://...``) is worked in a local mirror (``dataprep.storage``)."""
    configure(pipe.storage)
    where = str(workdir or pipe.workdir)
    remote = RemoteWorkdir(where) if is_remote(where) else None
    root = remote.local if remote is not None else Path(where)
    if root.is_file():
        raise ConfigError(f"workdir {root}: is a file, not a folder")
    runs: list[StageRun] = []
    source: Corpus | None = None
    how = executor or (pipe.executor if isinstance(pipe.executor, ExecutorConfig) else ExecutorConfig(pipe.executor))
    with folder_lock(root), make_executor(how, workers if workers is not None else (pipe.workers or None)) as ex:
        for i, stage in enumerate(stages, start=1):
            out_dir = root / f"{i:02d}-{stage.name}"
            if stage.takes_corpus and source is None:
                raise ConfigError(f"stages[{i - 1}]: stage {stage.name!r} needs an input corpus; start with `ingest`")
            stage_source = source if stage.takes_corpus else None
            label = f"{i:02d}-{stage.name}"
            if remote is not None:
                run = run_remote_stage(remote, stage, stage_source, out_dir, ex, quiet=quiet, label=label, index=i)
            else:
                run = run_stage(stage, stage_source, out_dir, ex, quiet=quiet, label=label, index=i)
            runs.append(run)
            source = Corpus(out_dir, run.manifest, verified=True)
            release_memory()
    return runs


def run_remote_stage(remote: RemoteWorkdir, stage: Stage, source: Corpus | None, out_dir: Path, executor: Executor,
                     *, quiet: bool = True, label: str | None = None, index: int | None = None) -> StageRun:
    """``run_stage`` for a stage folder of a workdir on object storage: a stage whose manifest is
    there for the same fingerprint is skipped without downloading it; otherwise its finished
    tasks are downloaded, the source's shards too, the stage runs in the mirror, each task's
    files go up as it ends, and the manifest goes up last."""
    name = out_dir.name
    input_fp = source.fingerprint if source is not None else stage.source_fingerprint()
    fp = stage_fingerprint(stage, input_fp)
    manifest = remote.manifest(name)
    if manifest is not None and manifest.get("fingerprint") == fp:
        atomic_write_json(out_dir / MANIFEST, manifest)  # for the report; its shards stay remote until needed
        return StageRun(stage.name, out_dir, manifest, skipped=True)
    if source is not None:
        files = [s["file"] for s in source.manifest.get("shards", [])]
        remote.pull(source.path.name, only=[*files, MANIFEST])
    started = remote.stage_file(name)
    if started is not None and started.get("fingerprint") == fp:
        remote.pull(name)  # the tasks an earlier run finished
    else:
        remote.clear(name)

    def push(marker: dict) -> None:
        files = [r["file"] for k in ("shards", "rejected_shards", "files") for r in marker.get(k, [])]
        remote.push(name, [STAGE_FILE, *files, f"{TASKS_DIR}/{marker['key']}.json"])

    (out_dir / MANIFEST).unlink(missing_ok=True)  # object storage is the truth: a local manifest alone is no proof
    run = run_stage(stage, source, out_dir, executor, quiet=quiet, label=label, index=index, on_task=push,
                    input_fp=input_fp)
    remote.finish(name)
    return run
