"""The run report: report.html and report.md agree with the manifests, open offline in a headless
browser without errors or requests, show documents' markup as text, and cope with partial runs,
single stage folders, unknown stages and a missing matplotlib. Also the progress bars and --quiet."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import ROOT, write_jsonl

pytest.importorskip("matplotlib", reason="the report needs matplotlib: pip install 'dataprep[report]'")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "chromium is not installed (Debian: apt-get install -y chromium)"
GOOD = ("The city council met on {day} to discuss the new library budget. Members agreed that the building needs a "
        "new roof and better heating. The mayor said the work will start in the spring and should be finished "
        "before the next school year begins. Residents are invited to comment at the next meeting. Item {i}.")
EVIL = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"></pre><b>bold</b>"


def dataprep(*args, cwd=ROOT, env=None, pre: str = "") -> subprocess.CompletedProcess:
    """``dataprep ARGS`` in a fresh process; ``pre``: Python run first (to hide a module, say)."""
    code = f"{pre}\nimport sys\nsys.argv = ['dataprep', *sys.argv[1:]]\nfrom dataprep.__main__ import main\nmain()"
    environ = {k: v for k, v in os.environ.items() if k != "DATAPREP_DEBUG"}
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**environ, **(env or {})})


def manifests(work: Path) -> dict[str, dict]:
    return {p.name: json.loads((p / "manifest.json").read_text())
            for p in sorted(work.iterdir()) if (p / "manifest.json").exists()}


def number(cell: str) -> float | None:
    cell = cell.strip().lstrip("≈").replace(",", "")
    if cell in ("", "—"):
        return None
    return round(float(cell[:-1]) / 100, 6) if cell.endswith("%") else float(cell)


# --- the sample pipeline, run once, with its report ----------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("report") / "sample"
    r = dataprep("run", "configs/sample.yaml", "--workdir", work, "-q")
    assert r.returncode == 0, r.stderr
    return work, r


def test_run_writes_a_self_contained_report(sample):
    work, r = sample
    html = (work / "report.html").read_text()
    assert f"report: {work / 'report.html'}" in r.stdout
    assert r.stderr == ""  # -q: no progress bars, and no note
    assert "<script" not in html.lower()
    assert 'http-equiv="Content-Security-Policy"' in html and "default-src 'none'" in html
    # nothing to load from anywhere: no src or href outside the page, no url() to fetch, no imports
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?!#|data:)[a-z]""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?(?!#)", html) and "@import" not in html and "@font-face" not in html
    assert html.count("<svg") >= 6
    ids = re.findall(r'\bid="([^"]+)"', html)  # several plots in one page: no id twice, no reference left dangling
    assert len(ids) == len(set(ids))
    assert set(re.findall(r'href="#([^"]+)"', html)) | set(re.findall(r"url\(#([^)]+)\)", html)) <= set(ids)
    assert (work / "report.md").exists()


class Tables(HTMLParser):
    """Every <table id=...> of a page: rows of cell texts, and each row's data-key."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[tuple[str | None, list[str]]]] = {}
        self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id") or f"anonymous-{len(self.tables)}", [])
        elif tag == "tr" and self._table is not None:
            self._row = (attrs.get("data-key"), [])
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, tid: str) -> dict[str, list[str]]:
        """Body rows by key (the header row has none)."""
        return {k: cells for k, cells in self.tables[tid] if k is not None}


def md_tables(md: str) -> dict[str, list[list[str]]]:
    """The tables of report.md by the heading above them (the text before any parenthesis)."""
    out, heading = {}, None
    for line in md.splitlines():
        if line.startswith("## "):
            heading = line[3:].split(" (")[0]
        elif line.startswith("| ") and heading:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            out.setdefault(heading, []).append(cells)
    return {k: rows[1:] for k, rows in out.items()}  # without the header; the |---| row is not "| "


def folder(ms: dict[str, dict], stage: str) -> str:
    """The (last) folder of a stage."""
    return [f for f, m in ms.items() if m["stage"] == stage][-1]


def expected_funnel(ms: dict[str, dict]) -> dict[str, dict]:
    """What every funnel row must say, from the manifests alone."""
    tokenize = ms[folder(ms, "tokenize")]
    # characters per token: tokenize's tokens over its input's characters
    cpt = ms[Path(tokenize["input"]["path"]).name]["chars_out"] / tokenize["tokenize"]["tokens"]
    out = {}
    for f, m in ms.items():
        chars = None if m["stage"] == "tokenize" else m["chars_out"]  # tokenize writes no text, reads chars_in
        if "tokenize" in m:
            tokens = m["tokenize"]["tokens"]
        elif "rebalance" in m:
            tokens = m["rebalance"]["tokens_out"]
        else:
            tokens = round(m["chars_out"] / cpt)
        out[f] = {"docs in": m["rows_in"], "docs out": m["rows_kept"], "rejected": m["rows_rejected"],
                  "copies added": m["rows_added"], "chars in": m["chars_in"],
                  "chars out": chars, "tokens out": tokens, "time s": round(m["wall_time_s"], 1)}
    return out


