"""clean: Unicode normalisation, control and zero-width characters, line endings, whitespace runs.

Every changed document is listed in ``_edits/`` with the rules that changed it, and the manifest
counts documents per rule. A document left with no visible character (empty, or only whitespace
and invisible characters such as bidi marks) is rejected as ``clean:empty``.

Whole-column checks (``rows_to_clean``) find the documents a rule would change or that may be empty;
only those go through the per-document rules (``clean_text``), the others pass through as they are.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.config import option
from dataprep.corpus import read_parquet, split_by_reason
from dataprep.stage import Stage, Task, TaskOutput, text_chars

# Character-class bodies, written once for both the per-document rules (Python ``re``) and the
# whole-column check that finds the documents those rules would change (RE2 in pyarrow.compute).
NEWLINE_CHARS = r"\r\u2028\u2029\x85"
# C0 and C1 controls except tab and newline; DEL.
CONTROL_CHARS = r"\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f"
# Zero-width space, word joiner, BOM/ZWNBSP, soft hyphen. Joiners (U+200C/U+200D) are kept unless asked:
# they carry meaning in Persian, Indic scripts and emoji sequences.
ZERO_WIDTH_CHARS = r"\u200b\u2060\ufeff\u00ad"
JOINER_CHARS = r"\u200c\u200d"
RUN_SPACES = r" \t\u00a0\u3000\u2000-\u200a\u202f\u205f"  # a run of two or more becomes one space
LONE_SPACES = r"\t\u00a0\u2000-\u200a\u202f\u205f"  # becomes a space even alone
LINE_END_SPACES = r" \t\u00a0\u3000"
# What Python's ``\s`` and ``str.isspace``/``str.strip`` treat as whitespace.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")
CONTROL = re.compile(f"[{CONTROL_CHARS}]")
ZERO_WIDTH = re.compile(f"[{ZERO_WIDTH_CHARS}]")
JOINERS = re.compile(f"[{JOINER_CHARS}]")
# Runs of horizontal whitespace after the first non-space character of a line (indentation is kept).
INNER_SPACES = re.compile(f"(?<=\\S)[{RUN_SPACES}]{{2,}}|(?<=\\S)[{LONE_SPACES}]")
TRAILING_SPACES = re.compile(f"[{LINE_END_SPACES}]+$", re.MULTILINE)
BLANK_RUNS = re.compile(r"\n{3,}")
# Default-ignorable code points that are neither controls nor format characters (Unicode's
# Default_Ignorable_Code_Point property, DerivedCoreProperties.txt): combining grapheme joiner,
# Hangul fillers, Khmer inherent vowels, Mongolian and other variation selectors, reserved ranges.
IGNORABLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0"
                       "\ufff0-\ufff8\U000e0000-\U000e0fff]")
NON_SPACE = re.compile(r"\S")


@dataclass
class CleanConfig:
    normalization: Literal["NFC", "NFKC", "none"] = option("NFC", help="Unicode normal form (NFKC also folds "
                                                                       "full-width forms and ligatures).")
    remove_control: bool = option(True, help="Drop C0/C1 control characters (NUL included) except tab and newline.")
    remove_zero_width: bool = option(True, help="Drop zero-width space, word joiner, BOM and soft hyphen.")
    remove_joiners: bool = option(False, help="Also drop ZWJ/ZWNJ (U+200D/U+200C); off by default.")
    normalize_newlines: bool = option(True, help="CRLF, CR, U+2028/2029 and NEL become \\n.")
    collapse_spaces: bool = option(True, help="Collapse whitespace runs inside lines to one space, strip line "
                                              "ends, and keep at most one blank line; leading indentation stays.")
    strip: bool = option(True, help="Strip whitespace at the start and end of each document.")


def has_visible(text: str) -> bool:
    """Whether any character of ``text`` shows: one that is not whitespace, not a control or format
    character (bidi marks and isolates, zero-width characters, BOM, soft hyphen, joiners) and not
    otherwise default-ignorable. Such characters stay inside text; a text made only of them is empty."""
    for m in NON_SPACE.finditer(text):
        c = m.group()
        if unicodedata.category(c) not in ("Cc", "Cf") and not IGNORABLE.match(c):
            return True
    return False


def clean_text(text: str, cfg: CleanConfig) -> tuple[str, list[str]]:
    """Return the cleaned text and the names of the rules that changed it."""
    rules = []

    def step(name: str, new: str) -> None:
        nonlocal text
        if new != text:
            rules.append(name)
            text = new

    if cfg.normalize_newlines:
        step("newlines", NEWLINES.sub("\n", text))
    if cfg.remove_control:
        step("control", CONTROL.sub("", text))
    if cfg.remove_zero_width:
        step("zero_width", ZERO_WIDTH.sub("", text))
    if cfg.remove_joiners:
        step("joiners", JOINERS.sub("", text))
    if cfg.normalization != "none" and not unicodedata.is_normalized(cfg.normalization, text):
        step(cfg.normalization.lower(), unicodedata.normalize(cfg.normalization, text))
    if cfg.collapse_spaces:
        new = INNER_SPACES.sub(" ", text)
        new = TRAILING_SPACES.sub("", new)
        step("whitespace", BLANK_RUNS.sub("\n\n", new))
    if cfg.strip:
        step("strip", text.strip())
    return text, rules


def clean_documents(texts: list[str], cfg: CleanConfig) -> tuple[list[str], list[str | None], list[list[str]]]:
    """The per-document path: every text through ``clean_text``, then the emptiness check. Returns the
    cleaned texts, the reject reasons (None keeps the document) and each document's changed rules."""
    cleaned, reasons, rules = [], [], []
    for text in texts:
        new, changed = clean_text(text, cfg)
        cleaned.append(new)
        reasons.append(None if has_visible(new) else "clean:empty")
        rules.append(changed)
    return cleaned, reasons, rules


