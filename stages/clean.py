"""clean: Unicode normalisation, control and zero-width characters, line endings, whitespace runs.

Every changed document is listed in ``_edits/`` with the rules that changed it, and the manifest
counts documents per rule. A document left with no visible character (empty, or only whitespace
and invisible characters such as bidi marks) is rejected as ``clean:empty``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from dataprep.config import option
from dataprep.corpus import read_parquet, split_by_reason
from dataprep.stage import Stage, Task, TaskOutput, text_chars

NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")
# C0 and C1 controls except tab and newline; DEL.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f]")
# Zero-width space, word joiner, BOM/ZWNBSP, soft hyphen. Joiners (U+200C/U+200D) are kept unless asked:
# they carry meaning in Persian, Indic scripts and emoji sequences.
ZERO_WIDTH = re.compile(r"[\u200b\u2060\ufeff\u00ad]")
JOINERS = re.compile(r"[\u200c\u200d]")
# Runs of horizontal whitespace after the first non-space character of a line (indentation is kept).
INNER_SPACES = re.compile(r"(?<=\S)[ \t\u00a0\u3000\u2000-\u200a\u202f\u205f]{2,}|(?<=\S)[\t\u00a0\u2000-\u200a\u202f\u205f]")
TRAILING_SPACES = re.compile(r"[ \t\u00a0\u3000]+$", re.MULTILINE)
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
        texts, reasons, edits = [], [], {"id": [], "rules": [], "chars_before": [], "chars_after": []}
        for doc_id, text in zip(table["id"].to_pylist(), table["text"].to_pylist()):
            new, rules = clean_text(text, self.config)
            texts.append(new)
            reasons.append(None if has_visible(new) else "clean:empty")
            if rules:
                edits["id"].append(doc_id)
                edits["rules"].append(rules)
                edits["chars_before"].append(len(text))
                edits["chars_after"].append(len(new))
                for r in rules:
                    out.count(f"changed:{r}")
        out.count("changed_docs", len(edits["id"]))
        idx = table.column_names.index("text")
        cleaned = table.set_column(idx, table.schema.field(idx), pa.array(texts, type=table.schema.field(idx).type))
        kept, _ = split_by_reason(cleaned, reasons, self.name)
        _, rejected = split_by_reason(table, reasons, self.name)  # rejected rows keep their original text
        out.write_kept(kept)
        out.write_rejected(rejected)
        out.write_edits(pa.table({"id": pa.array(edits["id"], pa.string()),
                                  "rules": pa.array(edits["rules"], pa.list_(pa.string())),
                                  "chars_before": pa.array(edits["chars_before"], pa.int64()),
                                  "chars_after": pa.array(edits["chars_after"], pa.int64())}))
