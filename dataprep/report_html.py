"""``report.html``: one self-contained page. Plots are inline SVG, styles inline, no script at
all, and a Content-Security-Policy that lets the page load nothing (no network, no fonts, no
images from anywhere). Every value from the data goes through ``html.escape``, so a document's
text is shown, never run.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any, Callable

from dataprep import report_plots as plots
from dataprep.report import fmt_int, fmt_pct, fmt_s, fmt_tokens

LONG_TABLE = 40  # rows past which a table is folded
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0 auto;max-width:1180px;
padding:0 20px 60px}
h1{font-size:22px;margin:24px 0 6px}h2{font-size:18px;margin:34px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:22px 0 6px}h4{font-size:14px;margin:14px 0 4px}
nav a{margin-right:12px}.ident{color:#444}.muted{color:#777}.warn{color:#b03a2e}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f5f6f8;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.not-run td,tr.unfinished td{color:#999}tr.outdated td{color:#b03a2e}
svg{max-width:100%;height:auto;display:block;margin:6px 0}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;border:1px solid #e4e4e4;padding:6px 8px;
margin:4px 0 10px;font-size:12.5px;max-height:22em;overflow:auto}
details{margin:4px 0}summary{cursor:pointer}.sample{margin:6px 0 12px 14px}.meta{font-size:12px;color:#555}
code{background:#f2f2f2;padding:0 3px}
"""


def e(x: Any) -> str:
    return escape("" if x is None else str(x), quote=True)


def table(header: list[str], rows: list[list[Any]], numeric: set[int] = frozenset(), tid: str | None = None,
          row_class: list[str] | None = None, row_key: list[str] | None = None) -> str:
    """A table; ``numeric``: indexes of right-aligned columns. Cells are escaped here."""
    head = "".join(f'<th class="n">{e(h)}</th>' if i in numeric else f"<th>{e(h)}</th>" for i, h in enumerate(header))
    body = []
    for j, r in enumerate(rows):
        cells = "".join(f'<td class="n">{e(c)}</td>' if i in numeric else f"<td>{e(c)}</td>" for i, c in enumerate(r))
        attrs = ""
        if row_class and row_class[j]:
            attrs += f' class="{e(row_class[j])}"'
        if row_key:
            attrs += f' data-key="{e(row_key[j])}"'
        body.append(f"<tr{attrs}>{cells}</tr>")
    ident = f' id="{e(tid)}"' if tid else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pre(text: Any) -> str:
    return f"<pre>{e(text)}</pre>"


def _plot(fn: Callable, data: Any, tick: Callable[[], None]) -> str:
    """An inline SVG plot; one that fails is a line saying so (its table is still there)."""
    try:
        svg = fn(data) or ""
    except Exception as ex:  # noqa: BLE001
        svg = f'<p class="warn">plot not drawn: {e(type(ex).__name__)}: {e(ex)}</p>'
    tick()
    return svg


def plot_count(model: dict) -> int:
    """How many plots ``to_html`` draws (the progress bar's steps)."""
    return (bool(model.get("funnel")) + bool(model.get("mix")) + len(model.get("quality") or [])
            + bool(model.get("dedup")) + bool(model.get("tokens")) + bool((model.get("times") or {}).get("rows")))


# --- sections ------------------------------------------------------------------------------------


def _header(model: dict) -> str:
    ident = model.get("identity") or {}
    parts = [f"{ident.get('done', 0)} of {ident.get('stages', 0)} stages done"]
    if ident.get("final"):
        parts.append(f"final output <code>{e(ident['final'])}</code>, "
                     f"fingerprint <code>{e(ident['fingerprint'])}</code>")
    t = ident.get("tokenizer") or {}
    if t.get("sha256"):
        parts.append(f"tokenizer <code>{e(t.get('path'))}</code> ({e(t.get('kind'))}, "
                     f"{e(fmt_int(t.get('vocab_size')))} "
                     f"ids), sha256 <code id=\"tokenizer-sha256\">{e(t['sha256'])}</code>")
    if ident.get("created_by"):
        parts.append("written by " + e(", ".join(ident["created_by"])))
    links = [("funnel", "Funnel"), ("mix", "Mix"), ("quality", "Quality"), ("dedup", "Dedup"), ("tokens", "Tokens"),
             ("time", "Time"), ("samples", "Samples"), ("stages", "Stages and configs")]
    nav = "".join(f'<a href="#{a}">{e(b)}</a>' for a, b in links)
    errors = "".join(f'<p class="warn">Section {e(k)} could not be shown: {e(v)}</p>'
                     for k, v in (model.get("errors") or {}).items())
    return (f"<h1>dataprep report: {e(ident.get('root'))}</h1><p class=\"ident\">{'; '.join(parts)}.</p>"
            f"<nav>{nav}</nav>{errors}")


