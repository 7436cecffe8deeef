"""The report's plots: matplotlib figures rendered to inline SVG (text as text, no fonts or
images fetched; ids salted so the same data gives the same bytes).

Each function takes a section of ``dataprep.report.build`` and returns an ``<svg>`` element, or
None when there is nothing to draw.
"""

from __future__ import annotations

import io
import re
from typing import Any

RC = {"svg.fonttype": "none", "svg.hashsalt": "dataprep-report", "font.size": 8.5,
      "font.family": "sans-serif", "axes.spines.top": False, "axes.spines.right": False,
      "axes.titlesize": 9.5, "axes.titleweight": "bold", "legend.fontsize": 8, "legend.frameon": False}
MAX_BARS = 40  # past this many shards or languages, a plot shows a distribution or the largest
BEFORE, TARGET, AFTER, MARK = "#9db4d0", "#444444", "#2f6db5", "#c0392b"


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _grid(fig: Any, nrows: int, ncols: int, *, label_chars: int = 4, sharey: bool = False, top: float = 0.3,
          bottom: float = 0.35, hgap: float = 0.45, **kw: Any) -> Any:
    """Axes laid out by hand, in inches: room on the left of every panel for tick labels of
    ``label_chars`` characters (only the first with ``sharey``), ``top`` for titles, ``bottom``
    for x tick labels. (Measuring every label, as matplotlib's layout engines do, costs more than
    drawing the figure.)"""
    width, height = fig.get_figwidth(), fig.get_figheight()
    label = 0.2 + 0.062 * label_chars
    gap = 0.3 if sharey else label + 0.3
    right = 0.45
    ax_w = max(0.5, (width - label - right - (ncols - 1) * gap) / ncols)
    ax_h = max(0.3, (height - top - bottom - (nrows - 1) * hgap) / nrows)
    fig.subplots_adjust(left=label / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                        wspace=gap / ax_w, hspace=hgap / ax_h)
    return fig.subplots(nrows, ncols, squeeze=False, sharey=sharey, **kw)


def _chars(labels: list[str]) -> int:
    return max((len(str(x)) for x in labels), default=4)


def _svg(fig: Any, title: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    # ids are unique within one figure only: prefix them, and the references to them, per figure
    prefix = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") + "-"
    text = re.sub(r'\bid="', f'id="{prefix}', text)
    text = re.sub(r'(xlink:href|href)="#', rf'\1="#{prefix}', text)
    text = text.replace("url(#", f"url(#{prefix}")
    return text.replace("<svg", f'<svg role="img" aria-label="{_attr(title)}"', 1)


def _attr(s: str) -> str:
    from html import escape

    return escape(s, quote=True)


def _draw(width: float, height: float, title: str, paint) -> str:
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = _figure(width, height)
        paint(fig)
        return _svg(fig, title)


def _human(x: float) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.0f}"


