"""Faults: damaged or swapped shards, a second run in the same folder, and kills at random points
of the full sample pipeline, which must resume to the same bytes as an undisturbed run."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, snapshot, write_jsonl

DATAPREP = [sys.executable, "-m", "dataprep"]


def dataprep(*args: str, cwd: Path = ROOT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*DATAPREP, *args], cwd=cwd, capture_output=True, text=True, timeout=300, **kw)


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- damaged intermediate shards ----------------------------------------------------------------


@pytest.fixture
def small_run(tmp_path):
    docs = [{"id": f"d{i}", "text": f"Document {i} says something of its own, number {i * 7}.\n\nSecond part {i % 5}."}
            for i in range(400)]
    for j in range(4):
        write_jsonl(tmp_path / "in" / f"f{j}.jsonl", docs[j * 100:(j + 1) * 100])
    cfg = tmp_path / "pipe.yaml"
    cfg.write_text(json.dumps({"workdir": str(tmp_path / "w"), "workers": 2, "stages": [
        {"ingest": {"paths": [str(tmp_path / "in" / "*.jsonl")]}}, {"clean": {}},
        {"dedup": {"method": "exact", "level": "paragraph"}}]}))
    r = dataprep("run", str(cfg), "-q")
    assert r.returncode == 0, r.stderr
    return cfg, tmp_path / "w"


def _truncate(p: Path, other: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _zero(p: Path, other: Path) -> None:
    p.write_bytes(b"")


def _swap(p: Path, other: Path) -> None:
    shutil.copyfile(other, p)


@pytest.mark.parametrize("damage", [_truncate, _zero, _swap], ids=["truncated", "zero-byte", "swapped"])
def test_damaged_shard_is_named_on_rerun_and_when_read(small_run, damage):
    cfg, work = small_run
    shard = work / "02-clean" / "part-00001-00000.parquet"
    damage(shard, work / "02-clean" / "part-00002-00000.parquet")

    rerun = dataprep("run", str(cfg), "-q")  # the finished stage is not trusted blindly
    assert_one_line_error(rerun, str(shard))

    shutil.rmtree(work / "03-dedup")  # the later stage reads it again
    assert_one_line_error(dataprep("run", str(cfg), "-q"), str(shard))
    single = dataprep("dedup", "-i", str(work / "02-clean"), "-o", str(work / "x"), "--method", "exact", "-q")
    assert_one_line_error(single, str(shard))


def test_damaged_page_inside_a_shard_is_named(small_run):
    """Same size, same footer: the page checksums catch it when the shard is read."""
    cfg, work = small_run
    shard = work / "02-clean" / "part-00001-00000.parquet"
    data = bytearray(shard.read_bytes())
    data[200] ^= 0xFF
    shard.write_bytes(bytes(data))
    single = dataprep("dedup", "-i", str(work / "02-clean"), "-o", str(work / "x"), "--method", "exact", "-q")
    assert_one_line_error(single, str(shard))


def test_damaged_output_of_a_finished_task_is_recomputed(small_run):
    """Inside an unfinished stage, a task whose shard was damaged after its marker runs again."""
    cfg, work = small_run
    before = snapshot(work)
    (work / "03-dedup" / "manifest.json").unlink()
    _truncate(work / "03-dedup" / "part-00000-00000.parquet", None)
    r = dataprep("run", str(cfg), "-q")
    assert r.returncode == 0, r.stderr
    assert snapshot(work) == before


# --- two runs in one folder -----------------------------------------------------------------------


def test_second_run_is_refused_while_the_first_holds_the_workdir(tmp_path):
    from dataprep.lock import folder_lock

    work = tmp_path / "w"
    with folder_lock(work):
        r = dataprep("run", "configs/sample.yaml", "--workdir", str(work), "-q")
    assert_one_line_error(r, str(work), f"process {os.getpid()}")
    assert sorted(p.name for p in work.iterdir()) == [".lock"]  # the loser wrote nothing


def test_single_stage_command_takes_the_output_folder_lock(tmp_path, small_run):
    from dataprep.lock import folder_lock

    cfg, work = small_run
    with folder_lock(tmp_path / "out"):
        r = dataprep("clean", "-i", str(work / "01-ingest"), "-o", str(tmp_path / "out"), "-q")
    assert_one_line_error(r, str(tmp_path / "out"), "in use by")


# --- kills at random points of the sample pipeline ----------------------------------------------------


@pytest.fixture(scope="module")
def sample_reference(tmp_path_factory):
    work = tmp_path_factory.mktemp("reference") / "w"
    t0 = time.time()
    r = dataprep("run", "configs/sample.yaml", "--workdir", str(work), "--workers", "2", "-q")
    assert r.returncode == 0, r.stderr
    return snapshot(work), time.time() - t0


def _alive(pids: list[int]) -> list[int]:
    import psutil

    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize("point", range(3))
def test_killed_sample_pipeline_resumes_to_identical_output(tmp_path, sample_reference, point):
    import psutil

    reference, seconds = sample_reference
    # points spread over the run (early, middle, late), jittered by a fixed seed
    delay = seconds * (0.2 + 0.3 * point) * random.Random(1234 + point).uniform(0.8, 1.2)
    work = tmp_path / "w"
    proc = subprocess.Popen([*DATAPREP, "run", "configs/sample.yaml", "--workdir", str(work), "--workers", "2", "-q"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay)
    family = [proc.pid]
    try:
        family += [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        pass
    os.killpg(proc.pid, signal.SIGKILL)  # a hard kill of the whole run, as the OOM killer or a lost node would
    proc.wait()
    deadline = time.time() + 10
    while _alive(family) and time.time() < deadline:
        time.sleep(0.1)
    r = dataprep("run", "configs/sample.yaml", "--workdir", str(work), "--workers", "2", "-q")
    assert r.returncode == 0, r.stderr
    assert snapshot(work) == reference


def test_a_stage_that_rejects_every_row_warns(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "body": f"text {i}"} for i in range(20)])
    r = dataprep("ingest", "-i", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out"), "-q")
    assert r.returncode == 0, r.stderr
    warning = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warning) == 1 and "rejected all 20 rows" in warning[0], r.stderr


def test_output_under_a_file_is_one_line(tmp_path, small_run):
    cfg, work = small_run
    (tmp_path / "blocker").write_text("a file, not a folder")
    r = dataprep("clean", "-i", str(work / "01-ingest"), "-o", str(tmp_path / "blocker" / "out"), "-q")
    assert_one_line_error(r, str(tmp_path / "blocker"))


def test_a_second_run_started_during_the_first_is_refused_and_the_first_is_undisturbed(tmp_path, sample_reference):
    reference, _ = sample_reference
    work = tmp_path / "w"
    first = subprocess.Popen([*DATAPREP, "run", "configs/sample.yaml", "--workdir", str(work), "--workers", "2", "-q"],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (work / ".lock").exists():
        time.sleep(0.02)
    second = dataprep("run", "configs/sample.yaml", "--workdir", str(work), "--workers", "2", "-q")
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert_one_line_error(second, str(work), "in use by process")
    assert snapshot(work) == reference