def _funnel(model: dict, tick: Callable) -> str:
    f = model.get("funnel")
    if not f:
        return ""
    rows, classes, keys = [], [], []
    for r in f["rows"]:
        rows.append([r["folder"], r["status"], fmt_int(r.get("docs_in")), fmt_int(r.get("docs_out")),
                     fmt_int(r.get("rejected")), fmt_int(r.get("added")), fmt_int(r.get("chars_in")),
                     fmt_int(r.get("chars_out")), fmt_tokens(r), fmt_s(r.get("wall_time_s"))])
        classes.append(r["status"].replace(" ", "-"))
        keys.append(r["folder"])
    out = ['<h2 id="funnel">Funnel</h2>', _plot(plots.funnel, f, tick),
           table(["stage", "status", "docs in", "docs out", "rejected", "copies added", "chars in", "chars out",
                  "tokens out", "time s"], rows, set(range(2, 10)), "funnel-table", classes, keys)]
    notes = []
    if f.get("chars_per_token"):
        notes.append(f"≈: estimated tokens. Rebalance estimates its own; other stages that count no tokens are "
                     f"shown at {f['chars_per_token']:.2f} characters per token, measured at "
                     f"{e(f['chars_per_token_from'])}.")
    if "outdated" in classes:
        notes.append("<i>outdated</i>: the stage's config differs from the pipeline's now; a run redoes it.")
    if "unfinished" in classes:
        notes.append("<i>unfinished</i>: the stage started but wrote no manifest (still running, or stopped).")
    if notes:
        out.append(f'<p class="muted">{" ".join(notes)}</p>')
    rs = model.get("reasons") or []
    out.append("<h3>Removed, by reason</h3>")
    if rs:
        out.append(table(["stage", "reason", "docs", "share of stage input"],
                         [[r["folder"], r["reason"], fmt_int(r["docs"]), fmt_pct(r["share"], 2)] for r in rs],
                         {2, 3}, "reasons-table", row_key=[f"{r['folder']}|{r['reason']}" for r in rs]))
    else:
        out.append('<p class="muted">No stage removed documents.</p>')
    return "".join(out)


def _mix(model: dict, tick: Callable) -> str:
    mx, dom = model.get("mix"), model.get("domains")
    if not mx and not dom:
        return '<h2 id="mix">Mix</h2><p class="muted">No rebalance or domain stage has run.</p>'
    out = ['<h2 id="mix">Mix</h2>']
    if mx:
        out.append(f"<p>{e(mx['folder'])}, buckets by <code>{e(mx['by'] or 'bucket')}</code>: "
                   f"{e(fmt_int(mx['tokens_before']))} tokens in, {e(fmt_int(mx['tokens_out']))} tokens and "
                   f"{e(fmt_int(mx['rows_out']))} documents out (mode {e(mx['mode'])}; tokens "
                   f"{e(mx['method'] or 'as the manifest has them')}).</p>")
        out.append(_plot(plots.mix, mx, tick))
        out.append(table(["bucket", "docs", "docs kept", "tokens before", "share before", "target", "achieved",
                          "target tokens", "tokens after", "epochs"],
                         [[b["bucket"], fmt_int(b["docs"]), fmt_int(b["docs_kept"]), fmt_int(b["tokens_before"]),
                           fmt_pct(b["share_before"]), fmt_pct(b["target"]), fmt_pct(b["after"]),
                           fmt_int(b["target_tokens"]), fmt_int(b["tokens_after"]),
                           f"{b['epochs']:.2f}" if isinstance(b.get("epochs"), (int, float)) else "—"]
                          for b in mx["buckets"]], set(range(1, 10)), "mix-table",
                         row_key=[b["bucket"] for b in mx["buckets"]]))
        for axis, agg in mx["groups"].items():
            out.append(f"<h4>By {e(axis)}</h4>")
            out.append(table([axis, "share before", "target", "achieved"],
                             [[k, fmt_pct(v["before"]), fmt_pct(v["target"]), fmt_pct(v["after"])]
                              for k, v in agg.items()], {1, 2, 3}, f"mix-{axis}-table", row_key=list(agg)))
        for n in mx["notes"]:
            out.append(f'<p class="muted">note: {e(n)}</p>')
        for n in mx["infeasible"]:
            out.append(f'<p class="warn">NOT MET: {e(n)}</p>')
    if dom:
        labels = list(dom["docs"])
        out.append(f"<h3>Domains ({e(dom['folder'])}), before rebalancing</h3>")
        out.append(table(["domain", "docs", "chars"], [[k, fmt_int(dom["docs"].get(k)), fmt_int(dom["chars"].get(k))]
                                                      for k in labels], {1, 2}, "domains-table", row_key=labels))
        if dom.get("by"):
            out.append('<p class="muted">labelled by: ' + e(", ".join(f"{k} {v:,}" for k, v in dom["by"].items()))
                       + "</p>")
    return "".join(out)