def _re2(body: str) -> str:
    """A pattern written with Python's escapes as RE2 (pyarrow.compute) reads it: ``\\uXXXX`` -> ``\\x{XXXX}``."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", r"\\x{\1}", body)


# Characters that always show (``has_visible`` is true for each; tests check every one): printable
# ASCII and the letters of common scripts. A document holding one needs no per-document emptiness check.
VISIBLE_CHARS = (r"!-~\u00c0-\u024f\u0370-\u03ff\u0400-\u052f\u05d0-\u05ea\u0620-\u064a\u0900-\u097f"
                 r"\u0e01-\u0e3a\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uff01-\uff5e")
HAS_VISIBLE = _re2(f"[{VISIBLE_CHARS}]")


def change_pattern(cfg: CleanConfig) -> str | None:
    """An RE2 pattern that finds, in the original text, every document ``clean_text`` would change
    through any rule but Unicode normalisation (checked apart); None when no such rule is on. A rule sees
    the original text unless an earlier rule changed it, and then that earlier rule finds the document,
    so checking every rule against the original text finds exactly the documents ``clean_text`` changes."""
    parts = []
    if cfg.normalize_newlines:
        parts.append(f"[{NEWLINE_CHARS}]")
    if cfg.remove_control:
        parts.append(f"[{CONTROL_CHARS}]")
    if cfg.remove_zero_width:
        parts.append(f"[{ZERO_WIDTH_CHARS}]")
    if cfg.remove_joiners:
        parts.append(f"[{JOINER_CHARS}]")
    if cfg.collapse_spaces:
        parts += [f"[^{WHITESPACE}][{RUN_SPACES}]{{2}}",  # INNER_SPACES ((?<=\S) is a non-whitespace character)
                  f"[^{WHITESPACE}][{LONE_SPACES}]",
                  f"[{LINE_END_SPACES}](?:\\n|$)",  # TRAILING_SPACES ($: end of text in RE2)
                  r"\n\n\n"]  # BLANK_RUNS
    if cfg.strip:
        parts += [f"^[{WHITESPACE}]", f"[{WHITESPACE}]$"]
    return _re2("|".join(parts)) if parts else None


def rows_to_clean(texts: pa.Array, cfg: CleanConfig) -> np.ndarray:
    """Which rows need the per-document path: those ``clean_text`` would change, and those that may
    have no visible character (rejected as clean:empty). Whole-column checks; a Python call only for
    non-ASCII rows (is the text in the normal form) and rows without a common visible character."""
    n = len(texts)
    pattern = change_pattern(cfg)
    if pattern is None:
        todo = np.zeros(n, dtype=bool)
    else:
        todo = pc.match_substring_regex(texts, pattern).fill_null(True).to_numpy(zero_copy_only=False)
    todo = todo.copy() if not todo.flags.writeable else todo
    if cfg.normalization != "none":
        rest = pc.and_not(pc.invert(pc.string_is_ascii(texts)).fill_null(False), pa.array(todo))
        rows = np.flatnonzero(rest.to_numpy(zero_copy_only=False))
        for i, text in zip(rows, texts.take(rows).to_pylist()):
            if not unicodedata.is_normalized(cfg.normalization, text):
                todo[i] = True
    maybe_empty = pc.and_not(pc.invert(pc.match_substring_regex(texts, HAS_VISIBLE).fill_null(False)), pa.array(todo))
    rows = np.flatnonzero(maybe_empty.to_numpy(zero_copy_only=False))
    for i, text in zip(rows, texts.take(rows).to_pylist()):
        if not has_visible(text):
            todo[i] = True
    return todo


def clean_column(texts: pa.Array, cfg: CleanConfig) -> tuple[pa.Array, pa.Array, list[tuple[int, list[str], int, int]]]:
    """``clean_documents`` over a whole text column, run only on the rows ``rows_to_clean`` finds; the
    other rows pass through as they are. Returns the cleaned column (one chunk), the reject reasons
    and, per changed row in row order, (row, rules, chars before, chars after)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    n = len(texts)
    rows = np.flatnonzero(rows_to_clean(texts, cfg))
    if len(rows) == 0:
        return texts, pa.nulls(n, pa.string()), []
    before = texts.take(rows).to_pylist()
    cleaned, row_reasons, rules = clean_documents(before, cfg)
    edits = [(int(i), r, len(old), len(new)) for i, old, new, r in zip(rows, before, cleaned, rules) if r]
    reasons: list[str | None] = [None] * n
    for i, reason in zip(rows, row_reasons):
        reasons[i] = reason
    if not edits:
        return texts, pa.array(reasons, pa.string()), []
    place = np.arange(n)
    place[rows] = n + np.arange(len(rows))
    out = pa.concat_arrays([texts, pa.array(cleaned, type=texts.type)]).take(place)
    return out, pa.array(reasons, pa.string()), edits


