"""Inputs and workdir on object storage: a real S3 API (moto's server, on localhost) holds the raw
input and every stage's output; the shards equal a local run's, and a driver killed mid-run
resumes from what is on S3 with an empty cache."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, VOLATILE

moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")
pafs = pytest.importorskip("pyarrow.fs")

BUCKET = "corpus"
# what differs by design between a local run and one on S3: the ingest fingerprint knows the
# inputs by their URIs, so every fingerprint after it differs; the input paths name the workdir
BY_PLACE = {"fingerprint", "input", "created_by"}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_EC2_METADATA_DISABLED": "true"}
    fs = pafs.S3FileSystem(endpoint_override=f"{host}:{port}", scheme="http", region="us-east-1",
                           access_key="test", secret_key="test", allow_bucket_creation=True)
    fs.create_dir(BUCKET)
    for p in sorted((ROOT / "sample_data" / "raw").glob("*.jsonl")):
        with open(p, "rb") as f, fs.open_output_stream(f"{BUCKET}/raw/{p.name}") as out:
            out.write(f.read())
    yield fs, env
    server.stop()


def dataprep(*args: str, env: dict, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dataprep", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env, "DATAPREP_CACHE": str(cache)})


def sample_config(tmp_path: Path, workdir: str, raw: str) -> Path:
    cfg = yaml.safe_load((ROOT / "configs" / "sample.yaml").read_text())
    cfg["workdir"] = workdir
    cfg["stages"][0]["ingest"]["paths"] = [raw]
    path = tmp_path / f"sample-{abs(hash(workdir)) % 10**6}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))  # the order of `shares` is the buckets' order
    return path


def download_tree(fs, prefix: str, dest: Path) -> None:
    for info in fs.get_file_info(pafs.FileSelector(prefix, recursive=True)):
        if info.type == pafs.FileType.File:
            target = dest / info.path[len(prefix) + 1:]
            target.parent.mkdir(parents=True, exist_ok=True)
            with fs.open_input_stream(info.path) as f:
                target.write_bytes(f.read())


def outputs(workdir: Path) -> dict:
    """Each stage's manifest (less what depends on the place) and the bytes of every file it lists."""
    out = {}
    for stage in sorted(p for p in workdir.iterdir() if (p / "manifest.json").exists()):
        m = json.loads((stage / "manifest.json").read_text())
        m["config"].pop("paths", None)  # ingest's inputs: local files or objects
        m.pop("config_hash")
        out[f"{stage.name}/manifest"] = {k: v for k, v in m.items() if k not in VOLATILE | BY_PLACE}
        for key in ("shards", "rejected_shards", "files"):
            for rec in m.get(key, []):
                out[f"{stage.name}/{rec['file']}"] = (stage / rec["file"]).read_bytes()
    return out


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    work = tmp_path_factory.mktemp("local") / "w"
    r = subprocess.run([sys.executable, "-m", "dataprep", "run", "configs/sample.yaml", "--workdir", str(work),
                        "--workers", "2", "-q", "--no-report"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return outputs(work)


def test_sample_pipeline_on_s3_gives_the_local_shards(tmp_path, s3, local_reference):
    fs, env = s3
    cfg = sample_config(tmp_path, f"s3://{BUCKET}/run1", f"s3://{BUCKET}/raw/*.jsonl")
    r = dataprep("run", str(cfg), "--workers", "2", "-q", env=env, cache=tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    assert f"output: s3://{BUCKET}/run1/13-tokenize" in r.stdout
    download_tree(fs, f"{BUCKET}/run1", tmp_path / "from-s3")
    got = outputs(tmp_path / "from-s3")
    assert len([k for k in got if k.endswith("/manifest")]) == 13
    assert got == local_reference
    assert (tmp_path / "from-s3" / "report.html").exists()
    assert not any(p.name in ("_state.pkl", ".lock") for p in (tmp_path / "from-s3").rglob("*"))
    m = json.loads((tmp_path / "from-s3" / "02-clean" / "manifest.json").read_text())
    assert m["input"]["path"] == f"s3://{BUCKET}/run1/01-ingest"  # the manifest names the workdir, not the cache

    # a second run, on another machine (an empty cache): every stage is found finished on S3
    r = dataprep("run", str(cfg), "--workers", "2", "-q", "--no-report", env=env, cache=tmp_path / "cache2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("cached") == 13, r.stdout
    copied = [p for p in (tmp_path / "cache2").rglob("*.parquet")]
    assert copied == []  # nothing but manifests (and the raw inputs, to fingerprint them) came down


def test_a_driver_killed_mid_run_resumes_from_s3(tmp_path, s3, local_reference):
    fs, env = s3
    cfg = sample_config(tmp_path, f"s3://{BUCKET}/run2", f"s3://{BUCKET}/raw/*.jsonl")
    full = {**os.environ, **env, "DATAPREP_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "dataprep", "run", str(cfg), "--workers", "2", "-q", "--no-report"],
                            cwd=ROOT, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:  # kill once a few stages are up on S3
        done = [i for i in fs.get_file_info(pafs.FileSelector(f"{BUCKET}/run2", recursive=True, allow_not_found=True))
                if i.base_name == "manifest.json"]
        if len(done) >= 4:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    r = dataprep("run", str(cfg), "--workers", "2", "-q", "--no-report", env=env, cache=tmp_path / "other-cache")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("cached") >= 4, r.stdout
    download_tree(fs, f"{BUCKET}/run2", tmp_path / "from-s3")
    assert outputs(tmp_path / "from-s3") == local_reference


def test_missing_bucket_is_one_line(tmp_path, s3):
    _, env = s3
    cfg = sample_config(tmp_path, "s3://no-such-bucket/run", f"s3://{BUCKET}/raw/*.jsonl")
    r = dataprep("run", str(cfg), "-q", env=env, cache=tmp_path / "cache")
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("Error: ") and "s3://no-such-bucket/run" in lines[0], r.stderr


def test_missing_input_objects_are_one_line(tmp_path, s3):
    _, env = s3
    cfg = sample_config(tmp_path, str(tmp_path / "w"), f"s3://{BUCKET}/nothing-here/*.jsonl")
    r = dataprep("run", str(cfg), "-q", env=env, cache=tmp_path / "cache")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].endswith(f"no object matches 's3://{BUCKET}/nothing-here/*.jsonl'"), r.stderr


def test_single_stage_commands_read_and_write_s3(tmp_path, s3):
    fs, env = s3
    raw = str(ROOT / "sample_data" / "raw" / "web-zh.jsonl")
    for out in (f"s3://{BUCKET}/single/ingest", str(tmp_path / "ingest")):
        r = dataprep("ingest", "-i", raw, "-o", out, "-q", env=env, cache=tmp_path / "cache")
        assert r.returncode == 0, r.stderr
    for src, out in ((f"s3://{BUCKET}/single/ingest", f"s3://{BUCKET}/single/clean"),
                     (str(tmp_path / "ingest"), str(tmp_path / "clean"))):
        r = dataprep("clean", "-i", src, "-o", out, "-q", env=env, cache=tmp_path / "other-cache")
        assert r.returncode == 0, r.stderr
    download_tree(fs, f"{BUCKET}/single", tmp_path / "from-s3")
    for name in ("ingest", "clean"):
        ours = json.loads((tmp_path / name / "manifest.json").read_text())
        theirs = json.loads((tmp_path / "from-s3" / name / "manifest.json").read_text())
        assert [s["file"] for s in theirs["shards"]] == [s["file"] for s in ours["shards"]] != []
        for s in ours["shards"]:
            assert (tmp_path / "from-s3" / name / s["file"]).read_bytes() == (tmp_path / name / s["file"]).read_bytes()


@pytest.mark.parametrize("pattern, key, matches", [
    ("b/raw/*.jsonl", "b/raw/x.jsonl", True), ("b/raw/*.jsonl", "b/raw/a/x.jsonl", False),
    ("b/raw/**/*.jsonl", "b/raw/x.jsonl", True), ("b/raw/**/*.jsonl", "b/raw/a/b/x.jsonl", True),
    ("b/r?w/[ab]*.gz", "b/raw/a1.gz", True), ("b/r?w/[ab]*.gz", "b/r/w/a1.gz", False),
    ("b/r?w/[ab]*.gz", "b/raw/c1.gz", False), ("b/raw/x.jsonl", "b/raw/x.jsonl", True),
])
def test_object_patterns_match_as_local_globs_do(pattern, key, matches):
    import re

    from dataprep.storage import _glob_regex

    assert bool(re.fullmatch(_glob_regex(pattern), key)) is matches
