import hashlib
import json
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (the suite is deterministic); set
# HYPOTHESIS_PROFILE=explore to draw fresh random examples instead.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent / "plugins"))


def read_corpus(folder: Path) -> list[dict]:
    """All kept rows of a corpus folder, in manifest order."""
    manifest = json.loads((Path(folder) / "manifest.json").read_text())
    rows = []
    for shard in manifest["shards"]:
        rows.extend(pq.read_table(Path(folder) / shard["file"]).to_pylist())
    return rows


def read_rejected(folder: Path) -> list[dict]:
    manifest = json.loads((Path(folder) / "manifest.json").read_text())
    rows = []
    for shard in manifest["rejected_shards"]:
        rows.extend(pq.read_table(Path(folder) / shard["file"]).to_pylist())
    return rows


def write_jsonl(path: Path, records: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent")
    return SHARED_DATA


VOLATILE = {"wall_time_s", "tasks_run", "tasks_skipped"}


def snapshot(workdir: Path) -> dict:
    """Everything a run leaves that must not depend on how it got there: each stage's manifest
    (less timings) and the bytes of every file the manifests list."""
    out = {}
    for stage in sorted(p for p in workdir.iterdir() if (p / "manifest.json").exists()):
        m = json.loads((stage / "manifest.json").read_text().replace(str(workdir), "WORKDIR"))
        out[f"{stage.name}/manifest"] = {k: v for k, v in m.items() if k not in VOLATILE}
        for key in ("shards", "rejected_shards", "files"):
            for rec in m.get(key, []):
                out[f"{stage.name}/{rec['file']}"] = hashlib.sha256((stage / rec["file"]).read_bytes()).hexdigest()
    return out