def _quality(model: dict, tick: Callable) -> str:
    qs = model.get("quality") or []
    if not qs:
        return '<h2 id="quality">Quality</h2><p class="muted">No quality stage has run.</p>'
    out = ['<h2 id="quality">Quality</h2>']
    for q in qs:
        bins = q["bins"]
        out.append(f"<h3>{e(q['folder'])} (preset {e(q['preset'])})</h3>")
        marks = ["0.5: a rule exactly at its bound (below it, at least one rule is violated or several are close)"]
        marks.append(f"min_quality {q['min_quality']}: documents scoring lower are rejected" if q["min_quality"]
                     else "min_quality 0: no cut on the score itself; documents are rejected by their rules")
        out.append('<p class="muted">Thresholds: ' + e("; ".join(marks)) + ".</p>")
        out.append(_plot(plots.quality, q, tick))
        header = ["language"] + [f"{a:.1f}–{b:.1f}" for a, b in zip(bins, bins[1:])] + ["docs"]
        hist = q["histogram"]
        out.append(table(header, [[lang] + [fmt_int(c) for c in counts] + [fmt_int(sum(counts))]
                                  for lang, counts in hist.items()],
                         set(range(1, len(header))), f"quality-hist-{q['folder']}", row_key=list(hist)))
        overrides = {k: v for k, v in (("thresholds", q["thresholds"]), ("languages", q["languages"])) if v}
        if overrides:
            out.append("<p>Bounds changed in the config:</p>"
                       + _pre(json.dumps(overrides, ensure_ascii=False, indent=1)))
        if q["cuts"]:
            cuts = sorted(q["cuts"].items(), key=lambda kv: -kv[1].get("chars", 0))
            out.append("<h4>Cut lines and sentences, by rule</h4>")
            out.append(table(["rule", "units", "chars"], [[k, fmt_int(v.get("units")), fmt_int(v.get("chars"))]
                                                          for k, v in cuts], {1, 2}, f"quality-cuts-{q['folder']}",
                             row_key=[k for k, _ in cuts]))
        if q["violations"]:
            vs = sorted(q["violations"].items(), key=lambda kv: (-kv[1], kv[0]))
            out.append("<details><summary>Documents violating each rule (whether or not it was their reason)"
                       "</summary>" + table(["rule", "docs"], [[k, fmt_int(v)] for k, v in vs], {1},
                                            f"quality-violations-{q['folder']}", row_key=[k for k, _ in vs])
                       + "</details>")
    return "".join(out)


