"""The Ray executor: a two-node Ray cluster on this machine (Ray's own multi-node test fixture)
runs the sample pipeline to the same bytes as the local executor, and a killed worker's task is
retried to the same output."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import ROOT, snapshot, write_jsonl

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'dataprep[ray]')")

PLUGINS = str(ROOT / "tests" / "plugins")
MB = 1024 * 1024


def dataprep(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dataprep", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env})


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes of one CPU each (a head and a worker node, each with its own raylet and
    object store), started by Ray's test fixture; tasks of two workers land on both."""
    from ray.cluster_utils import Cluster

    saved = os.environ.get("PYTHONPATH")
    # the nodes' worker processes import the test plugins
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (PLUGINS, saved) if p)
    node = {"num_cpus": 1, "object_store_memory": 80 * MB}
    c = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        c.add_node(**node)
        c.wait_for_nodes()
        yield c
    finally:
        c.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def test_two_node_cluster_gives_the_local_executors_bytes(tmp_path, cluster):
    assert len([n for n in ray_nodes(cluster.address) if n["Alive"]]) == 2
    local, remote = tmp_path / "local", tmp_path / "ray"
    r = dataprep("run", "configs/sample.yaml", "--workdir", str(local), "--workers", "2", "-q", "--no-report")
    assert r.returncode == 0, r.stderr
    r = dataprep("run", "configs/sample.yaml", "--workdir", str(remote), "--workers", "2", "-q", "--no-report",
                 "--executor", "ray", "--ray-address", cluster.address)
    assert r.returncode == 0, r.stderr
    ours, theirs = snapshot(local), snapshot(remote)
    assert len([k for k in ours if k.endswith("/manifest")]) == 13  # every stage of the sample pipeline
    assert ours == theirs
    assert json.loads((remote / "13-tokenize" / "manifest.json").read_text())["tasks_run"] > 0


def ray_nodes(address: str) -> list[dict]:
    code = f"import ray, json; ray.init(address={address!r}, logging_level='ERROR'); print(json.dumps(ray.nodes()))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _dedup_pipeline(tmp_path: Path, stage: str, extra: dict, workdir: Path) -> Path:
    rng = random.Random(7)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6)) for _ in range(5000)]
    texts = [" ".join(rng.choices(words, k=60)) for _ in range(150)]  # 150 distinct texts, 4 copies of each
    docs = [{"id": f"d{i}", "text": texts[i % 150]} for i in range(600)]
    for j in range(6):
        write_jsonl(tmp_path / "in" / f"f{j}.jsonl", docs[j * 100:(j + 1) * 100])
    cfg = tmp_path / f"{workdir.name}.yaml"
    cfg.write_text(json.dumps({"workdir": str(workdir), "plugins": ["ray_test_stages"], "stages": [
        {"ingest": {"paths": [str(tmp_path / "in" / "*.jsonl")]}},
        {stage: {"method": "minhash", **extra}}]}))
    return cfg


def _outputs(folder: Path) -> dict:
    """Bytes of the kept shards; rows of the rejected ones, less the stage name they record."""
    m = json.loads((folder / "manifest.json").read_text())
    files = {rec["file"]: (folder / rec["file"]).read_bytes() for key in ("shards", "files") for rec in m[key]}
    rejected = {rec["file"]: pq.read_table(folder / rec["file"]).drop_columns(["stage"]).to_pylist()
                for rec in m["rejected_shards"]}
    return {"files": files, "rejected": rejected, "reasons": m["reasons"],
            "rows": (m["rows_in"], m["rows_kept"], m["rows_rejected"])}


def test_a_killed_worker_is_retried_to_the_same_output(tmp_path, cluster):
    env = {"PYTHONPATH": PLUGINS}
    local = _dedup_pipeline(tmp_path, "dedup", {}, tmp_path / "local")
    r = dataprep("run", str(local), "--workers", "2", "-q", "--no-report", **env)
    assert r.returncode == 0, r.stderr
    marker = tmp_path / "died"
    dying = _dedup_pipeline(tmp_path, "dying_dedup", {"die_marker": str(marker)}, tmp_path / "ray")
    r = dataprep("run", str(dying), "--workers", "2", "-q", "--no-report", "--executor", "ray",
                 "--ray-address", cluster.address, **env)
    assert r.returncode == 0, r.stderr
    assert marker.exists()  # a worker was killed mid-stage, and its task ran again elsewhere
    expected = _outputs(tmp_path / "local" / "02-dedup")
    assert expected["reasons"] == {"dedup:minhash:document": 450}
    assert _outputs(tmp_path / "ray" / "02-dying_dedup") == expected


def test_a_worker_lost_beyond_the_retries_is_one_line(tmp_path, cluster):
    cfg = _dedup_pipeline(tmp_path, "dying_dedup", {"die_marker": str(tmp_path / "died")}, tmp_path / "ray")
    data = json.loads(cfg.read_text())
    data["executor"] = {"type": "ray", "address": cluster.address, "max_retries": 0}
    cfg.write_text(json.dumps(data))
    r = dataprep("run", str(cfg), "--workers", "2", "-q", "--no-report", PYTHONPATH=PLUGINS)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("(")]
    assert lines[-1].startswith("Error: a Ray worker or node was lost"), r.stderr
    assert "Traceback" not in r.stderr
    r = dataprep("run", str(cfg), "--workers", "2", "-q", "--no-report", PYTHONPATH=PLUGINS)  # the marker is there now
    assert r.returncode == 0, r.stderr


def test_executor_options_are_checked_before_work(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"workdir: {tmp_path / 'w'}\nexecutor: {{type: ray, num_cpus_per_task: 0}}\nstages:\n  - clean: {{}}\n")
    r = dataprep("run", str(cfg), "-q")
    assert r.returncode == 2 or r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].endswith("executor.num_cpus_per_task: must be > 0"), r.stderr
    assert not (tmp_path / "w").exists()


def test_a_folder_holding_another_dataprep_is_refused(tmp_path, monkeypatch):
    """Ray puts the driver's current folder first on its workers' sys.path: another copy of
    dataprep there would run in the workers. The executor refuses before starting Ray."""
    from dataprep.executor import RayExecutor, WorkerImportError

    (tmp_path / "dataprep").mkdir()
    (tmp_path / "dataprep" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkerImportError, match="run from another folder"):
        RayExecutor(1)
    assert not ray.is_initialized()


def test_tasks_run_in_the_drivers_folder(tmp_path, monkeypatch):
    """A worker of a cluster started elsewhere runs each task in the driver's current folder, so
    relative paths in a config mean the same in the tasks as in the driver."""
    from dataprep import __version__
    from dataprep.executor import _ray_call

    monkeypatch.chdir("/")
    assert _ray_call(lambda _: os.getcwd(), None, __version__, str(tmp_path)) == str(tmp_path)
    assert _ray_call(lambda _: os.getcwd(), None, __version__, str(tmp_path / "absent")) == str(tmp_path)
