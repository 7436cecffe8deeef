"""Term lists: plain UTF-8 text files, one term per line, read into a ``Lexicon``.

A line is a term, optionally followed by ``| WEIGHT`` (a positive number; 1 when left out);
blank lines and lines starting with ``#`` are skipped. A file's category is its name up to the
first dot: ``gambling.zh.txt`` and ``gambling.en.txt`` both hold gambling terms. The format and
the built-in lists are described in ``lists/README.md``.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

from dataprep.config import ConfigError

BUILTIN_LISTS = Path(__file__).resolve().parent / "lists"
KNOWN_CATEGORIES = ("porn", "gambling", "violence")  # their order is the order of the score columns
CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Term:
    text: str  # as written in the list
    weight: float
    category: str
    where: str  # "KEY: FILE:LINE" (KEY the option that named the file), for error messages


@dataclass(frozen=True)
class Lexicon:
    categories: tuple[str, ...]
    terms: tuple[Term, ...]
    files: tuple[str, ...]
    digest: str  # of the files' names and contents: a changed list is a changed configuration


def category_of(path: Path) -> str:
    return path.name.split(".", 1)[0]


def read_list(path: Path, category: str, key: str) -> tuple[list[Term], bytes]:
    """The terms of one list file; any problem is a one-line ConfigError naming the file (and line)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{key}: {path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{key}: {path}: is a folder, not a list file") from None
    except OSError as e:
        raise ConfigError(f"{key}: {path}: cannot read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{key}: {path}: not UTF-8 text (byte {e.start})") from None
    terms = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{key}: {path}:{number}"
        term, bar, weight_text = line.rpartition("|") if "|" in line else (line, "", "")
        term = term.strip()
        weight = 1.0
        if bar:
            try:
                weight = float(weight_text)
            except ValueError:
                raise ConfigError(f"{where}: weight must be a positive number, got {weight_text.strip()!r}") from None
            if not (math.isfinite(weight) and weight > 0):
                raise ConfigError(f"{where}: weight must be a positive number, got {weight_text.strip()!r}")
        if not term:
            raise ConfigError(f"{where}: a weight without a term")
        terms.append(Term(term, weight, category, where))
    if not terms:
        raise ConfigError(f"{key}: {path}: the list has no terms (only blank or # lines); "
                          "remove the file or add terms")
    return terms, data


def load_lexicon(folder: str | None, files: dict[str, list[str]]) -> Lexicon:
    """Every ``*.txt`` list of ``folder`` (default: the built-in lists), with the categories named in
    ``files`` read from those files instead."""
    base = BUILTIN_LISTS if folder is None else Path(folder)
    if not base.is_dir():
        raise ConfigError(f"lists: {base}: no such folder" if not base.exists() else f"lists: {base}: not a folder")
    found: dict[str, list[tuple[str, Path]]] = {}
    for path in sorted(base.glob("*.txt")):
        category = category_of(path)
        if not CATEGORY_NAME.fullmatch(category):
            raise ConfigError(f"lists: {path}: a list file is named CATEGORY.txt or CATEGORY.LANG.txt, "
                              "CATEGORY in lower-case letters, digits and _")
        found.setdefault(category, []).append(("lists", path))
    for category, paths in files.items():
        if paths:
            found[category] = [(f"{category}_lists", Path(p)) for p in paths]
    if not found:
        raise ConfigError(f"lists: {base}: no list files (*.txt) in the folder")
    order = [c for c in KNOWN_CATEGORIES if c in found] + sorted(c for c in found if c not in KNOWN_CATEGORIES)
    terms: list[Term] = []
    digest = hashlib.sha256()
    names = []
    for category in order:
        for key, path in found[category]:
            listed, data = read_list(path, category, key)
            terms.extend(listed)
            names.append(str(path))
            digest.update(f"{category}\0{path.name}\0{len(data)}\0".encode())
            digest.update(data)
    return Lexicon(tuple(order), tuple(terms), tuple(names), digest.hexdigest()[:16])
