"""Shared helpers for benchmarks: run a command in a subprocess and sample the peak RSS of its
whole process tree (the command plus its worker processes)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psutil


def run_measured(cmd: list[str], interval: float = 0.05, env: dict | None = None) -> dict:
    """Run ``cmd``; return wall seconds, peak tree RSS and peak single-process RSS (bytes)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak_tree = peak_proc = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_tree, peak_proc
        parent = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                procs = [parent, *parent.children(recursive=True)]
                rss = []
                for p in procs:
                    try:
                        rss.append(p.memory_info().rss)
                    except psutil.Error:
                        pass
                peak_tree = max(peak_tree, sum(rss))
                peak_proc = max(peak_proc, max(rss, default=0))
            except psutil.Error:
                break
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
    return {"wall_s": wall, "peak_tree_rss": peak_tree, "peak_proc_rss": peak_proc, "stdout": out.decode()}


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"