def test_report_md_numbers_match_the_manifests(sample):
    from dataprep.runner import load_pipeline

    work, _ = sample
    ms = manifests(work)
    md = (work / "report.md").read_text()
    tables = md_tables(md)
    want = expected_funnel(ms)
    header = ["docs in", "docs out", "rejected", "copies added", "chars out", "tokens out", "time s"]
    rows = {r[0]: r for r in tables["Funnel"]}
    stages = load_pipeline(ROOT / "configs" / "sample.yaml")[1]
    assert list(rows) == list(ms) == [f"{i:02d}-{s.name}" for i, s in enumerate(stages, start=1)]
    for f, r in rows.items():
        assert r[1] == "done"
        assert dict(zip(header, map(number, r[2:]))) == {k: want[f][k] for k in header}, f
        assert r[7].startswith("≈") == (ms[f]["stage"] != "tokenize")  # only tokenize counts tokens
    assert {(r[0], r[1]): (number(r[2]), number(r[3])) for r in tables["Removed, by reason"]} == {
        (f, reason): (n, round(n / m["rows_in"], 4)) for f, m in ms.items() for reason, n in m["reasons"].items()}
    buckets = {b["bucket"]: b for b in ms[folder(ms, "rebalance")]["rebalance"]["buckets"]}
    before = sum(b["tokens_available"] for b in buckets.values())
    assert {r[0] for r in tables["Mix"]} == set(buckets)
    for r in tables["Mix"]:
        b = buckets[r[0]]
        assert number(r[1]) == b["tokens_available"] and number(r[5]) == b["tokens_out"]
        assert number(r[2]) == pytest.approx(b["tokens_available"] / before, abs=5e-4)
        assert number(r[3]) == pytest.approx(b["target_share"], abs=5e-4)
        assert number(r[4]) == pytest.approx(b["achieved_share"], abs=5e-4)
        assert number(r[6]) == pytest.approx(b["epochs"], abs=5e-3)
    tok = ms[folder(ms, "tokenize")]["tokenize"]
    got = Counter()
    for by, key, n in tables["Tokens"]:
        got[(by, key)] = number(n)
    assert got[("total", "")] == tok["tokens"]
    for by, field in (("split", "tokens_by_split"), ("shard", "tokens_by_shard"), ("language", "tokens_by_lang"),
                      ("domain", "tokens_by_domain")):
        assert {k: v for (b, k), v in got.items() if b == by} == tok[field]
    for r in tables["Time"]:
        m = ms[r[0]]
        assert number(r[1]) == round(m["wall_time_s"], 1)
        assert number(r[2]) == int(m["rows_in"] / m["wall_time_s"])
    assert tok["tokenizer"]["sha256"] in md and ms[folder(ms, "tokenize")]["fingerprint"] in md


