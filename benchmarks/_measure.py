"""Shared helpers for benchmarks: run a command in a subprocess and sample the peak memory of its
whole process tree (the command plus its worker processes).

Two tree totals are kept. The RSS sum counts a page shared by several processes once per process:
forked workers share the parent's pages copy-on-write, so that sum overstates what the tree holds.
The PSS sum (proportional set size, from /proc/PID/smaps_rollup) divides each shared page among
the processes that map it, so it adds up to the memory the tree really uses; it is reported where
the kernel provides it (Linux 4.14+)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def _pss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_measured(cmd: list[str], interval: float = 0.05, env: dict | None = None) -> dict:
    """Run ``cmd``; return wall seconds, the CPU seconds of its whole process tree (user + system,
    each process's last sample: a busy machine disturbs this less than the wall time), peak tree
    RSS, peak tree PSS and peak single-process RSS (bytes), the command line of the process that had
    that largest RSS, and a timeline of samples ``(unix time, tree RSS, tree PSS, largest RSS)``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak = {"tree": 0, "pss": 0, "proc": 0, "proc_cmd": ""}
    timeline: list[tuple[float, int, int, int]] = []
    cpu: dict[int, float] = {}
    stop = threading.Event()

    def cpu_of(pid: int) -> float | None:
        try:  # /proc/PID/stat: utime and stime (clock ticks) follow the parenthesised command name
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, ValueError, IndexError):
            return None

    def rss_of(pid: int) -> int | None:
        try:  # /proc/PID/statm: the cheapest read of a process's resident size
            with open(f"/proc/{pid}/statm") as f:
                return int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            return None

    def sample() -> None:
        parent = psutil.Process(proc.pid)
        procs: list[psutil.Process] = [parent]
        tick = 0
        while not stop.is_set():
            if tick % 5 == 0:  # walking /proc for the process tree costs more than reading sizes
                try:
                    procs = [parent, *parent.children(recursive=True)]
                except psutil.Error:
                    break
            tick += 1
            rss, top, top_pid, sizes = 0, 0, None, []
            for p in procs:
                r = rss_of(p.pid)
                if r is None:
                    continue
                c = cpu_of(p.pid)
                if c is not None:
                    cpu[p.pid] = c
                rss += r
                sizes.append((p.pid, r))
                if r > top:
                    top, top_pid = r, p
            # PSS walks every mapping of a process (smaps_rollup): read it only near the peak, so
            # the sampler does not take a sizeable share of the CPU it measures
            pss = sum(_pss(pid) or r for pid, r in sizes) if rss >= 0.95 * peak["tree"] else rss
            timeline.append((time.time(), rss, pss, top))
            peak["tree"] = max(peak["tree"], rss)
            peak["pss"] = max(peak["pss"], pss)
            if top > peak["proc"]:
                try:
                    peak["proc"], peak["proc_cmd"] = top, " ".join(top_pid.cmdline())[:200]
                except psutil.Error:
                    peak["proc"] = top
            time.sleep(interval)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    stop.set()
    th.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}")
    return {"wall_s": wall, "cpu_s": sum(cpu.values()), "peak_tree_rss": peak["tree"], "peak_tree_pss": peak["pss"],
            "peak_proc_rss": peak["proc"], "peak_proc_cmd": peak["proc_cmd"], "timeline": timeline,
            "stdout": out.decode()}


def prepare_corpus(work: Path, docs: int, reuse: bool, generate, workers: int) -> int:
    """``work/corpus.jsonl`` from ``generate(path, docs)`` (returns its bytes of text) and its
    ingested corpus in ``work/ingested``; with ``reuse``, a corpus of that size already there is
    kept and everything else in ``work`` (earlier results) goes. Returns the bytes of text."""
    import json
    import shutil

    src = work / "corpus.jsonl"
    ingested = work / "ingested" / "manifest.json"
    if reuse and ingested.exists() and json.loads(ingested.read_text())["rows_in"] == docs:
        for old in work.iterdir():
            if old.name not in ("corpus.jsonl", "ingested"):
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        size = sum(len(json.loads(line)["text"].encode()) for line in open(src, encoding="utf-8"))
        print(f"corpus: {docs:,} docs, {size / 1e6:,.0f} MB of text, reused from {work}")
        return size
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t = time.perf_counter()
    size = generate(src, docs)
    print(f"corpus: {docs:,} docs, {size / 1e6:,.0f} MB of text, generated in {time.perf_counter() - t:.0f} s")
    subprocess.run([sys.executable, "-m", "dataprep", "ingest", "--input", str(src), "--output",
                    str(work / "ingested"), "--workers", str(workers), "--quiet"], check=True)
    return size


def stage_runs(workdir: Path, timeline: list) -> list[tuple[Path, dict, list]]:
    """(stage folder, its manifest, the timeline samples taken while it ran) for each finished
    stage of a workdir, in order; a stage's span ends at its manifest's time and lasts its
    ``wall_time_s``."""
    import json

    out = []
    for d in sorted(workdir.iterdir()):
        man = d / "manifest.json"
        if d.is_dir() and man.exists():
            m = json.loads(man.read_text())
            end = man.stat().st_mtime
            out.append((d, m, [x for x in timeline if end - m["wall_time_s"] - 0.05 <= x[0] <= end + 0.05]))
    return out


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def ensure_datatrove(root: Path, python: str | None, make: bool) -> str | None:
    """The python of the datatrove venv the benchmarks share (``root``/bench_out/datatrove-venv),
    or of ``python``; created with datatrove[processing] when ``make`` and absent; None if none."""
    if python:
        return python if Path(python).exists() else None
    venv = root / "bench_out" / "datatrove-venv"
    py = venv / "bin" / "python"
    if py.exists():
        return str(py)
    if not make:
        return None
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "datatrove[processing]", "orjson", "spacy"])
    return str(py) if r.returncode == 0 else None