class CleanStage(Stage):
    """Normalise text: Unicode form, control and zero-width characters, line endings, whitespace.

    Changed documents are listed in _edits/ with the rules that changed them; documents left
    with no visible character (only whitespace, bidi marks and other invisible characters) are
    rejected (`clean:empty`).

    \b
    Examples:
      dataprep clean -i work/raw -o work/clean
      dataprep clean -i work/raw -o work/clean --normalization NFKC --no-collapse-spaces
    """

    name = "clean"
    Config = CleanConfig

    def run_task(self, task: Task, state: Any, out: TaskOutput) -> None:
        table = read_parquet(task.inputs[0])
        out.rows_in += table.num_rows
        out.chars_in += text_chars(table)
        idx = table.column_names.index("text")
        field = table.schema.field(idx)
        texts, reasons, changed = clean_column(table["text"], self.config)
        ids = table["id"].take([row for row, _, _, _ in changed]).to_pylist() if changed else []
        edits = {"id": ids, "rules": [r for _, r, _, _ in changed],
                 "chars_before": [b for _, _, b, _ in changed], "chars_after": [a for _, _, _, a in changed]}
        for rules in edits["rules"]:
            for r in rules:
                out.count(f"changed:{r}")
        out.count("changed_docs", len(edits["id"]))
        cleaned = table.set_column(idx, field, texts)
        kept, _ = split_by_reason(cleaned, reasons, self.name)
        _, rejected = split_by_reason(table, reasons, self.name)  # rejected rows keep their original text
        out.write_kept(kept)
        out.write_rejected(rejected)
        out.write_edits(pa.table({"id": pa.array(edits["id"], pa.string()),
                                  "rules": pa.array(edits["rules"], pa.list_(pa.string())),
                                  "chars_before": pa.array(edits["chars_before"], pa.int64()),
                                  "chars_after": pa.array(edits["chars_after"], pa.int64())}))
