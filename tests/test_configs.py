"""The shipped pipelines run end to end: the continued-pretraining mix (Chinese-heavy, with replay
of a general English corpus) meets its shares, and the sample pipeline's mix report is printed."""

import json
import subprocess
import sys

import yaml

from conftest import ROOT


def run(config, workdir):
    r = subprocess.run([sys.executable, "-m", "dataprep", "run", str(config), "--workdir", str(workdir),
                        "--workers", "2", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def test_continued_pretraining_config_replays_general_english(tmp_path):
    general = tmp_path / "general-en"
    run(ROOT / "configs" / "general_en.yaml", general)
    cfg = yaml.safe_load((ROOT / "configs" / "continued_pretraining.yaml").read_text())
    rebalance = next(s["rebalance"] for s in cfg["stages"] if "rebalance" in s)
    rebalance["replay"]["input"] = str(general / "06-quality")
    path = tmp_path / "cpt.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = run(path, tmp_path / "cpt")
    assert "replay" in out.stdout  # the mix report is printed
    manifest = json.loads((tmp_path / "cpt" / "09-rebalance" / "manifest.json").read_text())
    buckets = {b["bucket"]: b for b in manifest["rebalance"]["buckets"]}
    targets = {"other": 0.78, "math": 0.01, "code": 0.01, "replay": 0.20}
    for name, share in targets.items():
        assert abs(buckets[name]["achieved_share"] - share) <= 0.01, (name, buckets[name])
        assert buckets[name]["epochs"] <= 4
    assert (tmp_path / "cpt" / "10-tokenize" / "manifest.json").exists()
