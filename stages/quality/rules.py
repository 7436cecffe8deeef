"""Quality rules: which signal, which bound, for which languages, from which source; and presets.

A document rule compares one document signal (see ``signals.py``) with a bound. Rules apply per
language group, so a rule that does not fit a language is skipped for it by design:

- ``word``: languages written with spaces between words (en, fr, de, ru, ...): Gopher's word rules;
- ``zh``: Chinese, measured in characters and sentences ending in 。！？: the Chinese rules;
- ``cjk``: Japanese and Korean: the language-neutral rules only;
- ``all``: every language.

Sources of the published thresholds (see docs/quality.md):
- Gopher: Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training
  Gopher", appendix A.1.1 (quality filters) and table A1 (repetition filters).
- C4: Raffel et al. 2020, "Exploring the Limits of Transfer Learning ...", section 2.2.
- FineWeb: Penedo et al. 2024, "The FineWeb Datasets", section 3.3 (three custom filters);
  FineWeb-2's Mandarin settings (configs/cmn_Hani.yml) for the Chinese variants.
- ChineseWebText: Chen et al. 2023 (arXiv 2311.01149): length, Chinese share, mean line length,
  13-gram repetition. MAP-NEO (arXiv 2405.19327) Chinese rules: bracket share, digit words,
  "read more" lines.
Thresholds marked "dataprep" are this project's, tuned on sample_data and the real Chinese pages
in the tests, not published ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str       # the reason is `quality:<name>`
    signal: str     # a column of the signals table
    op: str         # "min": value must be >= bound; "max": value must be <= bound
    bound: float
    langs: str      # "all", or groups and ISO codes joined by "+": "word", "zh+cjk", "en+zh"
    source: str

    def applies(self, group: str) -> bool:
        return self.langs == "all" or group in self.langs.split("+")

    @property
    def only_langs(self) -> list[str]:
        """ISO codes this rule is limited to (empty: the groups decide)."""
        return [x for x in self.langs.split("+") if x not in ("all", "word", "zh", "cjk")]


def _r(name: str, signal: str, op: str, bound: float, langs: str, source: str) -> Rule:
    return Rule(name, signal, op, bound, langs, source)


GOPHER = "Gopher (Rae et al. 2021)"
GOPHER_REP = "Gopher repetition (Rae et al. 2021, table A1)"
C4 = "C4 (Raffel et al. 2020)"
FINEWEB = "FineWeb (Penedo et al. 2024)"
FINEWEB2_ZH = "FineWeb-2 cmn_Hani"
CWT = "ChineseWebText (Chen et al. 2023)"
MAPNEO = "MAP-NEO (2024) Chinese rules"
OURS = "dataprep"

RULES: list[Rule] = [
    # Gopher quality
    _r("gopher_min_words", "words", "min", 50, "word", GOPHER),
    _r("gopher_max_words", "words", "max", 100_000, "word", GOPHER),
    _r("gopher_min_mean_word_length", "mean_word_length", "min", 3, "word", GOPHER),
    _r("gopher_max_mean_word_length", "mean_word_length", "max", 10, "word", GOPHER),
    _r("gopher_symbol_word_ratio", "symbol_word_ratio", "max", 0.1, "all", GOPHER),
    _r("gopher_bullet_lines", "bullet_lines_frac", "max", 0.9, "all", GOPHER),
    _r("gopher_ellipsis_lines", "ellipsis_lines_frac", "max", 0.3, "all", GOPHER),
    _r("gopher_alpha_words", "alpha_words_frac", "min", 0.8, "word", GOPHER),
    _r("gopher_stop_words", "stop_words", "min", 2, "en", GOPHER),
    # Gopher repetition
    _r("gopher_dup_lines", "dup_line_frac", "max", 0.3, "all", GOPHER_REP),
    _r("gopher_dup_paragraphs", "dup_para_frac", "max", 0.3, "all", GOPHER_REP),
    _r("gopher_dup_line_chars", "dup_line_char_frac", "max", 0.2, "all", GOPHER_REP),
    _r("gopher_dup_paragraph_chars", "dup_para_char_frac", "max", 0.2, "all", GOPHER_REP),
    _r("gopher_top_2gram", "top_2gram_frac", "max", 0.20, "word", GOPHER_REP),
    _r("gopher_top_3gram", "top_3gram_frac", "max", 0.18, "word", GOPHER_REP),
    _r("gopher_top_4gram", "top_4gram_frac", "max", 0.16, "word", GOPHER_REP),
    *[_r(f"gopher_dup_{n}gram", f"dup_{n}gram_frac", "max", b, "word", GOPHER_REP)
      for n, b in zip(range(5, 11), (0.15, 0.14, 0.13, 0.12, 0.11, 0.10))],
    # C4 (document part; the line part is in LINE_RULES)
    _r("c4_min_sentences", "sentences", "min", 3, "all", C4),
    _r("c4_curly_bracket", "curly_brackets", "max", 0, "all", C4),
    _r("c4_lorem_ipsum", "lorem_ipsum", "max", 0, "all", C4),
    # FineWeb, with FineWeb-2's Mandarin values for Chinese
    _r("fineweb_line_punct", "line_punct_frac", "min", 0.12, "word", FINEWEB),
    _r("fineweb_line_punct_zh", "line_punct_frac", "min", 0.106, "zh", FINEWEB2_ZH),
    _r("fineweb_short_lines", "short_lines_frac", "max", 0.67, "word", FINEWEB),
    _r("fineweb_dup_line_chars", "dup_line_char_frac", "max", 0.1, "all", FINEWEB),
    # Chinese, in characters and Chinese sentences
    _r("zh_min_chars", "chars", "min", 200, "zh", CWT),
    _r("zh_cjk_share", "cjk_share", "min", 0.3, "zh", CWT + ", over word units"),
    _r("zh_mean_line_chars", "mean_line_chars", "min", 10, "zh", CWT),
    _r("zh_dup_13gram", "dup_13gram_frac", "max", 0.5, "zh+cjk", CWT),
    _r("zh_top_4gram", "top_4gram_frac", "max", 0.16, "zh+cjk", MAPNEO),
    _r("zh_bracket_chars", "bracket_chars_frac", "max", 0.1, "zh", MAPNEO),
    _r("zh_digit_words", "digit_words_frac", "max", 0.3, "zh", MAPNEO),
    _r("zh_readmore_lines", "readmore_lines_frac", "max", 0.3, "zh", MAPNEO),
    _r("zh_min_punct", "punct_ratio", "min", 0.005, "zh", OURS),
    _r("zh_max_mean_sentence_chars", "mean_sentence_chars", "max", 250, "zh", OURS),
    _r("zh_stop_words", "stop_words", "min", 2, "zh", FINEWEB2_ZH),
    # language-neutral: garbled text, ads and spam, machine-made and templated text (dataprep)
    _r("min_chars", "chars", "min", 50, "all", MAPNEO),
    _r("mojibake", "mojibake_per_kchar", "max", 1.0, "all", OURS),
    _r("garbled_symbols", "garbled_chars_frac", "max", 0.05, "all", OURS),
    _r("contact_density", "contacts_per_kchar", "max", 4.0, "all", OURS),
    _r("promo_phrases", "promo_per_kchar", "max", 3.0, "all", OURS),
    _r("price_runs", "prices_per_kchar", "max", 8.0, "all", OURS),
    _r("dup_sentences", "dup_sentence_frac", "max", 0.3, "all", OURS),
    _r("keyword_stuffing", "top_word_frac", "max", 0.08, "word", OURS),
    _r("keyword_stuffing_zh", "top_bigram_frac", "max", 0.06, "zh", OURS),
    _r("tag_cloud", "tag_cloud_lines_frac", "max", 0.3, "all", OURS),
    _r("min_kept_share", "kept_share", "min", 0.5, "all", OURS),
]
BY_NAME = {r.name: r for r in RULES}

# Line (paragraph) and sentence rules: a unit that matches is cut from a kept document. These name
# pattern families in signals.py; `c4_*` are C4's line filters (Raffel et al. 2020, section 2.2).
LINE_RULES = ["related_section", "boilerplate_line", "ad_line", "link_line", "teaser_line", "c4_javascript", "c4_policy", "c4_terminal_punct",
              "c4_min_words"]
SENTENCE_RULES = ["boilerplate_sentence", "ad_sentence"]

_GOPHER = [r.name for r in RULES if r.name.startswith("gopher_")]
_C4 = ["c4_min_sentences", "c4_curly_bracket", "c4_lorem_ipsum"]
_FINEWEB = ["fineweb_line_punct", "fineweb_line_punct_zh", "fineweb_short_lines", "fineweb_dup_line_chars"]
_CHINESE = [r.name for r in RULES if r.name.startswith("zh_")]
_NEUTRAL = ["min_chars", "mojibake", "garbled_symbols", "contact_density", "promo_phrases", "price_runs",
            "dup_sentences", "keyword_stuffing", "keyword_stuffing_zh", "tag_cloud", "min_kept_share"]

PRESETS: dict[str, dict] = {
    # Gopher's quality and repetition filters as published (word languages; the neutral ones for all)
    "gopher": {"rules": _GOPHER, "lines": [], "sentences": []},
    # C4's line and page filters, terminal punctuation including the CJK enders
    "c4": {"rules": _C4, "lines": ["c4_javascript", "c4_policy", "c4_terminal_punct", "c4_min_words"],
           "sentences": []},
    "fineweb": {"rules": _FINEWEB, "lines": [], "sentences": []},
    "chinese": {"rules": _CHINESE + ["mojibake", "garbled_symbols", "fineweb_line_punct_zh"], "lines": [],
                "sentences": []},
    # Everything that fits each language, with furniture, ad and boilerplate lines and sentences cut
    "default": {
        "rules": [n for n in _GOPHER if n not in ("gopher_min_words",)] + ["c4_lorem_ipsum"]
        + ["fineweb_line_punct", "fineweb_line_punct_zh", "fineweb_dup_line_chars"]
        + [n for n in _CHINESE if n != "zh_min_chars"] + _NEUTRAL,
        "lines": ["related_section", "boilerplate_line", "ad_line", "link_line", "teaser_line", "c4_javascript", "c4_policy"],
        "sentences": ["boilerplate_sentence", "ad_sentence"],
    },
}
