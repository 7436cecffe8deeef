"""A run stopped by a signal: Ctrl-C (SIGINT to the whole process group, as a terminal sends it),
SIGTERM or SIGHUP print one line and exit 128 + the signal; no worker outlives the main process,
even one killed with SIGKILL; a rerun resumes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from conftest import ROOT, write_jsonl

TASKS = 20


def config(tmp_path: Path, workdir: Path, delay: float = 0.4) -> Path:
    """A pipeline of ingest + a slow clean (TASKS tasks of `delay` seconds each)."""
    if not (tmp_path / "in").exists():
        for f in range(2):
            write_jsonl(tmp_path / "in" / f"in-{f}.jsonl",
                        [{"id": f"f{f}-{i}", "text": f"Document {i} of file {f}.\r\n"} for i in range(70)])
    cfg = tmp_path / f"{workdir.name}.yaml"
    cfg.write_text(yaml.safe_dump({"workdir": str(workdir), "plugins": ["engine_test_stages"], "stages": [
        {"ingest": {"paths": [str(tmp_path / "in" / "*.jsonl")], "shard_rows": 7}},
        {"slowclean": {"delay": delay}}]}))
    return cfg


def start(cfg: Path, workers: int = 2) -> subprocess.Popen:
    """`dataprep run CFG` in a process group of its own."""
    plugins = os.pathsep.join([str(ROOT / "tests" / "plugins"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": plugins}
    env.pop("DATAPREP_DEBUG", None)
    return subprocess.Popen([sys.executable, "-m", "dataprep", "run", str(cfg), "-q", "--workers", str(workers)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def markers(workdir: Path) -> set[str]:
    return {p.stem for p in (workdir / "02-slowclean" / "_tasks").glob("*.json")}


@pytest.fixture
def leftovers():
    """Processes to kill after the test, whatever its outcome (so that a failing test does not
    leave workers behind)."""
    processes: list[psutil.Process] = []
    yield processes
    for p in alive(processes):
        p.kill()


def wait_mid_run(proc: subprocess.Popen, workdir: Path) -> list[psutil.Process]:
    """Wait until two tasks of the slow stage are done; return the run's other processes (fork
    server, workers, resource tracker)."""
    deadline = time.time() + 60
    while len(markers(workdir)) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "the run did not get going"
        time.sleep(0.02)
    family = psutil.Process(proc.pid).children(recursive=True)
    workers = [p for p in family if p.ppid() != proc.pid]
    assert len(workers) >= 2, [p.cmdline() for p in family]
    return family


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def assert_all_gone(family: list[psutil.Process], seconds: float = 5) -> None:
    deadline = time.time() + seconds
    while alive(family) and time.time() < deadline:
        time.sleep(0.05)
    left = alive(family)
    assert not left, [(p.pid, p.cmdline()) for p in left]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: signal.Signals(s).name)
def test_workers_die_with_the_main_process(tmp_path, leftovers, sig):
    workdir = tmp_path / "w"
    proc = start(config(tmp_path, workdir))
    family = wait_mid_run(proc, workdir)
    leftovers += family
    os.kill(proc.pid, sig)  # the main process only, as `kill PID` does
    out, err = proc.communicate(timeout=30)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:  # handled: the run stops its workers and says so in one line
        assert proc.returncode == 128 + sig, err
        assert out == "" and err == f"stopped by {signal.Signals(sig).name}; rerun the same command to resume\n"
    assert_all_gone(family)
    assert len(markers(workdir)) < TASKS, "the signal landed mid-run"


def test_ctrl_c_prints_one_line_exits_130_and_the_rerun_resumes(tmp_path, leftovers):
    workdir = tmp_path / "w"
    cfg = config(tmp_path, workdir)
    proc = start(cfg)
    family = wait_mid_run(proc, workdir)
    leftovers += family
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C: every process of the group
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert out == "" and err == "interrupted; rerun the same command to resume\n"
    assert_all_gone(family)
    done = markers(workdir)
    assert 2 <= len(done) < TASKS
    assert not (workdir / "02-slowclean" / "manifest.json").exists()

    rerun = start(cfg)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    manifest = json.loads((workdir / "02-slowclean" / "manifest.json").read_text())
    assert manifest["tasks_skipped"] == len(done) and manifest["tasks_run"] == TASKS - len(done)

    reference = start(config(tmp_path, tmp_path / "ref", delay=0), workers=1)
    assert reference.communicate(timeout=120) and reference.returncode == 0
    shards = {p.relative_to(workdir): p.read_bytes() for p in sorted(workdir.rglob("*.parquet"))}
    assert len(shards) > TASKS and shards == {p.relative_to(tmp_path / "ref"): p.read_bytes()
                                              for p in sorted((tmp_path / "ref").rglob("*.parquet"))}
