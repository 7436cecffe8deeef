"""pii: find personal data and secrets, and redact them (or only tag them).

Types: e-mail addresses, phone numbers (E.164 with a country code; mainland mobile and fixed
lines; Hong Kong, Macao and Taiwan; North America), mainland resident identity numbers, bank
card numbers, public IPv4/IPv6 addresses, and secrets in code (key shapes, private-key blocks,
passwords in URLs, quoted values of password/secret/API-key names). Patterns find candidates and
validators decide (checksums, dates, number plans, address ranges): see ``detect.py`` and
``checks.py``. Every finding is listed in ``_edits/`` (document id, type, rule, character span of
the input text, replacement) and counted in the manifest. The stage keeps every document unless
``max_findings`` is set.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.config import ConfigError, option
from dataprep.corpus import read_parquet, split_by_reason
from dataprep.stage import Stage, StageContext, StageError, Task, TaskOutput, gc_paused, text_chars

from .detect import TYPES, Span, find_spans, find_spans_column

DEFAULT_TOKENS = {"email": "<EMAIL>", "phone": "<PHONE>", "id_card": "<ID_CARD>", "bank_card": "<BANK_CARD>",
                  "ip": "<IP>", "secret": "<SECRET>"}
TAG_COLUMN = "pii"
SPAN_TYPE = pa.struct([("type", pa.string()), ("kind", pa.string()), ("start", pa.int64()), ("end", pa.int64())])


@dataclass
class PiiConfig:
    types: list[str] = option(list(TYPES), help=f"What to find, any of: {', '.join(TYPES)}.")
    mode: Literal["redact", "tag"] = option("redact", help="`redact` replaces each finding with a token; `tag` keeps "
                                                           "the text and adds a `pii` column of spans (type, kind, "
                                                           "start, end).")
    replacement: Literal["token", "hash"] = option(
        "token", help="`token`: <EMAIL>, <PHONE>, <ID_CARD>, <BANK_CARD>, <IP>, <SECRET>; `hash`: the token with a "
                      "salted hash of the value (<PHONE:3f9a0c12>), the same for the same value in every document.")
    tokens: dict[str, str] = option({}, help="Tokens by type instead of the defaults: {email: '[EMAIL]'}; with "
                                             "`replacement: hash` each must hold {hash}: {email: '[EMAIL {hash}]'}.")
    salt: str = option("", help="Key of the salted hash (needed with `replacement: hash`). The manifest records "
                                "the config: write `env:NAME` to read the key from environment variable NAME instead.")
    hash_chars: int = option(8, help="Hex characters of the hash, 4-64.")
    max_findings: int = option(0, help="Reject documents with more findings than this as `pii:too_many` (contact "
                                       "lists, leaked dumps); 0 keeps every document.")
    text_column: str = option("text", help="Column holding the text.")

    def validate(self) -> None:
        if not self.types:
            raise ConfigError(f"types: give at least one of {', '.join(TYPES)}")
        for t in self.types:
            if t not in TYPES:
                raise ConfigError(f"types: unknown type {t!r}; known: {', '.join(TYPES)}")
        for t, token in self.tokens.items():
            if t not in TYPES:
                raise ConfigError(f"tokens.{t}: unknown type; known: {', '.join(TYPES)}")
            if not token:
                raise ConfigError(f"tokens.{t}: a token cannot be empty")
            if self.replacement == "hash" and "{hash}" not in token:
                raise ConfigError(f"tokens.{t}: with `replacement: hash` a token must hold {{hash}}, "
                                  f"e.g. {DEFAULT_TOKENS[t][:-1]}:{{hash}}>")
            if self.replacement == "token" and "{hash}" in token:
                raise ConfigError(f"tokens.{t}: {{hash}} needs `replacement: hash`")
        if not 4 <= self.hash_chars <= 64:
            raise ConfigError(f"hash_chars: a number from 4 to 64 is expected, got {self.hash_chars}")
        if self.replacement == "hash" and not self.salt:
            raise ConfigError("salt: `replacement: hash` needs a secret salt (or env:NAME to read it from the "
                              "environment); without one a phone number's hash is found by trying every number")
        if self.salt.startswith("env:") and not self.salt[4:]:
            raise ConfigError("salt: env: needs the name of an environment variable, e.g. env:PII_SALT")
        if self.max_findings < 0:
            raise ConfigError(f"max_findings: must be >= 0, got {self.max_findings}")

    def token_for(self, type_: str) -> str:
        if type_ in self.tokens:
            return self.tokens[type_]
        token = DEFAULT_TOKENS[type_]
        return token[:-1] + ":{hash}>" if self.replacement == "hash" else token


def resolve_salt(salt: str) -> bytes:
    if salt.startswith("env:"):
        name = salt[4:]
        value = os.environ.get(name)
        if not value:
            raise ConfigError(f"salt: environment variable {name} is not set (salt: env:{name})")
        return value.encode()
    return salt.encode()


class PiiStage(Stage):
    """Find personal data and secrets; redact them with tokens or salted hashes, or only tag them.

    Types: e-mail addresses; phone numbers (E.164 with a country code, mainland mobile and fixed
    lines, Hong Kong, Macao, Taiwan, North America); mainland resident identity numbers (date and
    check character validated); bank cards (card ranges and Luhn); public IPv4/IPv6 addresses (not
    private, loopback, documentation or other reserved ranges); secrets in code (API-key shapes,
    private-key blocks, passwords in URLs and in password/secret/api_key assignments). A number
    that fails its checksum, date or number plan is left alone, and so is one that a nearby word
    names an order, model, ISBN or version number. Every finding is listed in _edits/ (id, type,
    kind, start, end, replacement) and counted in the manifest; every document is kept unless
    --max-findings is set.

    \b
    Examples:
      dataprep pii -i work/quality -o work/pii
      dataprep pii -i work/quality -o work/pii --types email --types phone --mode tag
      dataprep pii -i work/quality -o work/pii --tokens '{email: "[email]", phone: "[phone]"}'
      PII_SALT=s3cret dataprep pii -i work/quality -o work/pii --replacement hash --salt env:PII_SALT
    """

    name = "pii"
    Config = PiiConfig
    version = "1"

    def __init__(self, config: PiiConfig):
        super().__init__(config)
        self._key = resolve_salt(config.salt) if config.replacement == "hash" else b""
        if config.salt.startswith("env:") and self._key:
            # a different key in the environment must not pass for the finished output of the old one
            self.version = f"1+key.{hashlib.sha256(b'dataprep-pii' + self._key).hexdigest()[:12]}"

    def prepare(self, ctx: StageContext) -> Any:
        col = self.config.text_column
        if ctx.source is not None:
            names = [f["name"] for f in ctx.source.manifest.get("schema", [])]
            if names and col not in names:
                raise StageError(f"pii.text_column: the corpus has no column {col!r}")
        return None

    def run_task(self, task: Task, state: Any, out: TaskOutput) -> None:
        cfg = self.config
        col = cfg.text_column
        table = read_parquet(task.inputs[0])
        if col not in table.column_names:
            raise StageError(f"pii.text_column: the corpus has no column {col!r}")
        kind = table.schema.field(col).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise StageError(f"pii.text_column: column {col!r} holds {kind}, not text")
        out.rows_in += table.num_rows
        out.chars_in += text_chars(table, col)
        texts = table[col].combine_chunks()
        rows, docs, found = self.scan(texts)
        reasons: list[str | None] = [None] * table.num_rows
        if cfg.max_findings:
            for r, spans in zip(rows, found):
                if len(spans) > cfg.max_findings:
                    reasons[r] = "pii:too_many"
        keep = [(r, spans) for r, spans in zip(rows, found) if spans and reasons[r] is None]
        text_of = {r: doc for r, doc, spans in zip(rows, docs, found) if spans}

        idx = table.column_names.index(col)
        result = table
        replacements: list[list[str | None]] = []
        if cfg.mode == "redact":
            new_texts = []
            for r, spans in keep:
                tokens = [self.token(sp) for sp in spans]
                replacements.append(tokens)
                new_texts.append(redact(text_of[r], spans, tokens))
            if keep:
                mask = np.zeros(table.num_rows, dtype=bool)
                mask[[r for r, _ in keep]] = True
                merged = pc.replace_with_mask(texts, pa.array(mask), pa.array(new_texts, type=texts.type))
                result = table.set_column(idx, table.schema.field(idx), merged)
        else:
            replacements = [[None] * len(spans) for _, spans in keep]
            by_row: list[list[dict]] = [[] for _ in range(table.num_rows)]
            for r, spans in keep:
                by_row[r] = [{"type": sp.type, "kind": sp.kind, "start": sp.start, "end": sp.end} for sp in spans]
            if TAG_COLUMN in result.column_names:
                result = result.drop_columns([TAG_COLUMN])
            result = result.append_column(TAG_COLUMN, pa.array(by_row, pa.list_(SPAN_TYPE)))

        if any(reasons):
            kept, _ = split_by_reason(result, reasons, self.name)
            _, rejected = split_by_reason(table, reasons, self.name)  # rejected rows keep their text
            out.write_rejected(rejected)
        else:
            kept = result  # nothing to split off: no copy of the shard
        out.write_kept(kept, chars=text_chars(kept, col))
        out.write_edits(edits_table(table["id"], keep, replacements))
        out.count("candidate_docs", len(rows))
        out.count("docs_with_pii", len(keep))
        for _, spans in keep:
            for sp in spans:
                out.count(f"found:{sp.type}")
                out.count(f"kind:{sp.kind}")

    def scan(self, texts: pa.Array) -> tuple[list[int], list[str], list[list[Span]]]:
        """The rows with a candidate, their texts, and the findings in each."""
        with gc_paused():
            return find_spans_column(texts, self.config.types)

    def token(self, span: Span) -> str:
        template = self.config.token_for(span.type)
        if self.config.replacement == "token":
            return template
        digest = hmac.new(self._key, f"{span.type}\0{span.value}".encode(), hashlib.sha256).hexdigest()
        return template.replace("{hash}", digest[:self.config.hash_chars])

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        counters = manifest.get("counters", {})
        found = {t: counters.get(f"found:{t}", 0) for t in self.config.types}
        kinds = {k.partition(":")[2]: v for k, v in counters.items() if k.startswith("kind:")}
        manifest["counters"] = {k: v for k, v in counters.items() if not k.startswith(("found:", "kind:"))}
        manifest["pii"] = {"mode": self.config.mode, "replacement": self.config.replacement,
                           "found": found, "kinds": dict(sorted(kinds.items())),
                           "docs_with_pii": counters.get("docs_with_pii", 0)}


def redact(text: str, spans: list[Span], tokens: list[str]) -> str:
    """``text`` with each span replaced by its token; everything between spans is left as it was."""
    parts = []
    pos = 0
    for sp, token in zip(spans, tokens):
        parts.append(text[pos:sp.start])
        parts.append(token)
        pos = sp.end
    parts.append(text[pos:])
    return "".join(parts)


def edits_table(ids: pa.ChunkedArray, keep: list[tuple[int, list[Span]]],
                replacements: list[list[str | None]]) -> pa.Table:
    rows = [r for r, spans in keep for _ in spans]
    spans = [sp for _, spans in keep for sp in spans]
    return pa.table({
        "id": ids.take(rows).cast(pa.string()) if rows else pa.array([], pa.string()),
        "type": pa.array([sp.type for sp in spans], pa.string()),
        "kind": pa.array([sp.kind for sp in spans], pa.string()),
        "start": pa.array([sp.start for sp in spans], pa.int64()),
        "end": pa.array([sp.end for sp in spans], pa.int64()),
        "replacement": pa.array([t for ts in replacements for t in ts], pa.string()),
    })


__all__ = ["PiiConfig", "PiiStage", "find_spans", "find_spans_column", "redact"]