def _fmt_axis(ax: Any, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(FuncFormatter(lambda v, _: _human(v)))


def funnel(section: dict) -> str | None:
    rows = [r for r in section["rows"] if r.get("docs_out") is not None]
    if not rows:
        return None
    labels = [r["folder"] for r in rows][::-1]

    def paint(fig: Any) -> None:
        axes = _grid(fig, 1, 3, label_chars=_chars(labels), sharey=True)[0]
        panels = (("documents after each stage", "docs_out"), ("characters after each stage", "chars_out"),
                  ("tokens after each stage", "tokens_out"))
        for ax, (title, key) in zip(axes, panels):
            values = [r.get(key) or 0 for r in rows][::-1]
            hatch = [r.get("tokens_kind") in ("estimated", "derived") if key == "tokens_out" else False
                     for r in rows][::-1]
            bars = ax.barh(labels, values, color=AFTER)
            for bar, h in zip(bars, hatch):
                if h:
                    bar.set_color(BEFORE)
                    bar.set_hatch("///")
            ax.set_title(title + (" (hatched: estimated)" if key == "tokens_out" else ""), loc="left")
            _fmt_axis(ax)
            for y, v in enumerate(values):
                if v:
                    ax.text(v, y, " " + _human(v), va="center", fontsize=7)
            ax.margins(x=0.18)

    return _draw(11, 0.25 * len(rows) + 0.75, "funnel", paint)


def times(section: dict) -> str | None:
    rows = [r for r in section["rows"] if isinstance(r.get("wall_time_s"), (int, float))]
    if not rows:
        return None

    def paint(fig: Any) -> None:
        labels = [r["folder"] for r in rows][::-1]
        ax = _grid(fig, 1, 1, label_chars=_chars(labels), bottom=0.55)[0][0]
        values = [r["wall_time_s"] for r in rows][::-1]
        ax.barh(labels, values, color=AFTER)
        for y, r in enumerate(rows[::-1]):
            rate = f" {r['wall_time_s']:.1f} s"
            if r.get("docs_per_s"):
                rate += f", {_human(r['docs_per_s'])} docs/s"
            ax.text(r["wall_time_s"], y, rate, va="center", fontsize=7)
        ax.set_xlabel("seconds")
        ax.set_title("wall time per stage", loc="left")
        ax.margins(x=0.3)

    return _draw(8, 0.25 * len(rows) + 0.95, "time per stage", paint)


def _grouped(ax: Any, labels: list[str], series: list[tuple[str, list[float], str]], title: str) -> None:
    import numpy as np
    from matplotlib.ticker import PercentFormatter

    y = np.arange(len(labels))[::-1]
    h = 0.8 / len(series)
    for i, (name, values, color) in enumerate(series):
        ax.barh(y + (len(series) / 2 - i - 0.5) * h, values, height=h, color=color, label=name)
    for yy, v in zip(y, series[-1][1]):  # the outcome, readable for buckets too small to see
        ax.text(v, yy + (len(series) / 2 - len(series) + 0.5) * h, f" {v:.1%}", va="center", fontsize=6.5)
    ax.margins(x=0.12)
    ax.set_yticks(y, labels)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title(title, loc="left")


def mix(section: dict) -> str | None:
    buckets = section["buckets"]
    if not buckets:
        return None
    groups = section.get("groups") or {}

    def paint(fig: Any) -> None:
        names = [b["bucket"] for b in buckets] + [k for agg in groups.values() for k in agg]
        axes = _grid(fig, 1, 1 + len(groups), label_chars=_chars(names))[0]
        series = [("before", [b["share_before"] for b in buckets], BEFORE),
                  ("target", [b["target"] or 0 for b in buckets], TARGET),
                  ("after", [b["after"] or 0 for b in buckets], AFTER)]
        _grouped(axes[0], [b["bucket"] for b in buckets], series, "token share by bucket")
        axes[0].legend(loc="lower right")
        for ax, (axis, agg) in zip(axes[1:], groups.items()):
            keys = list(agg)
            _grouped(ax, keys, [(k, [agg[x][k] for x in keys], c) for k, c in
                                (("before", BEFORE), ("target", TARGET), ("after", AFTER))], f"by {axis}")

    return _draw(11, 0.3 * len(buckets) + 0.8, "mix before and after rebalancing", paint)


def quality(section: dict) -> str | None:
    hist = section["histogram"]
    if not hist:
        return None
    langs = sorted(hist, key=lambda k: (-sum(hist[k]), k))[:16]  # the table has every language
    cols = min(4, len(langs))
    nrows = (len(langs) + cols - 1) // cols
    bins = section["bins"]

    def paint(fig: Any) -> None:
        axes = _grid(fig, nrows, cols, label_chars=5, top=0.55, hgap=0.5, sharex=True)
        for ax in axes.flat[len(langs):]:
            ax.set_visible(False)
        for ax, lang in zip(axes.flat, langs):
            counts = hist[lang]
            edges = bins if len(bins) == len(counts) + 1 else [i / len(counts) for i in range(len(counts) + 1)]
            ax.bar(edges[:-1], counts, width=[b - a for a, b in zip(edges, edges[1:])], align="edge",
                   color=AFTER, edgecolor="white")
            ax.axvline(0.5, color=TARGET, linestyle=":", linewidth=1)
            if section["min_quality"]:
                ax.axvline(section["min_quality"], color=MARK, linewidth=1.5)
            ax.set_xlim(0, 1)
            ax.set_title(f"{lang}  ({sum(counts):,} docs)", loc="left")
        fig.text(0.01, 1 - 0.12 / fig.get_figheight(), "quality score per language; dotted: 0.5, a rule at its bound"
                     + (f"; red: min_quality {section['min_quality']}" if section["min_quality"] else ""),
                 fontsize=8.5, ha="left", va="top")

    return _draw(11, 1.45 * nrows + 0.5, f"quality score histograms ({section['folder']})", paint)


def _size_bins(sizes: dict[int, int], most: int = 20) -> tuple[list[str], list[int]]:
    """Cluster counts by size; past ``most`` distinct sizes, in powers of two (2, 3-4, 5-8, ...)."""
    keys = sorted(sizes)
    if len(keys) <= most:
        return [str(k) for k in keys], [sizes[k] for k in keys]
    bins: dict[int, int] = {}
    for k in keys:
        b = max(1, (k - 1).bit_length())
        bins[b] = bins.get(b, 0) + sizes[k]
    labels = [("2" if b == 1 else f"{2 ** (b - 1) + 1}-{2 ** b}") for b in sorted(bins)]
    return labels, [bins[b] for b in sorted(bins)]


def dedup(sections: list[dict]) -> str | None:
    from matplotlib.ticker import MaxNLocator, NullFormatter

    sections = [s for s in sections if s.get("sizes")]
    if not sections:
        return None

    def paint(fig: Any) -> None:
        axes = _grid(fig, 1, len(sections), label_chars=4, bottom=0.55)[0]
        for ax, s in zip(axes, sections):
            labels, counts = _size_bins(s["sizes"])
            ax.bar(labels, counts, color=AFTER)
            if max(counts) > 100 * max(1, min(counts)):
                ax.set_yscale("log")
                ax.yaxis.set_minor_formatter(NullFormatter())
            else:
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            _fmt_axis(ax, "y")
            ax.set_xlabel("cluster size")
            ax.set_ylabel("clusters")
            ax.set_title(f"{s['folder']}: {s.get('method')} {s.get('level')}", loc="left")
            ax.tick_params(axis="x", labelrotation=45 if len(labels) > 8 else 0)

    return _draw(min(11, 3.7 * len(sections)), 2.4, "dedup cluster sizes", paint)


def tokens(section: dict) -> str | None:
    panels = [(f"tokens by {name}", section.get(key) or {}) for name, key in
              (("shard", "tokens_by_shard"), ("split", "tokens_by_split"), ("language", "tokens_by_lang"),
               ("domain", "tokens_by_domain"))]
    panels = [(t, d) for t, d in panels if d]
    if not panels:
        return None
    many = MAX_BARS
    tallest = max(len(d) if len(d) <= many else 10 for _, d in panels)

    def paint(fig: Any) -> None:
        labels = [k for _, d in panels if len(d) <= many for k in d]
        axes = _grid(fig, 1, len(panels), label_chars=_chars(labels or ["shards"]), bottom=0.5)[0]
        for ax, (title, data) in zip(axes, panels):
            if len(data) > many:  # thousands of shards: their distribution
                ax.hist(list(data.values()), bins=10, color=AFTER, edgecolor="white")
                ax.set_title(f"{len(data):,} shards by tokens", loc="left")
                ax.set_ylabel("shards")
            else:
                keys = list(data)[::-1]
                ax.barh(keys, [data[k] for k in keys], color=AFTER)
                ax.set_title(title, loc="left")
            _fmt_axis(ax)
            ax.tick_params(axis="x", labelrotation=30)

    return _draw(11, 0.2 * tallest + 0.9, "tokens by shard, split, language and domain", paint)