def _dedup(model: dict, tick: Callable) -> str:
    ds = model.get("dedup") or []
    if not ds:
        return '<h2 id="dedup">Dedup</h2><p class="muted">No dedup stage with clusters has run.</p>'
    out = ['<h2 id="dedup">Dedup</h2>', _plot(plots.dedup, ds, tick)]
    for d in ds:
        summ = d.get("summary") or {}
        out.append(f"<h3>{e(d['folder'])}: {e(d.get('method'))}, {e(d.get('level'))} level</h3>")
        out.append(f"<p>{e(fmt_int(d['clusters']))} clusters of duplicates among {e(fmt_int(summ.get('items')))} "
                   f"items; index {e(fmt_int(summ.get('index_bytes')))} bytes.</p>")
        sizes = d["sizes"]
        out.append("<details><summary>Clusters by size</summary>"
                   + table(["size", "clusters"], [[fmt_int(k), fmt_int(v)] for k, v in sorted(sizes.items())], {0, 1},
                           f"dedup-sizes-{d['folder']}", row_key=[str(k) for k in sorted(sizes)]) + "</details>")
        if d["largest"]:
            out.append("<h4>Largest clusters</h4>")
        for c in d["largest"]:
            sim = f", similarity {c['similarity']:.3f}" if isinstance(c.get("similarity"), (int, float)) else ""
            members = ", ".join(c["members"]) + (" …" if (c.get("size") or 0) > len(c["members"]) else "")
            out.append(f'<div class="sample"><b>{e(c["cluster"])}</b>: {e(fmt_int(c["size"]))} members{e(sim)}; '
                       f'kept <code>{e(c["kept"])}</code><div class="meta">members: {e(members)}</div>')
            if c["texts"]:
                out.append("<details><summary>text of the kept document and of removed ones</summary>")
                for t in c["texts"]:
                    out.append(f'<div class="meta">{e(t["role"])}: <code>{e(t["id"])}</code></div>{_pre(t["text"])}')
                out.append("</details>")
            out.append("</div>")
    return "".join(out)


def _tokens(model: dict, tick: Callable) -> str:
    tk = model.get("tokens")
    if not tk:
        return '<h2 id="tokens">Tokens</h2><p class="muted">No tokenize stage has run.</p>'
    t = tk.get("tokenizer") or {}
    out = ['<h2 id="tokens">Tokens</h2>',
           f"<p>{e(tk['folder'])}: {e(fmt_int(tk.get('tokens')))} tokens in "
           f"{e(fmt_int(tk.get('documents')))} documents; "
           f"dtype {e(tk.get('dtype'))}, formats {e(', '.join(tk.get('formats') or []))}, "
           f"sequence length {e(tk.get('seq_len') or 'none (documents as they are)')}, "
           f"eos id {e(_id(tk.get('eos_id')))}, bos id {e(_id(tk.get('bos_id')))}.</p>"]
    if t:
        out.append(table(["tokenizer", "kind", "vocab size", "sha256"],
                         [[t.get("path"), t.get("kind"), fmt_int(t.get("vocab_size")), t.get("sha256")]], {2},
                         "tokenizer-table"))
    out.append(_plot(plots.tokens, tk, tick))
    for title, key in (("split", "tokens_by_split"), ("shard", "tokens_by_shard"), ("language", "tokens_by_lang"),
                       ("domain", "tokens_by_domain")):
        data = tk.get(key) or {}
        if data:
            total = sum(v for v in data.values() if isinstance(v, (int, float)))
            t = table([title, "tokens", "share"], [[k, fmt_int(v), fmt_pct(v / total if total else 0)]
                                                  for k, v in data.items()], {1, 2}, f"tokens-{title}-table",
                      row_key=list(data))
            if len(data) > LONG_TABLE:
                t = f"<details><summary>{len(data):,} {e(title)}s</summary>{t}</details>"
            out.append(t)
    return "".join(out)


def _id(v: Any) -> str:
    return "none" if v is None else str(v)


def _time(model: dict, tick: Callable) -> str:
    tm = model.get("times")
    if not tm or not tm["rows"]:
        return ""
    rows = [[r["folder"], fmt_s(r["wall_time_s"]), fmt_int(r.get("docs_in")), fmt_int(r.get("docs_per_s")),
             fmt_int(r.get("chars_per_s")), fmt_int(r.get("tokens_per_s")),
             f"{fmt_int(r.get('tasks_run'))} of {fmt_int(r.get('tasks'))}"] for r in tm["rows"]]
    return ('<h2 id="time">Time and throughput</h2>' + _plot(plots.times, tm, tick)
            + table(["stage", "time s", "docs in", "docs/s", "chars/s", "tokens/s", "tasks run"], rows,
                    set(range(1, 7)), "time-table", row_key=[r["folder"] for r in tm["rows"]])
            + f'<p class="muted">Total {tm["total_s"]:.1f} s. Each stage\'s time is the one recorded when it ran '
              "(a rerun that found it finished does not change it).</p>")