def test_report_html_numbers_match_the_manifests(sample):
    work, _ = sample
    ms = manifests(work)
    t = Tables((work / "report.html").read_text())
    want = expected_funnel(ms)
    header = [c for c in t.tables["funnel-table"][0][1]]
    assert list(t.rows("funnel-table")) == list(ms)
    for f, cells in t.rows("funnel-table").items():
        row = dict(zip(header, cells))
        assert row["status"] == "done"
        assert {k: number(row[k]) for k in want[f]} == want[f], f
    assert {k: number(c[2]) for k, c in t.rows("reasons-table").items()} == {
        f"{f}|{reason}": n for f, m in ms.items() for reason, n in m["reasons"].items()}
    buckets = {b["bucket"]: b for b in ms[folder(ms, "rebalance")]["rebalance"]["buckets"]}
    assert set(t.rows("mix-table")) == set(buckets)
    for bucket, c in t.rows("mix-table").items():
        b = buckets[bucket]
        assert [number(c[i]) for i in (1, 2, 3, 7, 8)] == [b["docs"], b["docs_kept"], b["tokens_available"],
                                                          b["target_tokens"], b["tokens_out"]]
        assert number(c[6]) == pytest.approx(b["achieved_share"], abs=5e-4)
    qf = folder(ms, "quality")
    q = ms[qf]["quality"]
    assert {k: [number(x) for x in c[1:-1]] for k, c in t.rows(f"quality-hist-{qf}").items()} == q["histogram"]
    assert {k: [number(c[1]), number(c[2])] for k, c in t.rows(f"quality-cuts-{qf}").items()} == {
        k: [v["units"], v["chars"]] for k, v in q["cuts"].items()}
    dedups = [f for f, m in ms.items() if m["stage"] == "dedup"]
    assert len(dedups) == 3
    for f in dedups:
        sizes = Counter(pq.read_table(work / f / "clusters.parquet")["size"].to_pylist())
        assert {int(k): number(c[1]) for k, c in t.rows(f"dedup-sizes-{f}").items()} == sizes
    tok = ms[folder(ms, "tokenize")]["tokenize"]
    for title, field in (("split", "tokens_by_split"), ("shard", "tokens_by_shard"), ("language", "tokens_by_lang"),
                         ("domain", "tokens_by_domain")):
        assert {k: number(c[1]) for k, c in t.rows(f"tokens-{title}-table").items()} == tok[field]
    assert t.tables["tokenizer-table"][1][1][3] == tok["tokenizer"]["sha256"]
    dom = ms[folder(ms, "domain")]["domain"]
    assert {k: [number(c[1]), number(c[2])] for k, c in t.rows("domains-table").items()} == {
        k: [dom["docs"][k], dom["chars"][k]] for k in dom["docs"]}
    assert list(t.rows("stages-table")) == list(ms)
    for f, c in t.rows("stages-table").items():
        assert c[3:5] == [ms[f]["config_hash"], ms[f]["fingerprint"]]
    for f, c in t.rows("time-table").items():
        assert number(c[1]) == round(ms[f]["wall_time_s"], 1) and number(c[2]) == ms[f]["rows_in"]
    html = (work / "report.html").read_text()
    assert "could not be shown" not in html and "plot not drawn" not in html
    # a sample of every removal reason, and quality's cut lines
    for m in ms.values():
        for reason in m["reasons"]:
            assert f"<b>{reason}</b>" in html
    assert "cut by <b>quality:ad_line</b>" in html


# --- headless Chromium ------------------------------------------------------------------------------


