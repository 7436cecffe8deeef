"""The Ray executor against the local one: the same pipeline, the same corpus, the same CPU count.

    python benchmarks/bench_ray.py [--docs 100000 | --mb 220] [--workers 2] [--stages LIST]
        [--no-running] [--workdir bench_out/ray] [--json results.json]

Corpus: benchmarks/bench_pipeline.py's generator (Chinese and English documents recombined from
the sample corpus' and the seed pages' sentences, 5% exact copies, 20% near-variants), cut to the
first --docs documents (default 100,000), or --mb MB of JSONL. It is cached under
WORKDIR/corpus/ and reused by later runs with the same size.

Pipeline: bench_pipeline.pipeline_config (configs/sample.yaml's stages, OLMo 2 tokenizer when
../shared/data/tokenizers/ has it), each run with its own decontamination index folder so that
both build it. --stages keeps a subset, e.g. `ingest,clean,langid,dedup,quality,tokenize` (every
dedup entry is kept when `dedup` is named).

Runs, one after the other, each as one `dataprep run CONFIG --workers N` command:

  local        the default executor (a forkserver process pool of N workers)
  ray          `--executor ray`: the command starts a Ray instance with N CPUs itself and stops
               it at the end, so Ray's start-up and shutdown are in its time
  ray-running  `--executor ray --ray-address HEAD_IP:PORT` against a Ray head started before
               the command (`ray start --head --block --num-cpus N` in its own process group,
               stopped after it by that group's id: this script ends only the processes it
               started); the time `ray start` took is shown apart. When the head turns on Ray's
               token authentication, the command gets RAY_AUTH_MODE=token. --no-running leaves
               this run out.

Reported: each stage's seconds (its manifest's `wall_time_s`), the whole command's wall time,
Ray's overhead in percent ((ray - local) / local) for the stages and the command, and peak RSS of
the command's process tree, in each stage and over the run (benchmarks/_measure.py, sampled every
0.1 s; for ray-running this leaves out the Ray processes started before the command, i.e. its
workers). Then every file that each stage's manifest lists ("shards", "rejected_shards", "files")
is hashed with SHA-256 and compared with the local run's: the outputs must be byte-identical.
Exits 1 when they are not.

The whole pipeline at 100,000 documents takes 4-6 minutes per run on 2 shared cores, so no
subset is needed there; --stages is for larger corpora or quicker checks, and the output names
the stages that ran.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import mb, run_measured, stage_runs  # noqa: E402
from bench_pipeline import SEED, generate, pipeline_config  # noqa: E402

BYTES_PER_DOC_GUESS = 2_400  # the generator's documents average ~1.8-2.2 KB of JSONL


def make_corpus(base: Path, docs: int | None, mb_target: float | None) -> tuple[Path, dict]:
    """The corpus of --docs documents (or --mb MB), generated once and cached under base/corpus/."""
    name = f"docs{docs}" if docs else f"mb{mb_target:g}"
    folder = base / "corpus"
    path, meta_path = folder / f"{name}.jsonl", folder / f"{name}.json"
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        print(f"corpus: {meta['docs']:,} docs, {meta['bytes'] / 1e6:,.1f} MB JSONL, reused from {path}")
        return path, meta
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if docs:
        target = docs * BYTES_PER_DOC_GUESS
        while True:  # the same seed gives the same documents in the same order: a larger run extends a smaller one
            gen = generate(path, target, SEED)
            if gen["docs"] >= docs:
                break
            target = int(target * 1.5 * docs / gen["docs"])
        tmp = path.with_suffix(".tmp")
        size = 0
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            for i, line in enumerate(src):
                if i == docs:
                    break
                dst.write(line)
                size += len(line)
        tmp.replace(path)
        meta = {"docs": docs, "bytes": size, "seed": SEED, "generated_docs": gen["docs"]}
    else:
        gen = generate(path, int(mb_target * 1e6), SEED)
        meta = {"docs": gen["docs"], "bytes": gen["bytes"], "seed": SEED}
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    meta_path.write_text(json.dumps(meta))
    print(f"corpus: {meta['docs']:,} docs, {meta['bytes'] / 1e6:,.1f} MB JSONL, generated in {meta['seconds']} s")
    return path, meta


def config_for(corpus: Path, run_dir: Path, stages: list[str] | None) -> tuple[Path, str, list[str]]:
    cfg, tok = pipeline_config(corpus, run_dir / "run")
    if stages:
        cfg["stages"] = [e for e in cfg["stages"] if next(iter(e)) in stages]
    for entry in cfg["stages"]:
        (name, opts), = entry.items()
        if name == "decontaminate":
            opts["index_dir"] = str(run_dir / "eval-index")  # each run builds its own
            opts["against"] = [a if "=" not in a or Path(a.split("=", 1)[1]).is_absolute()
                               else f"{a.split('=', 1)[0]}={ROOT / a.split('=', 1)[1]}" for a in opts["against"]]
    path = run_dir / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    names = [next(iter(e)) for e in cfg["stages"]]
    return path, tok, names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayHead:
    """`ray start --head --block` as a child process in its own process group; stopped by that id."""

    def __init__(self, cpus: int):
        self.port = free_port()
        ray_cli = str(Path(sys.executable).with_name("ray"))
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [ray_cli, "start", "--head", "--block", f"--num-cpus={cpus}", f"--port={self.port}",
             "--include-dashboard=false", "--disable-usage-stats"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True)
        self.address = ""
        self.env: dict[str, str] = {}  # what a driver needs to join
        log = []
        try:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                log.append(line)
                found = re.search(r"--address='([^']+)'", line)
                if found:
                    self.address = found.group(1)
                if "Token authentication is enabled" in line:  # Ray's default when a token exists
                    self.env["RAY_AUTH_MODE"] = "token"
                if "block forever" in line:
                    break
            else:
                raise SystemExit("ray start failed:\n" + "".join(log))
            if not self.address:
                raise SystemExit("ray start did not print the head's address:\n" + "".join(log))
            self.start_s = time.perf_counter() - t0
            threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]
            # wait until the cluster takes a driver (the head's GCS and raylet are up)
            probe = subprocess.run([sys.executable, "-c", f"import ray; ray.init(address='{self.address}', "
                                                          "logging_level=40); ray.shutdown()"], capture_output=True,
                                   env={**os.environ, **self.env})
            if probe.returncode != 0:
                raise SystemExit(f"cannot connect to the Ray head at {self.address}:\n{probe.stderr.decode()[-2000:]}")
            self.ready_s = time.perf_counter() - t0
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        pgid = self.proc.pid
        try:
            self.proc.send_signal(signal.SIGTERM)  # ray start --block stops the processes it started
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(1)
        try:
            os.killpg(pgid, signal.SIGKILL)  # anything of this head left behind (same process group)
        except ProcessLookupError:
            pass
        self.proc.wait()
        # `ray start` records its address for `auto`, and ray.init() without an address joins
        # the cluster recorded there: leave no record of a head that is gone
        record = Path("/tmp/ray/ray_current_cluster")
        try:
            if record.read_text().strip().endswith(f":{self.port}"):
                record.unlink()
        except OSError:
            pass


def run_pipeline(mode: str, corpus: Path, base: Path, workers: int, stages: list[str] | None) -> dict:
    run_dir = base / mode
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cfg_path, tok, names = config_for(corpus, run_dir, stages)
    cmd = [sys.executable, "-m", "dataprep", "run", str(cfg_path), "--workers", str(workers), "--quiet"]
    head = None
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    if mode == "ray":
        cmd += ["--executor", "ray"]
    elif mode == "ray-running":
        head = RayHead(workers)
        cmd += ["--executor", "ray", "--ray-address", head.address]
        env.update(head.env)
    load = os.getloadavg()[0]
    try:
        r = run_measured(cmd, interval=0.1, env=env)
    finally:
        if head is not None:
            head.stop()
    stages_out = []
    for d, m, seen in stage_runs(run_dir / "run", r["timeline"]):
        label = d.name
        if m.get("stage") == "dedup":
            label += f" {m['config']['method']}/{m['config']['level']}"
        stages_out.append({"dir": d.name, "stage": label, "seconds": m["wall_time_s"],
                           "rows_in": m.get("rows_in"), "rows_kept": m.get("rows_kept"),
                           "peak_tree_rss": max((x[1] for x in seen), default=0)})
    res = {"mode": mode, "workers": workers, "wall_s": round(r["wall_s"], 2),
           "stage_s": round(sum(s["seconds"] for s in stages_out), 2), "stages": stages_out,
           "peak_tree_rss": r["peak_tree_rss"], "peak_tree_pss": r["peak_tree_pss"],
           "peak_proc_rss": r["peak_proc_rss"], "load_avg_start": load, "tokenizer": tok,
           "stage_names": names, "run_dir": str(run_dir / "run")}
    if head is not None:
        res["ray_start_s"] = round(head.start_s, 2)
        res["ray_ready_s"] = round(head.ready_s, 2)
    print(f"{mode}: command {res['wall_s']:.1f} s, stages {res['stage_s']:.1f} s, peak RSS tree "
          f"{mb(res['peak_tree_rss'])} (load average at its start {load:.1f})", flush=True)
    return res


def hashes(run: Path) -> dict[str, str]:
    """SHA-256 of every file each stage's manifest lists, keyed by STAGE_DIR/FILE."""
    out = {}
    for d in sorted(run.iterdir()):
        man = d / "manifest.json"
        if not (d.is_dir() and man.exists()):
            continue
        m = json.loads(man.read_text())
        for key in ("shards", "rejected_shards", "files"):
            for rec in m.get(key, []):
                h = hashlib.sha256()
                with open(d / rec["file"], "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                out[f"{d.name}/{rec['file']}"] = h.hexdigest()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--docs", type=int, default=None, help="documents in the corpus (default 100,000)")
    size.add_argument("--mb", type=float, default=None, help="MB of JSONL instead of a document count")
    ap.add_argument("--workers", type=int, default=2, help="worker processes / Ray CPUs for every run (default 2)")
    ap.add_argument("--stages", default=None,
                    help="comma-separated stage names to keep from the pipeline (default: all of them)")
    ap.add_argument("--no-running", action="store_true", help="skip the run against an already started Ray head")
    ap.add_argument("--workdir", default=str(ROOT / "bench_out" / "ray"))
    ap.add_argument("--keep", action="store_true", help="keep the runs' outputs (the corpus is always kept)")
    ap.add_argument("--json", default=None, help="write the results to this JSON file")
    args = ap.parse_args()
    docs = args.docs if args.docs or args.mb else 100_000
    stages = [s.strip() for s in args.stages.split(",")] if args.stages else None

    base = Path(args.workdir).resolve()
    os.chdir(ROOT)  # configs/sample.yaml's relative paths
    print(f"machine: {os.cpu_count()} CPUs, load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    corpus, meta = make_corpus(base, docs, args.mb)
    modes = ["local", "ray"] + ([] if args.no_running else ["ray-running"])
    runs = [run_pipeline(mode, corpus, base, args.workers, stages) for mode in modes]
    local = runs[0]

    ingest = next((s for s in local["stages"] if s["dir"].endswith("-ingest")), None)
    print(f"\ncorpus {meta['docs']:,} docs ({meta['bytes'] / 1e6:,.1f} MB JSONL); ingest kept "
          f"{ingest['rows_kept'] if ingest else '?':,} rows; --workers {args.workers}; tokenizer {local['tokenizer']}")
    print("pipeline: " + ", ".join(local["stage_names"])
          + (" (a subset of bench_pipeline's stages: --stages)" if stages else " (all of bench_pipeline's stages)"))
    head = f"{'stage':<26}{'rows in':>10}" + "".join(f"{r['mode'] + ' s':>15}" for r in runs[:2])
    head += f"{'ray vs local':>14}" + "".join(f"{r['mode'] + ' s':>16}{'vs local':>10}" for r in runs[2:])
    print(head)
    for i, s in enumerate(local["stages"]):
        row = f"{s['stage']:<26}{s['rows_in'] or 0:>10,}"
        row += "".join(f"{r['stages'][i]['seconds']:>15.1f}" for r in runs[:2])
        row += f"{(runs[1]['stages'][i]['seconds'] - s['seconds']) / max(s['seconds'], 1e-9):>+14.0%}"
        for r in runs[2:]:
            row += f"{r['stages'][i]['seconds']:>16.1f}"
            row += f"{(r['stages'][i]['seconds'] - s['seconds']) / max(s['seconds'], 1e-9):>+10.0%}"
        print(row)
    overhead = {}
    for key, label in (("stage_s", "stages total"), ("wall_s", "command")):
        row = f"{label:<26}{'':>10}" + "".join(f"{r[key]:>15.1f}" for r in runs[:2])
        o = (runs[1][key] - local[key]) / local[key]
        overhead[f"ray_{key}"] = o
        row += f"{o:>+14.1%}"
        for r in runs[2:]:
            o = (r[key] - local[key]) / local[key]
            overhead[f"ray_running_{key}"] = o
            row += f"{r[key]:>16.1f}{o:>+10.1%}"
        print(row)
    print("peak RSS of the command's process tree in each stage (MB): " + "; ".join(
        f"{s['stage']} " + " / ".join(f"{r['stages'][i]['peak_tree_rss'] / 1e6:,.0f}" for r in runs)
        for i, s in enumerate(local["stages"])) + f" ({' / '.join(r['mode'] for r in runs)})")
    print("peak RSS, command's process tree: " + ", ".join(f"{r['mode']} {mb(r['peak_tree_rss'])}" for r in runs)
          + (" (ray-running: without the Ray processes started before the command)" if len(runs) > 2 else ""))
    for r in runs[2:]:
        print(f"ray start --head --block took {r['ray_start_s']:.1f} s, {r['ray_ready_s']:.1f} s until a driver "
              f"could connect (not in ray-running's times)")
    print("load average at each run's start: " + ", ".join(f"{r['mode']} {r['load_avg_start']:.1f}" for r in runs))

    ref = hashes(Path(local["run_dir"]))
    identical = True
    for r in runs[1:]:
        other = hashes(Path(r["run_dir"]))
        diff = sorted(k for k in ref.keys() | other.keys() if ref.get(k) != other.get(k))
        r["files_compared"], r["files_differing"] = len(ref), diff
        if diff:
            identical = False
            print(f"{r['mode']}: {len(diff)} of {len(ref)} files differ from local: {', '.join(diff[:10])}")
        else:
            print(f"{r['mode']}: all {len(ref)} files listed in the manifests are byte-identical to local's (SHA-256)")

    if not args.keep:
        for r in runs:
            shutil.rmtree(Path(r["run_dir"]).parent, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"corpus": meta, "runs": runs, "overhead": overhead,
                                               "identical": identical, "stages_subset": stages}, indent=2))
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
