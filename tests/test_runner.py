"""Runner promises: accounting, config errors before work, reruns, determinism, resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT, write_jsonl
from dataprep.cli import _add_stage_commands, cli
from dataprep.config import ConfigError
from dataprep.runner import parse_pipeline, run_pipeline
from dataprep.stage import AccountingError

TEXTS = ["Plain English text.", "中文文本，第二句。", "  spaced   out \r\n text  ", "zero\u200bwidth", "ＦＵＬＬ width",
         "control\x07char", "   ", "Ünïcödé e\u0301"]


def make_input(folder: Path, files: int = 3, per_file: int = 40) -> str:
    for f in range(files):
        write_jsonl(folder / f"in-{f}.jsonl",
                    [{"id": f"f{f}-{i}", "text": f"{TEXTS[i % len(TEXTS)]} #{f}-{i}", "url": f"https://x.example/{i}"}
                     for i in range(per_file)])
    return str(folder / "*.jsonl")


def pipeline(pattern: str, workdir: Path, *extra: dict, shard_rows: int = 7) -> dict:
    return {"workdir": str(workdir), "stages": [{"ingest": {"paths": [pattern], "shard_rows": shard_rows}},
                                                 {"clean": {}}, *extra]}


def run(cfg: dict, workers: int = 1):
    pipe, stages = parse_pipeline(cfg)
    return run_pipeline(pipe, stages, workers=workers)


def shard_bytes(workdir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(workdir)): p.read_bytes() for p in sorted(workdir.rglob("*.parquet"))}


def test_runner_refuses_a_stage_that_loses_rows(tmp_path):
    cfg = pipeline(make_input(tmp_path / "in"), tmp_path / "w", {"lossy": {}})
    cfg["plugins"] = ["engine_test_stages"]
    with pytest.raises(AccountingError, match=r"7 rows in but 6 kept \+ 0 rejected"):
        run(cfg)
    assert not (tmp_path / "w" / "03-lossy" / "manifest.json").exists()


def test_accounting_holds_for_every_stage(tmp_path):
    pattern = make_input(tmp_path / "in")
    write_jsonl(tmp_path / "in" / "odd.jsonl", [{"id": "zw", "text": "\u200b\u200b"}, {"id": "e", "text": ""}])
    runs = run(pipeline(pattern, tmp_path / "w"))
    for r in runs:
        m = r.manifest
        assert m["rows_in"] == m["rows_kept"] + m["rows_rejected"]
    assert runs[0].manifest["rows_in"] == 122 and runs[0].manifest["reasons"] == {"ingest:empty_text": 1}
    assert runs[1].manifest["rows_in"] == runs[0].manifest["rows_kept"] == 121
    assert runs[1].manifest["reasons"] == {"clean:empty": 1} and runs[1].manifest["rows_kept"] == 120


@pytest.mark.parametrize("stages,message", [
    ([{"ingest": {"paths": ["x"], "shard_rowz": 3}}], r"stages\[0\]\.ingest\.shard_rowz: unknown key"),
    ([{"ingest": {"paths": ["x"], "shard_rows": "many"}}], r"stages\[0\]\.ingest\.shard_rows: expected integer, got str"),
    ([{"ingest": {"paths": "x"}}], r"stages\[0\]\.ingest\.paths: expected list of string"),
    ([{"ingest": {"paths": [str(ROOT / "sample_data" / "raw" / "*.jsonl")]}}, {"clean": {"normalization": "NFD"}}],
     r"stages\[1\]\.clean\.normalization: expected 'NFC' \| 'NFKC' \| 'none', got str 'NFD'"),
    ([{"nosuchstage": {}}], r"stages\[0\]: unknown stage 'nosuchstage'"),
    ([{"clean": {}, "ingest": {}}], r"stages\[0\]: expected a one-key mapping"),
])
def test_config_errors_name_the_key_path(tmp_path, stages, message):
    with pytest.raises(ConfigError, match=message):
        run({"workdir": str(tmp_path / "w"), "stages": stages})
    assert not (tmp_path / "w").exists(), "no work starts on a bad config"


def test_cli_config_error_is_one_line_not_a_traceback(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"workdir": str(tmp_path / "w"), "stages": [{"clean": {"strip": "yes"}}]}))
    _add_stage_commands()
    result = CliRunner().invoke(cli, ["run", str(cfg)])
    assert result.exit_code == 1
    assert "stages[0].clean.strip: expected boolean, got str 'yes'" in result.output
    assert "Traceback" not in result.output


def test_rerun_skips_finished_stages_and_changed_config_reruns_from_there(tmp_path):
    pattern = make_input(tmp_path / "in")
    first = run(pipeline(pattern, tmp_path / "w"))
    assert [r.skipped for r in first] == [False, False]
    again = run(pipeline(pattern, tmp_path / "w"))
    assert [r.skipped for r in again] == [True, True]
    changed = pipeline(pattern, tmp_path / "w")
    changed["stages"][1] = {"clean": {"normalization": "NFKC"}}
    third = run(changed)
    assert [r.skipped for r in third] == [True, False]
    texts = {row for p in (tmp_path / "w" / "02-clean").glob("*.parquet")
             for row in __import__("pyarrow.parquet").parquet.read_table(p)["text"].to_pylist()}
    assert any(t.startswith("FULL width") for t in texts)


def test_changed_input_reruns_ingest(tmp_path):
    pattern = make_input(tmp_path / "in")
    run(pipeline(pattern, tmp_path / "w"))
    write_jsonl(tmp_path / "in" / "in-9.jsonl", [{"id": "new", "text": "a new file"}])
    runs = run(pipeline(pattern, tmp_path / "w"))
    assert [r.skipped for r in runs] == [False, False]
    assert runs[0].manifest["rows_kept"] == 121


def test_one_and_two_workers_give_identical_bytes(tmp_path):
    pattern = make_input(tmp_path / "in", files=4, per_file=60)
    run(pipeline(pattern, tmp_path / "w1"), workers=1)
    run(pipeline(pattern, tmp_path / "w2"), workers=2)
    one, two = shard_bytes(tmp_path / "w1"), shard_bytes(tmp_path / "w2")
    assert len(one) > 20 and one == two


def _run_cli(cfg_path: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'tests' / 'plugins'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, "-m", "dataprep", "run", str(cfg_path), "-q", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def test_sigkill_mid_stage_then_rerun_is_byte_identical_and_resumes(tmp_path):
    pattern = make_input(tmp_path / "in", files=2, per_file=70)
    cfg = pipeline(pattern, tmp_path / "killed", {"slowclean": {"delay": 0.4}}, shard_rows=7)  # 20 slow tasks
    cfg["plugins"] = ["engine_test_stages"]
    killed_cfg = tmp_path / "killed.yaml"
    killed_cfg.write_text(yaml.safe_dump(cfg))
    proc = _run_cli(killed_cfg, "--workers", "2")
    markers = tmp_path / "killed" / "03-slowclean" / "_tasks"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(markers.glob("*.json"))) < 4:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.stem for p in markers.glob("*.json")}
    assert 4 <= len(done) < 20, "the kill landed mid-stage"
    assert not (tmp_path / "killed" / "03-slowclean" / "manifest.json").exists()
    finished = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "killed" / "03-slowclean").glob("*.parquet")
                if p.stem in done}

    proc = _run_cli(killed_cfg, "--workers", "2")
    assert proc.wait(timeout=120) == 0, proc.stdout.read().decode()
    manifest = json.loads((tmp_path / "killed" / "03-slowclean" / "manifest.json").read_text())
    assert manifest["tasks_skipped"] == len(done) and manifest["tasks_run"] == 20 - len(done)
    assert {n: (tmp_path / "killed" / "03-slowclean" / n).stat().st_mtime_ns for n in finished} == finished
    assert not list((tmp_path / "killed").rglob(".tmp-*"))

    cfg["workdir"] = str(tmp_path / "clean-run")
    clean_cfg = tmp_path / "clean.yaml"
    clean_cfg.write_text(yaml.safe_dump(cfg))
    assert _run_cli(clean_cfg, "--workers", "1").wait(timeout=120) == 0
    assert shard_bytes(tmp_path / "killed") == shard_bytes(tmp_path / "clean-run")


def _loaded_in_worker(name: str) -> bool:
    return name in sys.modules


def test_workers_start_with_the_engine_and_stages_loaded():
    from dataprep.executor import LocalExecutor

    with LocalExecutor(2) as ex:  # this test module imports neither stages.dedup nor stages.tokenize
        assert ex.map(_loaded_in_worker, ["dataprep.runner", "dataprep.stages.dedup", "dataprep.stages.tokenize", "no.such"]) \
            == [True, True, True, False]


@pytest.mark.parametrize("args, starts", [
    (["dedup", "-i", "a", "-o", "b"], True), (["run", "c.yaml"], True),
    (["dedup", "--help"], False), (["inspect", "x"], False), ([], False),
    (["dedup", "-i", "a", "-o", "b", "--workers", "1"], False), (["run", "c.yaml", "--workers=1"], False)])
def test_only_commands_that_run_stages_start_the_fork_server_early(args, starts):
    from dataprep.__main__ import _runs_workers

    assert _runs_workers(args)[0] is starts


def test_a_one_stage_command_preloads_only_its_stage_and_loads_only_its_command():
    """`dataprep dedup ...` has the fork server import the dedup stage alone and builds only the
    dedup subcommand; `run` (any stage of a pipeline) and help keep them all."""
    from dataprep import cli as C
    from dataprep.__main__ import _runs_workers

    assert _runs_workers(["dedup", "-i", "a", "-o", "b"]) == (True, ["dataprep.stages.dedup"])
    assert _runs_workers(["run", "c.yaml"]) == (True, None)
    assert C._invoked(["--debug", "dedup", "-i", "a"]) == "dedup"
    assert C._invoked(["tokenizer", "info", "x"]) == "tokenizer"
    assert C._invoked(["run", "c.yaml"]) is None and C._invoked(["--help"]) is None
    assert C._invoked(["no-such-command"]) is None  # all loaded, so click names the known ones
    code = ("import sys; from dataprep import cli; cli._add_stage_commands('dedup'); "
            "print(sorted(m for m in sys.modules if m.startswith('dataprep.stages.') and m.count('.') == 2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['dataprep.stages.dedup']"
