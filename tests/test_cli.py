import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import write_jsonl
from dataprep import __version__
from dataprep.cli import _add_stage_commands, cli
from dataprep.registry import all_stages

_add_stage_commands()


def invoke(*args):
    result = CliRunner().invoke(cli, list(map(str, args)))
    assert "Traceback" not in result.output
    return result


def test_help_lists_every_stage():
    out = invoke("--help").output
    for name in ["run", "inspect", *all_stages()]:
        assert f"  {name} " in out


@pytest.mark.parametrize("name", sorted(all_stages()))
def test_every_stage_has_help_with_examples_and_its_options(name):
    result = invoke(name, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output and "--input" in result.output and "--output" in result.output
    cls = all_stages()[name]
    for field in cls.Config.__dataclass_fields__:
        if field != cls.cli_input:
            assert "--" + field.replace("_", "-") in result.output


def test_version():
    assert invoke("--version").output.strip().endswith(__version__)
    out = subprocess.run([sys.executable, "-m", "dataprep", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


def test_stage_subcommand_options_reach_the_config(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"key": "k1", "body": "x\r\ny"}, {"key": "k2", "body": "ＡＢ"}])
    r = invoke("ingest", "-i", tmp_path / "a.jsonl", "-o", tmp_path / "raw", "--text-field", "body",
               "--id-field", "key", "--promote", "key", "-q")
    assert r.exit_code == 0, r.output
    r = invoke("clean", "-i", tmp_path / "raw", "-o", tmp_path / "clean", "--normalization", "NFKC", "-q")
    assert r.exit_code == 0, r.output
    out = invoke("inspect", tmp_path / "clean", "-n", "2").output
    assert "rows: 2" in out and "k1: x\\ny" in out and "k2: AB" in out
    bad = invoke("clean", "-i", tmp_path / "raw", "-o", tmp_path / "c2", "--normalization", "NFD")
    assert bad.exit_code == 2 and "NFD" in bad.output


def test_inspect_shows_rejections_and_workdir_summary(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "text": "ok"}, {"id": "2", "text": ""}])
    (tmp_path / "cfg.yaml").write_text(f"workdir: {tmp_path / 'w'}\nstages:\n  - ingest: {{paths: ['{tmp_path / 'a.jsonl'}']}}\n  - clean: {{}}\n")
    r = invoke("run", tmp_path / "cfg.yaml", "-q")
    assert r.exit_code == 0, r.output
    assert "01-ingest" in r.output and "02-clean" in r.output
    detail = invoke("inspect", tmp_path / "w" / "01-ingest").output
    assert "ingest:empty_text" in detail and "columns: id:string, text:large_string" in detail
    summary = invoke("inspect", tmp_path / "w").output
    assert "01-ingest" in summary and "02-clean" in summary
    again = invoke("run", tmp_path / "cfg.yaml", "-q")
    assert again.output.count("cached") == 2


def test_missing_corpus_is_a_clear_error(tmp_path):
    r = invoke("clean", "-i", tmp_path / "nothing", "-o", tmp_path / "out")
    assert r.exit_code == 1 and "not a dataprep corpus" in r.output


def test_tokenizer_train_info_and_tokenize_errors(tmp_path):
    import json

    records = [{"id": f"d{i}", "text": f"第{i}篇文档：数据清洗 and cleaning number {i}.\n    indented code line"}
               for i in range(40)]
    write_jsonl(tmp_path / "in.jsonl", records)
    assert invoke("ingest", "-i", tmp_path / "in.jsonl", "-o", tmp_path / "raw", "--quiet").exit_code == 0
    r = invoke("tokenizer", "train", "-i", tmp_path / "raw", "-o", tmp_path / "tok", "--vocab-size", "400")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["eos_token"] == "<|endoftext|>"
    r = invoke("tokenizer", "info", tmp_path / "tok" / "tokenizer.json", "--text", "数据 cleaning")
    assert r.exit_code == 0 and json.loads(r.output)["ids"]
    r = invoke("tokenizer", "train", "-i", tmp_path / "nowhere", "-o", tmp_path / "tok2")
    assert r.exit_code != 0 and "not a corpus folder" in r.output
    r = invoke("tokenize", "-i", tmp_path / "raw", "-o", tmp_path / "out", "--tokenizer", tmp_path / "none.json")
    assert r.exit_code != 0 and "does not exist" in r.output
    r = invoke("tokenize", "-i", tmp_path / "raw", "-o", tmp_path / "out", "--tokenizer", tmp_path / "tok",
               "--add-bos", "--formats", "[megatron, hf]", "--quiet")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "megatron" / "train-00000.idx").exists()
    r = invoke("inspect", tmp_path / "out")
    assert r.exit_code == 0 and "tokens by shard" in r.output and "train-00000" in r.output