def _samples(model: dict) -> str:
    out = ['<h2 id="samples">Samples</h2><p class="muted">The first documents of each removal reason, in shard order, '
           "and what stages cut from the documents they kept, to judge the thresholds by eye.</p>"]
    any_sample = False
    for st in model.get("stages") or []:
        rej, edits = st.get("rejected") or {}, st.get("edits")
        if not rej and not edits:
            continue
        any_sample = True
        out.append(f"<h3>{e(st['folder'])}</h3>")
        for reason, docs in rej.items():
            count = st["reasons"].get(reason, 0)
            out.append(f"<details><summary><b>{e(reason)}</b>: {e(_docs(count))}</summary>")
            for d in docs:
                meta = "; ".join(f"{k} {_short(d[k])}" for k in ("origin", "lang", "quality", "dup_of", "eval_item")
                                 if k in d)
                out.append(f'<div class="sample"><div class="meta"><code>{e(d.get("id"))}</code> '
                           f'({e(fmt_int(d.get("chars")))} chars{"; " + e(meta) if meta else ""})</div>')
                if d.get("detail"):
                    out.append(f'<div class="meta">{e(d["detail"])}</div>')
                out.append(_pre(d.get("text")) + "</div>")
            out.append("</details>")
        if edits:
            out.append(f"<h4>Edits of kept documents ({e(fmt_int(edits['rows']))} rows in _edits/)</h4>")
            for reason, cuts in (edits.get("cuts") or {}).items():
                out.append(f"<details><summary>cut by <b>{e(reason)}</b></summary>")
                for c in cuts:
                    out.append(f'<div class="sample"><div class="meta"><code>{e(c["id"])}</code> ({e(c["unit"])})</div>'
                               f'{_pre(c["text"])}</div>')
                out.append("</details>")
            if edits.get("columns"):
                out.append(table(edits["columns"], edits["sample"]))
    if not any_sample:
        out.append('<p class="muted">No stage removed or edited documents.</p>')
    return "".join(out)


def _docs(n: Any) -> str:
    return f"{fmt_int(n)} document" + ("" if n == 1 else "s")


def _short(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _stages(model: dict) -> str:
    import yaml

    stages = model.get("stages") or []
    rows = [[st["folder"], st["stage"], st["status"], st["config_hash"], st["fingerprint"], st["input"] or "—"]
            for st in stages]
    rows += [[st["folder"], st["stage"], st["status"], "—", "—", "—"] for st in model.get("not_done") or []]
    rows.sort(key=lambda r: r[0])
    out = ['<h2 id="stages">Stages and configs</h2>',
           table(["folder", "stage", "status", "config hash", "fingerprint", "input"], rows, tid="stages-table",
                 row_class=[r[2].replace(" ", "-") for r in rows], row_key=[r[0] for r in rows])]
    for st in stages:
        out.append(f"<h3 id=\"stage-{e(st['folder'])}\">{e(st['folder'])}</h3>")
        out.append("<details><summary>config</summary>"
                   + _pre(yaml.safe_dump(st["config"], sort_keys=True, allow_unicode=True, default_flow_style=False))
                   + "</details>")
        if st["counters"]:
            out.append("<details><summary>counters</summary>"
                       + table(["counter", "value"], [[k, fmt_int(v) if isinstance(v, (int, float)) else v]
                                                      for k, v in st["counters"].items()], {1}) + "</details>")
        for key, block in st["blocks"].items():
            out.append(f"<details><summary>{e(key)}</summary>"
                       + _pre(json.dumps(block, ensure_ascii=False, indent=1, default=str)) + "</details>")
    return "".join(out)


def to_html(model: dict, tick: Callable[[], None] = lambda: None) -> str:
    ident = model.get("identity") or {}
    body = [_header(model), _funnel(model, tick), _mix(model, tick), _quality(model, tick), _dedup(model, tick),
            _tokens(model, tick), _time(model, tick), _samples(model), _stages(model)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>dataprep report: {e(ident.get('root'))}</title><style>{STYLE}</style></head>\n<body>\n"
            + "\n".join(b for b in body if b) + "\n</body></html>\n")
