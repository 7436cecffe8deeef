"""Quality signals for a batch of documents, computed column-wise with polars (no Python loop per
document): document signals, and per-line (paragraph) and per-sentence cuts.

Units follow ``dataprep/text.py``: a word is one Han/kana character, a hangul run, or a run of
other letters and digits; Chinese sentences end at 。！？；… as well as .!?; a paragraph is a line
(paragraphs are separated by line breaks in the corpus format). N-gram signals run over word units,
so for Chinese they are character n-grams.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .kernel import _per_doc, ngram_repetition

# --- units (Rust regex syntax, the same units as dataprep.text) ------------------------------------

CJK_CLASS = r"\p{Han}\p{Hiragana}\p{Katakana}\x{30FC}"
WORD = (rf"[{CJK_CLASS}]|\p{{Hangul}}+|[[\p{{L}}\p{{N}}]--[{CJK_CLASS}\p{{Hangul}}]]+"
        rf"(?:['’\-][[\p{{L}}\p{{N}}]--[{CJK_CLASS}\p{{Hangul}}]]+)*")
DIGIT_WORD = r"(?:^|[^\p{L}\p{N}])\p{N}+(?:[.,]\p{N}+)*(?:$|[^\p{L}\p{N}])"
LETTER = r"\p{L}"
HAN = r"\p{Han}"
# a sentence: text up to and including its ender (CJK enders anywhere, . ! ? before a space or the end)
SENTENCE = r"[^。！？；…!?]+?(?:[。！？；!?]+|…+|\.\s+|\.$|$)[”’」』）)】》\"']*\s*|[。！？；…!?]+\s*"
TERMINAL = r"[.!?。！？…\"'”’」』)）]\s*$"
CJK_PUNCT = r"[，。、；：？！“”‘’（）《》〈〉【】「」『』—…·]"
BULLET_LINE = r"^\s*(?:[•●○◦▪▫■□◆◇★☆►▶➢➤✓✔*·‣⁃-]|\d{1,2}[.)、]\s)"
ELLIPSIS_LINE = r"(?:\.\.\.|…)\s*$"
SYMBOLS = r"#|\.\.\.|…"
READMORE_LINE = r"(?i)(?:展开|更多|。。。|read ?more|查看全文|阅读全文)\s*[>»›]*\s*$"

# Garbled and mis-decoded text: U+FFFD, boxes and private-use characters; "锟斤拷"/"烫烫烫" (GBK
# artefacts of UTF-8 damage); Latin-1 readings of UTF-8 ("Ã©", "â€™").
GARBLED_CHAR = r"[\x{FFFD}\x{25A1}\x{25A0}\p{Co}]"
MOJIBAKE = r"锟斤拷|烫烫烫|屯屯屯|[ÃÂ][\x{80}-\x{BF}\x{A0}-\x{FF}]|â€[™œ\x{9D}“”˜¦]|Ã[©¨¢§®¼½¾]"

# Contacts: WeChat/QQ handles, Chinese mobile numbers, phone numbers (DIRECT_CONTACT, what ads ask
# readers to use), and e-mail addresses and URLs, which documentation and references also hold.
DIRECT_CONTACT = (r"(?i)(?:微信|weixin|wechat|vx|v信|薇信|wx)\s*(?:号|id)?\s*[:：]?\s*[A-Za-z][\w-]{4,}"
                  r"|(?:qq|扣扣)\s*(?:号|群)?\s*[:：]?\s*\d{5,11}"
                  r"|(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}"
                  r"|\+?\d{1,3}[ (-]*\d{3}[) -]*\d{3}[ -]?\d{4}|(?:tel|phone|电话|热线)\s*[:：]\s*[\d -]{7,}")
CONTACT = (r"(?i)[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://\S+|www\.\S+"
           r"|(?:微信|weixin|wechat|vx|v信|薇信|wx)\s*(?:号|id)?\s*[:：]?\s*[A-Za-z][\w-]{4,}"
           r"|(?:qq|扣扣)\s*(?:号|群)?\s*[:：]?\s*\d{5,11}"
           r"|(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}"
           r"|\+?\d{1,3}[ (-]*\d{3}[) -]*\d{3}[ -]?\d{4}|(?:tel|phone|电话|热线)\s*[:：]\s*[\d -]{7,}")
PROMO = (r"(?i)加微信|加v|加我|代开发票|开发票|点击领取|免费领取|限时优惠|限时抢购|立即购买|马上抢|优惠券|返现|代办|"
         r"立即咨询|免费咨询|获取报价|方案报价|需要专业的\S{1,10}服务|"
         r"包过|贷款|无抵押|日赚|兼职刷单|刷单|彩票|娱乐城|博彩|赌场|澳门|百家乐|老虎机|六合彩|时时彩|"
         r"私服|代孕|减肥药|壮阳|低价出售|全网最低|咨询热线|欢迎来电|招商加盟|"
         r"buy now|order now|click here|free shipping|limited offer|limited time|best price|cheap |discount|"
         r"casino|poker|betting|jackpot|viagra|cialis|payday loan|loans? approved|bitcoin doubler|"
         r"earn \$|make money|work from home|100% free|act now|call now|sign up now|risk[- ]free")
PRICE = r"[￥¥$€£]\s*\d+(?:[.,]\d+)?|\d+(?:\.\d+)?\s*(?:元|块|折|% ?off|美元)|优惠|特价|秒杀|包邮|清仓"

# Boilerplate: navigation, copyright and filing notices, datelines, "read more", share/follow
# prompts, disclaimers, cookie and policy notices (zh set after the reference list in
# docs/quality.md). A line is cut only when it is short: furniture is short, and a long line that
# mentions "copyright" is prose.
BOILERPLATE_MAX_CHARS = 200
BOILERPLATE_LINE = (
    r"(?i)^\s*(?:"
    r"首页\s*[>|»›/].*|[^|｜]{1,14}(?:\s*[|｜]\s*[^|｜]{1,14}){3,}|"  # breadcrumbs, menus: "首页 > 新闻", "a | b | c | d"
    r".*版权所有.*|.*copyright\s*(?:©|\(c\)|\d{4}).*|©\s*\d{4}.*|.*all rights reserved.*|"
    r".*[京沪粤浙苏鲁川渝津闽湘鄂皖赣豫冀晋辽吉黑陕甘青琼云贵桂蒙宁新藏港]icp[备证].*|.*公网安备.*|"
    r".*(?:上一篇|下一篇|上一页|下一页|返回顶部|返回首页|相关阅读|相关推荐|热门推荐|猜你喜欢|延伸阅读).*|"
    r".*(?:扫码关注|扫一扫|关注我们|关注公众号|微信公众号|分享到|阅读原文|点击查看|点击阅读|查看更多).*|"
    r".*(?:免责声明|转载请注明|未经许可不得转载|责任编辑\s*[:：]|来源\s*[:：]|编辑\s*[:：]|作者\s*[:：]).{0,40}|"
    r"(?:立即|马上|免费)(?:咨询|购买|下载|注册|体验|领取|订阅)|(?:点赞|收藏|分享|评论|在看)(?:\s*\d*\s*[|/·]?\s*)+|"
    r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?(?:\s+\S{1,12}){0,4}|"  # a dateline
    r"(?:read more|continue reading|share this|share on|follow us|subscribe|sign up for|back to top|"
    r"previous post|next post|related posts?|related articles?|you may also like|tags?\s*:|posted in|"
    r"leave a comment|\d+ comments?|skip to (?:main )?content|home\s*[>|»/]).*|"
    r".*(?:this (?:site|website) uses cookies|we use cookies|accept (?:all )?cookies|cookie (?:policy|settings)).*|"
    r".*(?:privacy policy|terms of (?:use|service)).*"
    r")\s*$"
)
BOILERPLATE_SENTENCE = (
    r"(?i)(?:点击(?:查看|阅读)(?:全文|原文|更多)|欢迎(?:关注|转发|分享)|长按(?:识别|二维码)|扫码关注|"
    r"关注我们|喜欢请点赞|本文(?:来源|转自|系转载)|如有侵权|请联系(?:删除|我们)|返回\S{0,6}[，,]?\s*查看更多|"
    r"责任编辑\s*[:：]|"
    r"click here to (?:read|subscribe|learn)|subscribe to our|sign up for our|follow us on|"
    r"this article (?:was )?(?:first )?(?:appeared|published)|originally published (?:on|at)|all rights reserved)"
)
RELATED_HEADING = (r"(?i)^\s*(?:相关文章|相关阅读|相关推荐|推荐阅读|热门文章|热门推荐|猜你喜欢|延伸阅读|更多推荐|"
                   r"related (?:posts|articles|stories|reading)|you (?:may|might) also like|read next|"
                   r"more (?:stories|articles) from)\s*[:：]?\s*$")
# A line that is mostly links (reference lists, link farms): URLs cover at least half its characters.
URL = r"(?i)https?://\S+|www\.\S+"
C4_POLICY = r"(?i)terms of use|privacy policy|cookie policy|uses cookies|use of cookies|use cookies"
C4_JAVASCRIPT = r"(?i)javascript"
TAG_CLOUD_LINE = r"^\s*(?:[^\s,，、|#]{1,12}\s*[,，、|#]\s*){5,}[^\s,，、|#]{0,12}\s*$"

STOP_WORDS = {
    # Gopher (Rae et al. 2021): a document must hold at least two of these
    "word": ["the", "be", "to", "of", "and", "that", "have", "with"],
    # FineWeb-2's Mandarin stop words (configs/cmn_Hani.yml)
    "zh": ["的", "年", "在", "月", "是", "和", "日", "了", "於", "為", "有", "被", "人", "中", "为", "他", "與", "後",
           "也", "而", "由"],
}

TOP_NGRAMS = (2, 3, 4)
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)
ZH_DUP_NGRAM = 13  # ChineseWebText: character 13-grams
NGRAM_BATCH = 2000  # documents per n-gram pass: bounds the exploded word table
SIGNAL_BATCH = 4000  # documents per pass of the other signals: bounds the exploded line and sentence tables
MIN_STUFFING_WORDS = 50  # keyword-stuffing signals need at least this many words (CJK: twice as many characters)


def _per_kchar(count: pl.Expr, chars: pl.Expr) -> pl.Expr:
    return count.cast(pl.Float64) * 1000.0 / pl.max_horizontal(chars, pl.lit(1)).cast(pl.Float64)


def _ratio_series(a: pl.Series, b: pl.Series) -> pl.Series:
    return pl.select(_ratio(pl.lit(a), pl.lit(b))).to_series().clip(0.0, 1.0)


def _ratio(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return pl.when(b > 0).then(a.cast(pl.Float64) / b.cast(pl.Float64)).otherwise(0.0)


# --- language groups ---------------------------------------------------------------------------------


def language_groups(texts: pl.Series, langs: pl.Series | None) -> pl.Series:
    """``zh`` | ``cjk`` | ``word`` per document: from the ``lang`` column where there is one,
    else from the script: text whose letters are mostly Han (no kana, no hangul) is Chinese."""
    if langs is not None and langs.null_count() == 0:  # langid has spoken for every document
        lang = langs.cast(pl.String)
        return pl.select(
            pl.when(lang == "zh").then(pl.lit("zh"))
            .when(lang.is_in(["ja", "ko", "th", "lo", "km", "my", "bo", "dz"])).then(pl.lit("cjk"))
            .otherwise(pl.lit("word"))).to_series().alias("g")
    df = pl.DataFrame({"t": texts})
    script = df.select(
        han=pl.col("t").str.count_matches(HAN),
        kana=pl.col("t").str.count_matches(r"[\p{Hiragana}\p{Katakana}]"),
        hangul=pl.col("t").str.count_matches(r"\p{Hangul}"),
        letters=pl.col("t").str.count_matches(LETTER),
    )
    by_script = script.select(
        pl.when((pl.col("hangul") + pl.col("kana")) * 2 > pl.col("letters")).then(pl.lit("cjk"))
        .when((pl.col("han") * 2 > pl.col("letters")) & (pl.col("kana") * 20 < pl.col("han"))).then(pl.lit("zh"))
        .when(pl.col("han") * 2 > pl.col("letters")).then(pl.lit("cjk"))
        .otherwise(pl.lit("word")).alias("g")
    )["g"]
    if langs is None:
        return by_script
    lang = langs.cast(pl.String)
    return (pl.DataFrame({"l": lang, "s": by_script}).select(
        pl.when(pl.col("l").is_null()).then(pl.col("s"))
        .when(pl.col("l") == "zh").then(pl.lit("zh"))
        .when(pl.col("l").is_in(["ja", "ko"])).then(pl.lit("cjk"))
        .when(pl.col("l").is_in(["th", "lo", "km", "my", "bo", "dz"])).then(pl.lit("cjk"))  # no spaces between words
        .otherwise(pl.lit("word")).alias("g"))["g"])


# --- line and sentence cuts -------------------------------------------------------------------------


def _unit_reason(col: str, rules: list[str]) -> pl.Expr:
    """First matching cut rule of a line or sentence (null: keep)."""
    c = pl.col(col)
    tests = {
        "boilerplate_line": c.str.contains(BOILERPLATE_LINE) & (c.str.len_chars() <= BOILERPLATE_MAX_CHARS),
        "ad_line": (c.str.count_matches(PROMO) >= 1)
        & (((c.str.count_matches(CONTACT) + c.str.count_matches(PROMO)) >= 2) | (c.str.len_chars() <= 40)),
        # a truncated teaser: "..." or "…..." (a plain "…" or "……" also ends Chinese prose)
        "teaser_line": c.str.contains(r"(?:\.{3,}|…\.+)\s*$") & (c.str.len_chars() >= 20),
        "link_line": c.str.extract_all(URL).list.eval(pl.element().str.len_chars()).list.sum().fill_null(0) * 2
        >= c.str.strip_chars().str.len_chars(),
        "c4_javascript": c.str.contains(C4_JAVASCRIPT),
        "c4_policy": c.str.contains(C4_POLICY),
        "c4_terminal_punct": ~c.str.contains(TERMINAL),
        "c4_min_words": c.str.count_matches(WORD) < 5,
        "boilerplate_sentence": c.str.contains(BOILERPLATE_SENTENCE),
        "ad_sentence": ((c.str.count_matches(CONTACT) >= 1) & (c.str.count_matches(PROMO) >= 1))
        | (c.str.count_matches(PROMO) >= 2),
    }
    expr = pl.lit(None, dtype=pl.String)
    for name in reversed(rules):
        expr = pl.when(tests[name]).then(pl.lit(f"quality:{name}")).otherwise(expr)
    return expr


def cut_units(texts: pl.Series, line_rules: list[str], sentence_rules: list[str]) -> tuple[pl.Series, pl.DataFrame]:
    """Drop matching lines, then matching sentences inside the kept lines. Returns the new texts
    and a table of what was cut: ``doc, unit ("line"|"sentence"), index, reason, text``.

    ``related_section`` cuts a "related articles" heading and every line after it: the page's
    recommendation block, not part of the document (its characters do not count against the
    document's kept share)."""
    n = len(texts)
    lines = (pl.DataFrame({"doc": pl.arange(0, n, eager=True, dtype=pl.UInt32), "t": texts})
             .with_columns(pl.col("t").str.split("\n")).explode("t")
             .with_columns(line=pl.int_range(pl.len(), dtype=pl.UInt32).over("doc")))
    cuts = []
    blank = pl.col("t").str.strip_chars() == ""
    if "related_section" in line_rules:
        lines = lines.with_columns(tail=pl.col("t").str.contains(RELATED_HEADING).cum_max().over("doc"))
        cut = lines.filter(pl.col("tail") & ~blank)
        cuts.append(cut.select("doc", unit=pl.lit("line"), index=pl.col("line"),
                               reason=pl.lit("quality:related_section"), text="t"))
        lines = lines.filter(~pl.col("tail")).drop("tail")
        line_rules = [r for r in line_rules if r != "related_section"]
    if line_rules:
        lines = lines.with_columns(reason=pl.when(blank).then(None).otherwise(_unit_reason("t", line_rules)))
        cut = lines.filter(pl.col("reason").is_not_null())
        cuts.append(cut.select("doc", unit=pl.lit("line"), index=pl.col("line"), reason="reason", text="t"))
        lines = lines.filter(pl.col("reason").is_null()).drop("reason")
    if sentence_rules:
        # only lines where a sentence rule can match are split into sentences
        maybe = pl.col("t").str.contains(BOILERPLATE_SENTENCE) | pl.col("t").str.contains(PROMO)
        lines = lines.with_columns(_maybe=maybe.fill_null(False))
        untouched = lines.filter(~pl.col("_maybe")).drop("_maybe")
        sents = (lines.filter(pl.col("_maybe")).drop("_maybe")
                 .with_columns(s=pl.col("t").str.extract_all(SENTENCE)).drop("t")
                 .with_columns(pl.when(pl.col("s").list.len() == 0).then(pl.lit([""])).otherwise(pl.col("s")).alias("s"))
                 .explode("s")
                 .with_columns(reason=_unit_reason("s", sentence_rules)))
        cut = sents.filter(pl.col("reason").is_not_null())
        cuts.append(cut.select("doc", unit=pl.lit("sentence"), index=pl.col("line"), reason="reason",
                               text=pl.col("s").str.strip_chars()))
        rebuilt = (sents.filter(pl.col("reason").is_null())
                   .group_by(["doc", "line"], maintain_order=True).agg(pl.col("s").str.join(""))
                   .rename({"s": "t"}))
        # a line whose every sentence was cut is gone; one that had none stays (as "")
        lines = pl.concat([untouched.select("doc", "t", "line"), rebuilt.select("doc", "t", "line")])
    lines = lines.with_columns(pl.col("t").str.strip_chars_end())
    joined = (lines.sort(["doc", "line"]).group_by("doc", maintain_order=True)
              .agg(pl.col("t").str.join("\n")))
    out = (pl.DataFrame({"doc": pl.arange(0, n, eager=True, dtype=pl.UInt32)})
           .join(joined, on="doc", how="left").sort("doc")
           .select(pl.col("t").fill_null("").str.strip_chars())["t"])
    schema = {"doc": pl.UInt32, "unit": pl.String, "index": pl.UInt32, "reason": pl.String, "text": pl.String}
    cut_table = pl.concat([c.cast(schema) for c in cuts]) if cuts else pl.DataFrame(schema=schema)
    return out, cut_table


# --- document signals ---------------------------------------------------------------------------------


def doc_signals(texts: pl.Series, groups: pl.Series) -> pl.DataFrame:
    """One row of signals per document (see docs/quality.md for each definition), SIGNAL_BATCH
    documents at a time (every signal is the document's own, so the batches change nothing but
    the memory a shard needs)."""
    if len(texts) <= SIGNAL_BATCH:
        return _doc_signals(texts, groups)
    return pl.concat([_doc_signals(texts.slice(i, SIGNAL_BATCH), groups.slice(i, SIGNAL_BATCH))
                      for i in range(0, len(texts), SIGNAL_BATCH)])


def _doc_signals(texts: pl.Series, groups: pl.Series) -> pl.DataFrame:
    df = pl.DataFrame({"t": texts, "g": groups})
    t = pl.col("t")
    base = df.select(
        chars=t.str.len_chars(),
        ws_tokens=t.str.count_matches(r"\S+"),
        alpha_tokens=t.str.count_matches(r"\S*\p{L}\S*"),
        symbols=t.str.count_matches(SYMBOLS),
        digit_words=t.str.count_matches(DIGIT_WORD),
        cjk_punct=t.str.count_matches(CJK_PUNCT),
        sentences=t.str.count_matches(SENTENCE),
        brackets=t.str.len_chars() - t.str.replace_all(r"【[^】]*】", "").str.len_chars(),
        garbled=t.str.count_matches(GARBLED_CHAR),
        mojibake=t.str.count_matches(MOJIBAKE),
        contacts=t.str.count_matches(DIRECT_CONTACT),
        promos=t.str.count_matches(PROMO),
        prices=t.str.count_matches(PRICE),
        curly=t.str.count_matches(r"[{}]"),
        lorem=t.str.count_matches(r"(?i)lorem ipsum"),
        stop_word=pl.sum_horizontal([t.str.contains(rf"(?i)\b{w}\b") for w in STOP_WORDS["word"]]),
        stop_zh=pl.sum_horizontal([t.str.contains(w, literal=True) for w in STOP_WORDS["zh"]]),
        g=pl.col("g"),
    )
    ngrams = ngram_signals(texts)  # also counts the words (from the same extraction)
    base = base.with_columns(words=ngrams["_words"].cast(pl.Int64), cjk=ngrams["_cjk_words"],
                             latin_words=ngrams["_latin_words"], latin_word_chars=ngrams["_latin_word_chars"])
    out = base.select(
        chars="chars", words="words", sentences="sentences",
        mean_word_length=_ratio(pl.col("latin_word_chars"), pl.col("latin_words")),
        symbol_word_ratio=_ratio(pl.col("symbols"), pl.col("words")),
        alpha_words_frac=_ratio(pl.col("alpha_tokens"), pl.col("ws_tokens")),
        stop_words=pl.when(pl.col("g") == "zh").then(pl.col("stop_zh")).otherwise(pl.col("stop_word")),
        cjk_share=_ratio(pl.col("cjk"), pl.col("words")),  # CJK characters among word units
        digit_words_frac=_ratio(pl.col("digit_words"), pl.col("words")),
        punct_ratio=_ratio(pl.col("cjk_punct"), pl.col("chars")),
        mean_sentence_chars=_ratio(pl.col("chars"), pl.col("sentences")),
        bracket_chars_frac=_ratio(pl.col("brackets").fill_null(0), pl.col("chars")),
        garbled_chars_frac=_ratio(pl.col("garbled"), pl.col("chars")),
        mojibake_per_kchar=_per_kchar(pl.col("mojibake"), pl.col("chars")),
        contacts_per_kchar=_per_kchar(pl.col("contacts"), pl.col("chars")),
        promo_per_kchar=_per_kchar(pl.col("promos"), pl.col("chars")),
        prices_per_kchar=_per_kchar(pl.col("prices"), pl.col("chars")),
        curly_brackets="curly", lorem_ipsum="lorem",
    )
    full = pl.concat([out, line_signals(texts), sentence_signals(texts),
                      ngrams.drop(["_words", "_cjk_words", "_latin_words", "_latin_word_chars"])], how="horizontal")
    # one word's share says nothing about stuffing in a text too short to repeat it
    return full.with_columns(
        top_word_frac=pl.when(pl.col("words") >= MIN_STUFFING_WORDS).then(pl.col("top_word_frac")).otherwise(0.0),
        top_bigram_frac=pl.when(base["cjk"] >= MIN_STUFFING_WORDS * 2).then(pl.col("top_bigram_frac")).otherwise(0.0),
    )


def line_signals(texts: pl.Series) -> pl.DataFrame:
    """Line and paragraph structure: duplicates (Gopher), punctuation and short lines (FineWeb),
    bullets, ellipses, "read more" endings, tag clouds."""
    n = len(texts)
    idx = pl.arange(0, n, eager=True, dtype=pl.UInt32)
    lines = (pl.DataFrame({"doc": idx, "t": texts}).with_columns(pl.col("t").str.split("\n")).explode("t")
             .with_columns(pl.col("t").str.strip_chars())
             .filter(pl.col("t").fill_null("") != ""))
    lines = lines.with_columns(
        n=pl.col("t").str.len_chars(),
        seen=~pl.struct("doc", "t").is_first_distinct(),   # a repeat of an earlier line
        punct=pl.col("t").str.contains(TERMINAL),
        bullet=pl.col("t").str.contains(BULLET_LINE),
        ellipsis=pl.col("t").str.contains(ELLIPSIS_LINE),
        readmore=pl.col("t").str.contains(READMORE_LINE),
        tags=pl.col("t").str.contains(TAG_CLOUD_LINE),
    )
    per_doc = lines.group_by("doc").agg(
        lines=pl.len(),
        line_chars=pl.col("n").sum(),
        dup_lines=pl.col("seen").sum(),
        dup_line_chars=(pl.col("n") * pl.col("seen")).sum(),
        punct_lines=pl.col("punct").sum(),
        short_lines=(pl.col("n") <= 30).sum(),
        bullet_lines=pl.col("bullet").sum(),
        ellipsis_lines=pl.col("ellipsis").sum(),
        readmore_lines=pl.col("readmore").sum(),
        tag_lines=pl.col("tags").sum(),
    )
    paras = (pl.DataFrame({"doc": idx, "t": texts}).with_columns(pl.col("t").str.split("\n\n")).explode("t")
             .with_columns(pl.col("t").str.strip_chars()).filter(pl.col("t").fill_null("") != "")
             .with_columns(n=pl.col("t").str.len_chars(), seen=~pl.struct("doc", "t").is_first_distinct())
             .group_by("doc").agg(paras=pl.len(), para_chars=pl.col("n").sum(), dup_paras=pl.col("seen").sum(),
                                  dup_para_chars=(pl.col("n") * pl.col("seen")).sum()))
    full = (pl.DataFrame({"doc": idx}).join(per_doc, on="doc", how="left").join(paras, on="doc", how="left")
            .sort("doc").fill_null(0))
    return full.select(
        lines="lines",
        dup_line_frac=_ratio(pl.col("dup_lines"), pl.col("lines")),
        dup_line_char_frac=_ratio(pl.col("dup_line_chars"), pl.col("line_chars")),
        dup_para_frac=_ratio(pl.col("dup_paras"), pl.col("paras")),
        dup_para_char_frac=_ratio(pl.col("dup_para_chars"), pl.col("para_chars")),
        line_punct_frac=_ratio(pl.col("punct_lines"), pl.col("lines")),
        short_lines_frac=_ratio(pl.col("short_lines"), pl.col("lines")),
        bullet_lines_frac=_ratio(pl.col("bullet_lines"), pl.col("lines")),
        ellipsis_lines_frac=_ratio(pl.col("ellipsis_lines"), pl.col("lines")),
        readmore_lines_frac=_ratio(pl.col("readmore_lines"), pl.col("lines")),
        tag_cloud_lines_frac=_ratio(pl.col("tag_lines"), pl.col("lines")),
        mean_line_chars=_ratio(pl.col("line_chars"), pl.col("lines")),
    )


def sentence_signals(texts: pl.Series) -> pl.DataFrame:
    """Near-identical sentences: the share of sentences that repeat an earlier one of the same
    document up to case and numbers (templated text: "Item 1 ...", "Item 2 ...")."""
    n = len(texts)
    idx = pl.arange(0, n, eager=True, dtype=pl.UInt32)
    s = (pl.DataFrame({"doc": idx, "s": texts.str.extract_all(SENTENCE)}).explode("s")
         .with_columns(k=pl.col("s").str.strip_chars().str.to_lowercase().str.replace_all(r"[0-9]+", "0"))
         .filter(pl.col("k").fill_null("").str.len_chars() >= 4)
         .with_columns(dup=~pl.struct("doc", "k").is_first_distinct())  # repeats an earlier sentence
         .group_by("doc").agg(sents=pl.len(), dup=pl.col("dup").sum()))
    full = pl.DataFrame({"doc": idx}).join(s, on="doc", how="left").sort("doc").fill_null(0)
    return full.select(dup_sentence_frac=_ratio(pl.col("dup"), pl.col("sents")))


def ngram_signals(texts: pl.Series) -> pl.DataFrame:
    """Word n-gram repetition (Gopher), over word units, in batches of documents:

    - ``top_{n}gram_frac`` (n = 2, 3, 4): characters of the most frequent repeated n-gram times its
      count, over the characters of all words;
    - ``dup_{n}gram_frac`` (n = 5..10, and 13 for Chinese): the share of word characters covered
      by repeat occurrences of an n-gram (its second and later occurrences; the first is not
      counted, as in the common implementations of Gopher's rule);
    - ``top_word_frac``: the most frequent word of 4+ characters over all words (keyword stuffing);
      ``top_bigram_frac``: the most frequent CJK character bigram over all CJK bigrams (zh).
    """
    parts = [_ngram_batch(texts.slice(i, NGRAM_BATCH)) for i in range(0, len(texts), NGRAM_BATCH)]
    return pl.concat(parts) if parts else _ngram_batch(texts)


def _ngram_batch(texts: pl.Series) -> pl.DataFrame:
    n_docs = len(texts)
    words = texts.str.to_lowercase().str.extract_all(WORD)
    counts = words.list.len().fill_null(0).to_numpy()
    flat = words.explode().drop_nulls()
    h = flat.hash(7).to_numpy()
    lengths = flat.str.len_chars().to_numpy().astype(np.int64)
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), counts)
    wchars = _per_doc(lengths.astype(np.float64), doc, n_docs, "sum")
    nwords = counts.astype(np.float64)
    # a one-character word of 3+ UTF-8 bytes is a Han/kana character (or a one-syllable hangul word)
    cjk_word = (lengths == 1) & (flat.str.len_bytes().to_numpy() >= 3)
    cjk_words = _per_doc(cjk_word.astype(np.float64), doc, n_docs, "sum")
    out = {"_words": nwords, "_cjk_words": cjk_words, "_latin_words": nwords - cjk_words,
           "_latin_word_chars": wchars - cjk_words}

    def frac(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0)

    dup_sizes = (*DUP_NGRAMS, ZH_DUP_NGRAM)
    tops, dups = ngram_repetition(h, lengths, doc, n_docs, TOP_NGRAMS, dup_sizes)  # all sizes in one pass
    for size, r in zip(TOP_NGRAMS, tops):
        out[f"top_{size}gram_frac"] = frac(r, wchars)
    for size, r in zip(dup_sizes, dups):
        out[f"dup_{size}gram_frac"] = frac(r, wchars)
    long_words = lengths >= 4
    if long_words.any():
        key = h[long_words] ^ (doc[long_words].astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93))
        _, inverse, c = np.unique(key, return_inverse=True, return_counts=True)
        top_word = _per_doc(c[inverse].astype(np.float64), doc[long_words], n_docs, "max")
    else:
        top_word = np.zeros(n_docs)
    out["top_word_frac"] = frac(top_word, nwords)
    # the CJK characters in order: each is a word unit of its own (the first branch of WORD), and
    # lower-casing leaves them (and so their hashes) as they are
    is_cjk = flat.str.contains(rf"^[{CJK_CLASS}]$").to_numpy()
    ch, cdoc = h[is_cjk], doc[is_cjk]
    ccounts = np.bincount(cdoc, minlength=n_docs)
    bigrams = ngram_repetition(ch, np.ones(ch.size, dtype=np.int64), cdoc, n_docs, (2,))[0][0]  # count x 2 chars
    out["top_bigram_frac"] = frac(bigrams / 2.0, np.maximum(ccounts - 1, 0).astype(np.float64))
    return pl.DataFrame(out)