def chromium(page: Path, tmp: Path, *extra: str) -> tuple[str, list[str], list[str]]:
    """Open a page in headless Chromium with every host name unresolvable: (its DOM after load,
    the console lines, the URLs the page itself asked the network for)."""
    net = tmp / "net.json"
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp / 'profile'}",
                        "--no-first-run", "--enable-logging=stderr", "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND",
                        f"--log-net-log={net}", *extra, "--dump-dom", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
    log = json.loads(net.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    # the browser's own background requests have no origin; the page's come from its file:// origin
    requests = [e["params"]["url"] for e in log["events"] if e["type"] == start and "url" in e.get("params", {})
                and e["params"].get("initiator") != "not an origin"]
    return r.stdout, console, requests


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_report_opens_offline_in_headless_chromium(sample, evil_run, tmp_path):
    # the checks catch what they look for: a page with a script error and an image from the web
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><img src="https://example.com/x.png"><script>console.error("boom")</script>')
    _, console, requests = chromium(control, tmp_path / "c")
    assert any("boom" in line for line in console) and requests == ["https://example.com/x.png"]

    work, _ = sample
    html = (work / "report.html").read_text()
    shot = tmp_path / "shot.png"
    dom, console, requests = chromium(work / "report.html", tmp_path / "s", f"--screenshot={shot}",
                                      "--window-size=1200,3000")
    assert console == [] and requests == []
    assert dom.count("<svg") == html.count("<svg") >= 6  # every plot made it into the page
    for svg in re.findall(r"<svg[^>]*>", dom):
        assert re.search(r'viewBox="0 0 [\d.]+ [\d.]+"', svg) and 'width="' in svg and 'height="' in svg
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for uri in re.findall(r'src="data:image/png;base64,([^"]+)"', html):  # none today; would need to decode
        assert len(base64.b64decode(uri)) > 0

    # markup in a rejected document is text on the page: no script ran, no element was made of it
    evil_dom, console, requests = chromium(evil_run / "report.html", tmp_path / "e")
    assert console == [] and requests == []
    assert "<title>dataprep report:" in evil_dom and "pwned</title>" not in evil_dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in evil_dom and "<b>bold</b>" not in evil_dom
    assert "<script" not in evil_dom and "<img" not in evil_dom


# --- a small pipeline: escaping, partial runs, stage folders, missing matplotlib, progress -----------


def small_pipeline(tmp: Path, stages: str = "") -> Path:
    docs = [{"id": f"d{i}", "text": GOOD.format(day=day, i=i)} for i, day in enumerate(["Monday", "Friday", "Sunday"])]
    docs += [{"id": "evil", "text": EVIL}, {"id": "empty", "text": ""}]
    write_jsonl(tmp / "in.jsonl", docs)
    cfg = tmp / "cfg.yaml"
    cfg.write_text(f"workdir: {tmp / 'w'}\nworkers: 1\nstages:\n  - ingest: {{paths: ['{tmp / 'in.jsonl'}']}}\n"
                   f"  - clean: {{}}\n  - quality: {{}}\n{stages}")
    return cfg


@pytest.fixture(scope="module")
def evil_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("evil")
    r = dataprep("run", small_pipeline(tmp), "-q")
    assert r.returncode == 0 and r.stderr == "", r.stderr  # --quiet: no progress bars
    return tmp / "w"


def copy_of(work: Path, tmp: Path) -> Path:
    """A copy of a small pipeline's workdir and its config (pointed at the copy): a run of it finds
    every stage finished."""
    shutil.copytree(work, tmp / "w")
    cfg = tmp / "cfg.yaml"
    cfg.write_text((work.parent / "cfg.yaml").read_text().replace(f"workdir: {work}", f"workdir: {tmp / 'w'}"))
    return cfg


def test_markup_in_documents_is_escaped(evil_run):
    html = (evil_run / "report.html").read_text()
    shards = manifests(evil_run)["03-quality"]["rejected_shards"]
    assert "evil" in [i for s in shards for i in pq.read_table(evil_run / "03-quality" / s["file"])["id"].to_pylist()]
    assert "<script" not in html and "onerror=" not in html.replace("onerror=&quot;", "")
    assert ("&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;&lt;img src=x onerror=&quot;"
            "document.title=&#x27;pwned&#x27;&quot;&gt;&lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt;") in html
    assert "ingest:empty_text" in html  # ingest's rejects show their raw record


def test_report_is_the_same_bytes_for_the_same_run(evil_run, tmp_path):
    from dataprep.report import write_report

    write_report(evil_run, out_dir=tmp_path)
    assert (tmp_path / "report.html").read_bytes() == (evil_run / "report.html").read_bytes()
    assert (tmp_path / "report.md").read_bytes() == (evil_run / "report.md").read_bytes()


def test_partial_run_and_single_stage_folder(evil_run, tmp_path):
    work = tmp_path / "w"
    shutil.copytree(evil_run, work)
    longer = tmp_path / "longer.yaml"  # the same pipeline with one more stage
    longer.write_text((evil_run.parent / "cfg.yaml").read_text() + "  - dedup: {method: exact}\n")
    (work / "03-quality" / "manifest.json").unlink()  # as if the run had stopped inside quality
    r = dataprep("report", work, "--config", longer, "-q")
    assert r.returncode == 0 and r.stderr == "", r.stderr  # --quiet: no progress bar
    rows = {k: c for k, c in Tables((work / "report.html").read_text()).rows("funnel-table").items()}
    assert [rows[k][1] for k in ("01-ingest", "02-clean", "03-quality", "04-dedup")] == [
        "done", "done", "unfinished", "not run"]
    assert rows["04-dedup"][2:] == ["—"] * 8
    assert "| 04-dedup | not run |" in (work / "report.md").read_text()

    # a changed config marks the stage outdated
    changed = longer.read_text().replace("clean: {}", "clean: {normalization: NFKC}")
    (tmp_path / "changed.yaml").write_text(changed)
    r = dataprep("report", work, "--config", tmp_path / "changed.yaml", "-q")
    assert r.returncode == 0 and "| 02-clean | outdated |" in (work / "report.md").read_text()

    # one stage's folder
    r = dataprep("report", work / "02-clean", "-q")
    assert r.returncode == 0, r.stderr
    md = (work / "02-clean" / "report.md").read_text()
    assert "1 of 1 stages done" in md and "| 02-clean | done | 4 | 4 |" in md.replace(",", "")


def test_unknown_stages_and_missing_fields(tmp_path):
    from dataprep.report import write_report

    work = tmp_path / "w"
    (work / "01-mystery").mkdir(parents=True)
    (work / "01-mystery" / "manifest.json").write_text(json.dumps({
        "stage": "mystery", "rows_in": 10, "rows_kept": 7, "rows_rejected": 3, "reasons": {"mystery:odd": 3},
        "config": {"knob": "<b>x</b>"}, "mystery": {"gizmos": 42},
        "rejected_shards": [{"file": "_rejected/gone.parquet"}]}))
    (work / "02-bare").mkdir()
    (work / "02-bare" / "manifest.json").write_text("{}")
    (work / "03-started").mkdir()
    (work / "03-started" / "_stage.json").write_text("{}")
    (work / "04-quality").mkdir()
    (work / "04-quality" / "manifest.json").write_text(json.dumps({"stage": "quality", "quality": {"histogram": {}}}))
    write_report(work)
    html, md = (work / "report.html").read_text(), (work / "report.md").read_text()
    assert "| 01-mystery | done | 10 | 7 | 3 |" in md and "| 03-started | unfinished |" in md
    assert "| 02-bare | done | — | — |" in md
    assert "mystery:odd" in md and "&quot;gizmos&quot;: 42" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html


def test_missing_matplotlib_is_one_line(evil_run, tmp_path):
    hide = "import sys; sys.modules['matplotlib'] = None"
    r = dataprep("report", evil_run, "-o", tmp_path, pre=hide)
    assert r.returncode == 1 and r.stderr.splitlines() == [
        "Error: the report needs matplotlib; install it with: pip install 'dataprep[report]'"]
    cfg = copy_of(evil_run, tmp_path)
    (tmp_path / "w" / "report.html").unlink()
    r = dataprep("run", cfg, "-q", pre=hide)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("cached") == 3
    assert r.stderr.splitlines() == [
        "report skipped: the report needs matplotlib; install it with: pip install 'dataprep[report]'"]
    assert not (tmp_path / "w" / "report.html").exists()
    r = dataprep("run", cfg, "-q", "--no-report")
    assert r.returncode == 0 and r.stderr == "" and "report:" not in r.stdout
    assert not (tmp_path / "w" / "report.html").exists()
    # any other failure of the report is one line too, and the run (whose data is complete) succeeds
    broken = "import dataprep.report as R\ndef boom(*a, **k): raise ValueError('kaput')\nR.build = boom"
    r = dataprep("run", cfg, "-q", pre=broken)
    assert r.returncode == 0 and r.stderr.splitlines() == [
        f"report not written: ValueError: kaput (unexpected; rerun with --debug and report the traceback); "
        f"`dataprep report {tmp_path / 'w'}` retries it"]


BAR = r"{label}: 100%\|[^|\r\n]*\| (\S+)/\1 \[\d\d:\d\d<\d\d:\d\d"  # a finished bar: count of total, elapsed<ETA


def test_progress_bars_without_quiet(evil_run, tmp_path):
    """Bars on stderr with counts and the time left; with --quiet there are none (evil_run and
    the partial-run test check that)."""
    loud = dataprep("run", small_pipeline(tmp_path))
    assert loud.returncode == 0, loud.stderr
    for label in ("01-ingest", "02-clean", "03-quality", "report"):
        assert re.search(BAR.format(label=label), loud.stderr), (label, loud.stderr)
    assert "report:" in loud.stdout

    stage = dataprep("clean", "-i", evil_run / "01-ingest", "-o", tmp_path / "c1")
    assert stage.returncode == 0 and re.search(BAR.format(label="clean"), stage.stderr), stage.stderr
    stage = dataprep("clean", "-i", evil_run / "01-ingest", "-o", tmp_path / "c2", "-q")
    assert stage.returncode == 0 and stage.stderr == ""

    rep = dataprep("report", tmp_path / "c1")
    assert rep.returncode == 0 and re.search(BAR.format(label="report"), rep.stderr), rep.stderr


def test_global_passes_show_a_bar_too(tmp_path):
    """A stage's pass over every shard before its tasks (dedup's keys here) has its own bar, which
    --quiet turns off as well."""
    write_jsonl(tmp_path / "in.jsonl", [{"id": f"d{i}", "text": f"document number {i} " * 20} for i in range(40)])
    r = dataprep("ingest", "-i", tmp_path / "in.jsonl", "-o", tmp_path / "raw", "--shard-rows", "10", "-q")
    assert r.returncode == 0, r.stderr
    loud = dataprep("dedup", "-i", tmp_path / "raw", "-o", tmp_path / "d1", "--workers", "2")
    # count of total and elapsed<time left; the bar is cleared when the pass ends (the stage's own follows)
    assert loud.returncode == 0 and re.search(r"dedup: keys: +\d+%\|[^|\r\n]*\| \d+/4 \[\d\d:\d\d<", loud.stderr), \
        loud.stderr
    assert re.search(BAR.format(label="dedup"), loud.stderr), loud.stderr
    quiet = dataprep("dedup", "-i", tmp_path / "raw", "-o", tmp_path / "d2", "--workers", "2", "-q")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
